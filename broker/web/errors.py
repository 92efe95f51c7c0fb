"""One table from reason code to what the user reads (nl and en), the HTTP status and the log.

Every refusal ends here: a page that says what happened and what to do next, with a
reference the helpdesk can find in the log. Never a stack trace, never personal data.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from flask import Flask, render_template
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from broker import logs, metrics, models
from broker.extensions import db
from broker.runtime import runtime
from saml.errors import Reason, SamlError, StatusError
from saml.hm_metadata import MetadataExpired

log = logging.getLogger("broker.web")


@dataclass(frozen=True)
class Explanation:
    status: int
    title_nl: str
    title_en: str
    advice_nl: str
    advice_en: str


_RETRY_NL = "Ga terug naar de dienst en log opnieuw in."
_RETRY_EN = "Go back to the service and sign in again."
_BROKEN = Explanation(
    400,
    "Het inlogbericht is niet geaccepteerd",
    "The sign-in message was not accepted",
    "Het antwoord van uw eHerkenningsmakelaar kon niet worden gecontroleerd. "
    + _RETRY_NL
    + " Blijft dit gebeuren, neem dan contact op met de helpdesk en noem de referentie.",
    "The answer from your eHerkenning broker could not be verified. "
    + _RETRY_EN
    + " If this keeps happening, contact the helpdesk and quote the reference.",
)
_STALE = Explanation(
    400,
    "Deze inlogpoging is verlopen of al gebruikt",
    "This sign-in attempt has expired or was already used",
    "Een inlogpoging is 15 minuten geldig en kan één keer worden gebruikt. " + _RETRY_NL,
    "A sign-in attempt is valid for 15 minutes and can be used once. " + _RETRY_EN,
)

EXPLANATIONS: dict[Reason, Explanation] = {
    Reason.CANCELLED: Explanation(
        400,
        "U heeft het inloggen afgebroken",
        "You cancelled signing in",
        "Er is niets veranderd. " + _RETRY_NL + " wanneer u wilt.",
        "Nothing has changed. " + _RETRY_EN + " whenever you want.",
    ),
    Reason.AUTHN_FAILED: Explanation(
        401,
        "Inloggen is niet gelukt",
        "Signing in failed",
        "Uw eHerkenningsmakelaar kon u niet aanmelden. " + _RETRY_NL,
        "Your eHerkenning broker could not sign you in. " + _RETRY_EN,
    ),
    Reason.REQUEST_DENIED: Explanation(
        403,
        "Deze dienst is niet voor u beschikbaar",
        "This service is not available to you",
        "U heeft geen machtiging voor deze dienst namens deze organisatie. Vraag de beheerder van uw "
        "organisatie om een machtiging voor deze dienst.",
        "You hold no authorisation for this service on behalf of this organisation. Ask your "
        "organisation's administrator for an authorisation for this service.",
    ),
    Reason.NO_AUTHN_CONTEXT: Explanation(
        403,
        "Uw inlogmiddel is niet zwaar genoeg",
        "Your login means is not strong enough",
        "Deze dienst vraagt een hoger betrouwbaarheidsniveau dan uw eHerkenningsmiddel biedt.",
        "This service needs a higher level of assurance than your eHerkenning means offers.",
    ),
    Reason.LOA_TOO_LOW: Explanation(
        403,
        "Uw inlogmiddel is niet zwaar genoeg",
        "Your login means is not strong enough",
        "Deze dienst vraagt minstens betrouwbaarheidsniveau {level}. Log in met een eHerkenningsmiddel "
        "van dat niveau of hoger.",
        "This service needs at least level of assurance {level}. Sign in with an eHerkenning means of "
        "that level or higher.",
    ),
    Reason.AUTHN_NOT_FRESH: Explanation(
        403,
        "U bent niet opnieuw ingelogd",
        "You were not signed in anew",
        "Deze dienst vraagt om een nieuwe inlog, maar uw eHerkenningsmakelaar gebruikte een eerdere. "
        + _RETRY_NL,
        "This service asks for a new sign-in, but your eHerkenning broker used an earlier one. " + _RETRY_EN,
    ),
    Reason.SERVICE_MISMATCH: Explanation(
        403,
        "Deze inlog hoort bij een andere dienst",
        "This sign-in belongs to another service",
        "Uw eHerkenningsmakelaar gaf toegang tot een andere dienst dan gevraagd. " + _RETRY_NL,
        "Your eHerkenning broker granted access to another service than the one asked for. " + _RETRY_EN,
    ),
    Reason.MESSAGE_TOO_LARGE: Explanation(
        413,
        "Het inlogbericht is te groot",
        "The sign-in message is too large",
        "Het bericht is groter dan wij aannemen. " + _RETRY_NL,
        "The message is larger than we accept. " + _RETRY_EN,
    ),
    Reason.ARTIFACT_RESOLUTION_FAILED: Explanation(
        502,
        "Uw eHerkenningsmakelaar is nu niet bereikbaar",
        "Your eHerkenning broker cannot be reached now",
        "Wij konden het inlogresultaat niet ophalen. Probeer het over enkele minuten opnieuw.",
        "We could not fetch the sign-in result. Please try again in a few minutes.",
    ),
    Reason.REQUEST_USED: _STALE,
    Reason.REQUEST_EXPIRED: _STALE,
    Reason.REQUEST_UNKNOWN: _STALE,
    Reason.RELAY_STATE_INVALID: _STALE,
    Reason.ASSERTION_REPLAYED: _STALE,
}

_NOT_FOUND = Explanation(
    404,
    "Pagina niet gevonden",
    "Page not found",
    "Controleer het adres, of ga terug naar de dienst waar u vandaan kwam.",
    "Check the address, or go back to the service you came from.",
)
_METHOD = Explanation(
    405,
    "Deze handeling kan hier niet",
    "This action is not possible here",
    "Ga terug naar de dienst waar u vandaan kwam.",
    "Go back to the service you came from.",
)
_BAD_REQUEST = Explanation(
    400,
    "Het verzoek is niet geldig",
    "The request is not valid",
    "Ga terug naar de dienst waar u vandaan kwam en probeer het opnieuw.",
    "Go back to the service you came from and try again.",
)
_INTERNAL = Explanation(
    500,
    "Er ging iets mis aan onze kant",
    "Something went wrong on our side",
    "Probeer het later opnieuw. Blijft dit gebeuren, neem dan contact op met de helpdesk "
    "en noem de referentie.",
    "Please try again later. If this keeps happening, contact the helpdesk and quote the reference.",
)


_CLIENT_REQUEST = Explanation(
    400,
    "De aanvraag van de dienst is niet geldig",
    "The service's request is not valid",
    "De dienst waar u vandaan kwam stuurde een aanvraag die wij niet kunnen uitvoeren. "
    "Ga terug naar die dienst en probeer het opnieuw; blijft dit gebeuren, neem dan contact op "
    "met die dienst en noem de referentie.",
    "The service you came from sent a request we cannot carry out. Go back to that service and "
    "try again; if this keeps happening, contact that service and quote the reference.",
)


# The establishment step (broker.web.establishment).
KVK_UNAVAILABLE = Explanation(
    503,
    "Het Handelsregister van de KvK is tijdelijk niet bereikbaar",
    "The KvK trade register is temporarily unavailable",
    "Wij hebben de vestigingen van uw organisatie nodig om verder te gaan. U bent wel ingelogd: "
    "probeer het over enkele minuten opnieuw met de knop hieronder, zonder opnieuw in te loggen.",
    "We need your organisation's establishments to continue. You are signed in: try again in a few "
    "minutes with the button below, without signing in again.",
)
CHOICE_STALE = Explanation(
    400,
    "Deze keuze is verlopen of al gebruikt",
    "This choice has expired or was already used",
    "Een vestiging kiest u binnen 15 minuten na het inloggen, en één keer. " + _RETRY_NL,
    "An establishment is chosen within 15 minutes of signing in, and once. " + _RETRY_EN,
)
CHOICE_UNCONFIRMED = Explanation(
    400,
    "Deze keuze komt niet uit uw inlogvenster",
    "This choice did not come from your sign-in window",
    "Een vestiging kiest u op de pagina die u na het inloggen kreeg, in dezelfde browser (die moet "
    "cookies toestaan). Ga terug naar die pagina en kies opnieuw; is die er niet meer, ga dan terug "
    "naar de dienst en log opnieuw in.",
    "An establishment is chosen on the page you were shown after signing in, in the same browser "
    "(which must allow cookies). Go back to that page and choose again; if it is gone, go back to "
    "the service and sign in again.",
)


# A rate limit (broker.limits): `seconds` until the next request is taken.
TOO_MANY_REQUESTS = Explanation(
    429,
    "Te veel verzoeken",
    "Too many requests",
    "Er kwamen in korte tijd te veel verzoeken van uw netwerk of voor deze dienst. Wacht {seconds} "
    "seconden en probeer het dan opnieuw.",
    "Too many requests came from your network or for this service in a short time. Wait {seconds} "
    "seconds, then try again.",
)


# The HM's metadata in use has expired and no fresh copy could be had (broker.hm_metadata).
HM_METADATA_EXPIRED = Explanation(
    503,
    "Inloggen met eHerkenning kan nu even niet",
    "Signing in with eHerkenning is not possible just now",
    "Wij kunnen de gegevens van uw eHerkenningsmakelaar op dit moment niet bevestigen, en zonder die "
    "kunnen wij een inlog niet vertrouwen. Er is niets met uw gegevens gebeurd. Probeer het later "
    "opnieuw; blijft dit gebeuren, neem dan contact op met de helpdesk en noem de referentie.",
    "We cannot confirm the details of your eHerkenning broker just now, and without them we cannot "
    "trust a sign-in. Nothing has happened to your data. Please try again later; if this keeps "
    "happening, contact the helpdesk and quote the reference.",
)


def oauth_error_page(error: str, reference: str) -> tuple[str, int]:
    """An OAuth error that cannot go back to the client: its redirect URI is not trusted."""
    return error_page(_CLIENT_REQUEST, reference, error)


def explanation_for(reason: Reason) -> Explanation:
    return EXPLANATIONS.get(reason, _BROKEN)


def hm_refusal_description(error: SamlError) -> str:
    """What a portal is told (after the reason code) when the HM's answer ends a sign-in: what
    the reason means, and the levels where the level was too low."""
    description = explanation_for(error.reason).title_en
    if "achieved" in error.shown and "needed" in error.shown:
        description += f"; achieved {error.shown['achieved']}, needed {error.shown['needed']}"
    return description


def refusal_page(error: SamlError, **values: str) -> tuple[str, int]:
    """Log a refused SAML message, keep what its check compared (`flask eherkenning explain`), and
    render the page for it."""
    reference = secrets.token_hex(6)
    metrics.saml_refused(error.reason.value)
    if isinstance(error, StatusError):
        log.info("saml refused reason=%s ref=%s status=%s", error.reason, reference, error.detail)
    else:
        log.warning("saml refused reason=%s ref=%s detail=%s", error.reason, reference, error.detail)
    _keep(error, reference)
    return error_page(explanation_for(error.reason), reference, error.reason.value, **error.shown, **values)


def _keep(error: SamlError, reference: str) -> None:
    """The failed check under the page's reference; a database that cannot take it is logged."""
    # Whatever the refused request had written is not to be kept: it failed.
    db.session.rollback()
    try:
        models.record_check_failure(
            models.RecordedFailure(
                reference,
                logs.current_sign_in(),
                runtime().upstream.clock(),
                error.reason.value,
                error.detail,
                error.facts,
            )
        )
        db.session.commit()
    except SQLAlchemyError as failure:
        db.session.rollback()
        log.warning("saml refusal ref=%s not kept: %s", reference, type(failure).__name__)


def error_page(
    explanation: Explanation, reference: str, code: str, retry: str | None = None, **values: str
) -> tuple[str, int]:
    """The bilingual page; with `retry` (a pending choice's id), buttons to try its step again or cancel."""
    return (
        render_template(
            "error.html",
            title_nl=explanation.title_nl,
            title_en=explanation.title_en,
            advice_nl=explanation.advice_nl.format(**values),
            advice_en=explanation.advice_en.format(**values),
            reference=reference,
            code=code,
            retry=retry,
        ),
        explanation.status,
    )


def init_app(app: Flask) -> None:
    """Every HTTP error and every unexpected exception becomes a bilingual page."""

    @app.errorhandler(SamlError)
    def saml_error(error: SamlError) -> tuple[str, int]:
        return refusal_page(error)

    @app.errorhandler(MetadataExpired)
    def metadata_expired(error: MetadataExpired) -> tuple[str, int]:
        reference = secrets.token_hex(6)
        log.error(
            "sign-in refused: the HM's metadata expired at %s ref=%s",
            error.valid_until.isoformat(),
            reference,
        )
        return error_page(HM_METADATA_EXPIRED, reference, "hm_metadata_expired")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | tuple[str, int]:
        if error.response is not None:
            # A protocol answer already made (a 401 with WWW-Authenticate for a bad bearer token).
            return error.response
        reference = secrets.token_hex(6)
        if error.code == 413:
            return refusal_page(SamlError(Reason.MESSAGE_TOO_LARGE, "request body over the limit"))
        explanation = {404: _NOT_FOUND, 405: _METHOD}.get(error.code or 400, _BAD_REQUEST)
        log.info("http error status=%s ref=%s", error.code, reference)
        page, _ = error_page(explanation, reference, f"http_{error.code}")
        return page, error.code or 400

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        reference = secrets.token_hex(6)
        log.exception("unexpected error ref=%s", reference)
        return error_page(_INTERNAL, reference, "internal_error")
