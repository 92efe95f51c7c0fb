"""The page a person sees when the broker refuses their sign-in: in their language, what happened
in plain words, what they can do about it, the portal's name, the reference that finds the audit
record, and a button back to the portal (which then receives `access_denied`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import render_template
from flask_babel import force_locale, gettext

from broker.web.i18n import locale_of
from saml.loa import LevelOfAssurance
from saml.problem import N_

if TYPE_CHECKING:
    from broker.web.answer import Authorization

# HTTP 403: the answer to the person is no; the portal hears it when they press the button.
STATUS = 403


@dataclass(frozen=True)
class Wording:
    # Message ids (English, %-placeholders `portal` and `level`), translated as the page is made.
    what: str  # what happened, in plain words
    todo: str  # what the person can do about it


_ADMINISTRATOR = N_("Ask your organisation's eHerkenning administrator to authorise you for this service.")
_TRY_AGAIN = N_(
    "Go back to %(portal)s and sign in again. If this keeps happening, contact the helpdesk of "
    "%(portal)s and quote the reference below."
)
_LEVEL = Wording(
    N_("This service needs eHerkenning level %(level)s or higher. You signed in with a lower level."),
    N_(
        "Ask your organisation's eHerkenning administrator for an eHerkenning means of level %(level)s "
        "or higher, then sign in with it."
    ),
)
_OTHER_SERVICE = Wording(
    N_("Your authorisation in eHerkenning is for another service than this one."),
    _ADMINISTRATOR,
)
_INCOMPLETE = Wording(
    N_("The answer from your eHerkenning broker was incomplete, so we could not sign you in."),
    _TRY_AGAIN,
)
_NOT_COMPLETED = Wording(
    N_("Your eHerkenning broker did not complete the sign-in."),
    _TRY_AGAIN,
)

WORDINGS: dict[str, Wording] = {
    "loa_too_low": _LEVEL,
    "level_too_low": _LEVEL,
    "no_authn_context": _LEVEL,
    "request_denied": Wording(
        N_("You have no authorisation in eHerkenning for this service on behalf of this organisation."),
        _ADMINISTRATOR,
    ),
    "authn_failed": _NOT_COMPLETED,
    "status_not_success": _NOT_COMPLETED,
    "authn_not_fresh": Wording(
        N_("This service asks for a new sign-in, but your eHerkenning broker used an earlier one."),
        _TRY_AGAIN,
    ),
    "service_mismatch": _OTHER_SERVICE,
    "service_missing": _INCOMPLETE,
    "other_service": _OTHER_SERVICE,
    "loa_unknown": _INCOMPLETE,
    "attribute_invalid": _INCOMPLETE,
    "legal_subject_missing": _INCOMPLETE,
    "acting_subject_missing": _INCOMPLETE,
    "mandate_not_admitted": Wording(
        N_("This service does not accept the kind of authorisation you signed in with."),
        N_(
            "Sign in for your own organisation, or ask the organisation you act for whether it can use "
            "this service itself."
        ),
    ),
    "not_a_recognised_sponsor": Wording(
        N_(
            "This service admits someone acting for another company only when that company is a "
            "recognised sponsor (erkend referent). The company you act for is not in the register of "
            "recognised sponsors for this service."
        ),
        N_(
            "If your client is a recognised sponsor, ask it to check its recognition with the IND. "
            "Otherwise your client signs in itself, with its own eHerkenning."
        ),
    ),
    "no_kvk_number": Wording(
        N_("This service needs your organisation's KvK number, and you signed in without one."),
        N_("Sign in with an eHerkenning means registered on your organisation's KvK number."),
    ),
    "company_not_in_register": Wording(
        N_("The KvK trade register has no establishments for the organisation you signed in for."),
        N_("Check the organisation's registration with the KvK, or contact %(portal)s."),
    ),
    "establishment_not_of_company": Wording(
        N_(
            "The establishment your authorisation names does not belong to the organisation you "
            "signed in for."
        ),
        _ADMINISTRATOR,
    ),
    "establishment_stopped": Wording(
        N_("The establishment your authorisation names has stopped, according to the KvK trade register."),
        N_(
            "Ask your organisation's eHerkenning administrator for an authorisation for a current "
            "establishment."
        ),
    ),
    "no_local_mandate": Wording(
        N_(
            "This service admits someone acting for another company only when its administrators "
            "have recorded that authorisation themselves. They have no current record of your "
            "organisation acting for this company."
        ),
        N_(
            "Ask %(portal)s to record your authorisation for this company. Otherwise the company "
            "signs in itself, with its own eHerkenning."
        ),
    ),
    "local_mandate_conflict": Wording(
        N_(
            "Your authorisation in eHerkenning is for another establishment than the one the "
            "administrators of %(portal)s recorded for you."
        ),
        N_(
            "Ask %(portal)s and the eHerkenning administrator of the company you act for to agree on "
            "the establishment, then sign in again."
        ),
    ),
}


def page(authorized: Authorization, reason: str, reference: str, back: str) -> tuple[str, int]:
    """The refusal page for `reason`, in the sign-in's language; `back` is the answer to the portal."""
    client = authorized.client
    wording = WORDINGS.get(reason, _INCOMPLETE)
    language = locale_of(authorized.request.payload.data)
    portal = client.config.name_in(language)
    values = {"portal": portal, "level": LevelOfAssurance(authorized.service.minimum_loa).label}
    with force_locale(language):
        body = render_template(
            "refused.html",
            what=gettext(wording.what, **values),
            todo=gettext(wording.todo, **values),
            portal=portal,
            reference=reference,
            code=reason,
            back=back,
        )
    return body, STATUS
