"""The establishment step of a sign-in, for services that require one: settle it from the KvK
register at the return from the HM, or let the user pick one of the company's establishments.

POST only; the form carries the pending choice's unguessable id, which is used up with the code
it issues. While KvK is unavailable the sign-in waits here, and "try again" repeats this step.

Every answer must come from the browser the choice was offered to: the picker's form and the
"try again" form carry a CSRF token (Flask-WTF) that matches one kept in that browser's signed
session cookie (SameSite=Lax), set with the page that offers the choice. A cross-site POST, or
one with another's token, is refused and leaves the choice as it was (login CSRF: an attacker's
own waiting sign-in cannot be finished in a victim's browser).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, render_template, request
from flask_babel import force_locale
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.wrappers import Response as BaseResponse
from wtforms import ValidationError

from broker import limits, logs, models
from broker.decide import (
    Establishment,
    EstablishmentChoice,
    Refused,
    RegisteredEstablishment,
    RegisterLookup,
    picked,
)
from broker.extensions import db
from broker.handelsregister import settle_from_register
from broker.kvk import KvkError
from broker.oidc.claims import with_establishment
from broker.runtime import runtime
from broker.web.answer import (
    CANCELLED,
    Authorization,
    answered_by,
    answering_hm,
    authorization,
    deny,
    issue_code,
    refuse,
    subject_of_claims,
)
from broker.web.errors import CHOICE_STALE, CHOICE_UNCONFIRMED, KVK_UNAVAILABLE, error_page
from broker.web.i18n import locale_of

bp = Blueprint("establishment", __name__, url_prefix="/oidc")
# The forms that answer a pending choice (the picker, "try again") carry `csrf_token()`.
bp.add_app_template_global(generate_csrf, "csrf_token")
log = logging.getLogger("broker.oidc")
CSRF_FIELD = "csrf_token"

Page = BaseResponse | tuple[str, int]


def settle_at_return(authorized: Authorization, claims: dict[str, Any], lookup: RegisterLookup) -> Page:
    """At the return from the HM: settle the establishment, ask the user, or wait for KvK.

    The caller commits, with the SAML request and the authorization used up: from here on the
    sign-in lives on as a pending choice, when it needs one.
    """
    state = runtime()
    choice = models.WaitingChoice(
        id=secrets.token_urlsafe(32),
        client_id=authorized.client.get_client_id(),
        parameters=authorized.request.stored(),
        claims=claims,
        lookup=lookup,
        options=None,
        sign_in=logs.current_sign_in(),
        hm=answering_hm(),
    )
    try:
        settled = settle_from_register(state.register, lookup)
    except KvkError:
        models.add_choice(choice, state.upstream.clock(), state.provider.settings.choice_lifetime)
        return _kvk_unavailable(choice)
    if isinstance(settled, EstablishmentChoice):
        offered = replace(choice, options=settled.options)
        models.add_choice(offered, state.upstream.clock(), state.provider.settings.choice_lifetime)
        return _picker(offered)
    return _finish(authorized, claims, settled)


@bp.post("/establishment")
def answer() -> Page:
    """The picker's answer: an establishment picked, a cancel, or "try again" while KvK was away."""
    try:
        validate_csrf(request.form.get(CSRF_FIELD))
    except ValidationError as refused:
        # Checked before the choice is looked up: a forged answer leaves it for the genuine one.
        return _unconfirmed(str(refused))
    state = runtime()
    now = state.upstream.clock()
    choice = models.find_choice(request.form.get("choice", ""), now)
    if choice is None:
        return _stale("unknown, used or expired")
    logs.sign_in(choice.sign_in)
    if choice.hm is not None:
        answered_by(choice.hm)
    limits.check("picker", choice.client_id)
    try:
        authorized = authorization(choice.parameters)
    except OAuth2Error as error:
        return refuse(error)
    action = request.form.get("action")
    if action == "cancel":
        return _used_up(
            choice,
            lambda: deny(
                authorized, CANCELLED, "the user cancelled at the picker", subject_of_claims(choice.claims)
            ),
        )
    if choice.options is None:
        return _retry(authorized, choice)
    if action != "pick":
        return _picker(choice)
    establishment = picked(
        [option.number for option in choice.options], request.form.get("establishment", "")
    )
    if establishment is None:
        log.info("establishment choice client=%s: none of those offered was picked", choice.client_id)
        return _picker(choice, missing=True)
    log.info("establishment picked client=%s", choice.client_id)
    return _used_up(choice, lambda: issue_code(authorized, with_establishment(choice.claims, establishment)))


def _retry(authorized: Authorization, choice: models.WaitingChoice) -> Page:
    """Ask the register again for a sign-in that waited for it."""
    limits.check("retry", choice.client_id)
    try:
        settled = settle_from_register(runtime().register, choice.lookup)
    except KvkError:
        return _kvk_unavailable(choice)
    if isinstance(settled, EstablishmentChoice):
        models.offer(choice.id, settled.options)
        db.session.commit()
        return _picker(replace(choice, options=settled.options))
    return _used_up(choice, lambda: _finish(authorized, choice.claims, settled))


def _finish(authorized: Authorization, claims: dict[str, Any], settled: Establishment | Refused) -> Page:
    if isinstance(settled, Refused):
        client_id = authorized.client.get_client_id()
        log.info("establishment refused client=%s reason=%s", client_id, settled.reason.value)
        return deny(authorized, settled.reason.value, settled.detail, subject_of_claims(claims))
    return issue_code(authorized, with_establishment(claims, settled))


def _used_up(choice: models.WaitingChoice, respond: Callable[[], Page]) -> Page:
    """Use the pending choice up and answer the portal, in one transaction; once only."""
    if not models.take_choice(choice.id, runtime().upstream.clock()):
        db.session.rollback()
        return _stale("used concurrently")
    response = respond()
    db.session.commit()
    return response


def _picker(choice: models.WaitingChoice, missing: bool = False) -> tuple[str, int]:
    options: tuple[RegisteredEstablishment, ...] = choice.options or ()
    with force_locale(locale_of(choice.parameters)):
        page = render_template(
            "establishment.html",
            choice=choice,
            options=options,
            missing=missing,
            kvk_number=choice.lookup.kvk_number,
            company=_company_name(options),
        )
    return page, 400 if missing else 200


def _company_name(options: tuple[RegisteredEstablishment, ...]) -> str:
    """The name the company trades under: its main establishment's first trade name, else the
    first listed establishment's ("" when the register gives none)."""
    main = next((option for option in options if option.main), options[0] if options else None)
    return main.trade_name if main is not None else ""


def _kvk_unavailable(choice: models.WaitingChoice) -> tuple[str, int]:
    reference = secrets.token_hex(6)
    log.warning("establishment waits for kvk ref=%s client=%s", reference, choice.client_id)
    with force_locale(locale_of(choice.parameters)):
        return error_page(
            KVK_UNAVAILABLE,
            reference,
            "kvk_unavailable",
            retry=choice.id,
        )


def _unconfirmed(why: str) -> tuple[str, int]:
    reference = secrets.token_hex(6)
    log.warning("establishment answer refused ref=%s: %s", reference, why)
    return error_page(CHOICE_UNCONFIRMED, reference, "choice_unconfirmed")


def _stale(why: str) -> tuple[str, int]:
    reference = secrets.token_hex(6)
    log.info("establishment choice refused ref=%s: %s", reference, why)
    return error_page(CHOICE_STALE, reference, "choice_stale")
