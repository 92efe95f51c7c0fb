"""OpenID Connect endpoints: discovery, keys, authorize, token, userinfo; and the return from the HM."""

from __future__ import annotations

import logging
import secrets

from authlib.integrations.flask_oauth2 import current_token
from authlib.oauth2 import OAuth2Error
from flask import Blueprint, jsonify
from werkzeug.wrappers import Response as BaseResponse

from broker import metrics, models
from broker.decide import (
    Decision,
    EstablishmentPolicy,
    LocalMandatePolicy,
    MandateKind,
    Refused,
    ServicePolicy,
    SponsorCategory,
    SponsorRegistration,
    decide,
    needs_sponsor_register,
)
from broker.extensions import db
from broker.models.statements import without_transaction
from broker.oidc.authorization import PARAMETER_CAPS, kept
from broker.oidc.claims import sign_in_claims
from broker.oidc.clients import OidcClient
from broker.oidc.discovery import metadata
from broker.oidc.introspection import Introspection, Revocation
from broker.oidc.pushed import PushedAuthorization
from broker.oidc.userinfo import userinfo_answer
from broker.runtime import BrokerRuntime, runtime
from broker.upstream import Answer, Refusal
from broker.web import establishment, registers
from broker.web.answer import answered_by, authorization, deny, issue_code, refuse, subject_of_identity
from broker.web.cors import cross_origin
from broker.web.errors import hm_refusal_description
from broker.web.hand_off import hand_off
from saml.errors import Reason, SamlError
from saml.identity import EherkenningIdentity
from saml.loa import LevelOfAssurance

bp = Blueprint("oidc", __name__)
bp.after_request(cross_origin)
log = logging.getLogger("broker.oidc")

AUTHORIZE = "authorize"


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def discovery() -> BaseResponse:
    return jsonify(metadata(runtime().provider))


@bp.get("/oidc/jwks")
def jwks() -> BaseResponse:
    answer = jsonify(runtime().provider.jwks())
    answer.headers["Cache-Control"] = "public, max-age=3600"
    return answer


@bp.route("/oidc/authorize", methods=["GET", "POST"])
@metrics.step("authorize")
def authorize() -> BaseResponse | tuple[str, int]:
    """Validate the request, keep it, and send the user to the HM; every sign-in is a fresh one."""
    state = runtime()
    try:
        grant = state.authorization.get_consent_grant(end_user=None)
    except OAuth2Error as error:
        if len(error.state or "") > PARAMETER_CAPS["state"]:
            error.state = None  # refused for its length: not echoed into a redirect either
        return refuse(error)
    client: OidcClient = grant.request.client
    # The one of the client's services the request chose: the HM is asked for it, at its level.
    service = grant.service
    now = state.upstream.clock()
    outgoing = state.upstream.start(service, AUTHORIZE)
    models.add_authorization(
        secrets.token_urlsafe(24),
        client.get_client_id(),
        kept(grant.request.payload.data, service.slug),
        outgoing.request_id,
        now,
        state.provider.settings.authorization_lifetime,
    )
    db.session.commit()
    metrics.started(client.get_client_id())
    return hand_off(outgoing)


@bp.post("/oidc/token")
@metrics.step("token")
def token() -> BaseResponse:
    return runtime().authorization.create_token_response()


@bp.post("/oidc/par")
def pushed_authorization() -> BaseResponse:
    return runtime().authorization.create_endpoint_response(PushedAuthorization.ENDPOINT_NAME)


@bp.post("/oidc/introspect")
def introspect() -> BaseResponse:
    return runtime().authorization.create_endpoint_response(Introspection.ENDPOINT_NAME)


@bp.post("/oidc/revoke")
def revoke() -> BaseResponse:
    return runtime().authorization.create_endpoint_response(Revocation.ENDPOINT_NAME)


@bp.route("/oidc/userinfo", methods=["GET", "POST"])
@metrics.step("userinfo")
def userinfo() -> BaseResponse:
    # Userinfo only reads: no transaction to begin and roll back.
    without_transaction()
    protector = runtime().protector

    @protector("openid")
    def claims() -> BaseResponse:
        token = current_token
        requested = (token.row.requested_claims or {}).get("userinfo", [])
        return userinfo_answer(
            runtime().provider, token.client, dict(token.row.claims), token.get_scope(), requested
        )

    return claims()


def complete(outcome: Answer | Refusal) -> BaseResponse | tuple[str, int]:
    """Back from the HM: decide, then hand the client a code or an error."""
    state = runtime()
    # Used up in the transaction that consumed the SAML request and stores the code, or the refusal.
    parameters = models.take_authorization(outcome.request_id, state.upstream.clock())
    if parameters is None:
        raise SamlError(Reason.REQUEST_UNKNOWN, "no pending authorization for this sign-in")
    answered_by(outcome.hm)
    response = _answer_client(state, parameters, outcome)
    db.session.commit()
    return response


def _answer_client(
    state: BrokerRuntime, parameters: dict[str, str], outcome: Answer | Refusal
) -> BaseResponse | tuple[str, int]:
    try:
        authorized = authorization(parameters)
    except OAuth2Error as error:
        return refuse(error)
    client, service = authorized.client, authorized.service
    if isinstance(outcome, Refusal):
        error = outcome.error
        log.info(
            "sign-in refused by the hm reason=%s client=%s service=%s detail=%s",
            error.reason.value,
            client.get_client_id(),
            service.slug,
            error.detail,
        )
        return deny(authorized, error.reason.value, hm_refusal_description(error))
    policy = ServicePolicy(
        service_uuid=service.uuid,
        service_id=state.settings.saml.service_id(service),
        minimum_level=LevelOfAssurance(service.minimum_loa),
        mandates=frozenset(MandateKind(kind) for kind in service.mandates),
        establishment=EstablishmentPolicy(service.establishment),
        sponsor_categories=frozenset(SponsorCategory(c) for c in service.sponsor_categories),
        local_mandate=LocalMandatePolicy(service.local_mandate),
    )
    identity = outcome.validated.identity
    local = registers.local_mandates(identity, policy, service.slug)
    decision = decide(identity, policy, _sponsor_register(identity, policy), local)
    log.info(
        "decision client=%s service=%s outcome=%s", client.get_client_id(), service.slug, _summary(decision)
    )
    if isinstance(decision, Refused):
        return deny(authorized, decision.reason.value, decision.detail, subject_of_identity(identity))
    requested = [attribute.name for attribute in service.catalogue.requested_attributes]
    for name in sorted(set(identity.person.unreadable) & set(requested)):
        # Named, never shown: the value is the person's.
        log.info("person attribute left out, unreadable attribute=%s service=%s", name, service.slug)
    claims = sign_in_claims(decision, client.get_client_id(), state.provider.settings.subject_salt, requested)
    claims = registers.with_register_claims(authorized, claims)
    if decision.lookup is not None:
        # The service requires an establishment the mandate does not fix (or the register must confirm).
        return establishment.settle_at_return(authorized, claims, decision.lookup)
    return issue_code(authorized, claims)


def _sponsor_register(
    identity: EherkenningIdentity, policy: ServicePolicy
) -> tuple[SponsorRegistration, ...] | None:
    """What the register of recognised sponsors holds for the represented company, read only where
    it can matter: the usual sign-in asks nothing of it."""
    if not needs_sponsor_register(identity, policy) or identity.kvk_number is None:
        return None
    return models.registrations(identity.kvk_number)


def _summary(decision: Decision) -> str:
    if isinstance(decision, Refused):
        return f"refused:{decision.reason.value}"
    return f"admitted:{decision.mandate.value}"
