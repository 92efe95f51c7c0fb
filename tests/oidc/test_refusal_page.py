"""The refusal page and the audit trail at the end of every sign-in: a refused person first reads,
in their language, what happened, what to do, the portal's name and the reference of the audit
record; its button takes them back to the portal, which then receives access_denied."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext

from broker import audit
from broker.decide.refusal import RefusalReason
from broker.upstream import FINAL_REASONS
from broker.web.refusal import WORDINGS
from saml.errors import Reason
from tests.oidc.portal import Portal, redirect_parameters

LOA2PLUS = "urn:etoegang:core:assurance-class:loa2plus"


def record(app: Flask, reference: str) -> dict:
    with app.app_context():
        found = audit.find(reference)
    assert found is not None, f"no audit record {reference}"
    return found


def latest(app: Flask) -> dict:
    """The audit trail's newest record."""
    today = datetime.now(UTC).date()
    with app.app_context():
        lines = list(audit.export(today - timedelta(days=1), today + timedelta(days=1)))
    return json.loads(lines[-1])


def page_reference(page_text: str) -> str:
    match = re.search(r"<code>([0-9a-f]{16})</code>", page_text)
    assert match, "no reference on the page"
    return match.group(1)


def test_a_level_too_low_shows_the_page_in_dutch_then_returns_to_the_portal(
    client: FlaskClient, app: Flask
) -> None:
    portal = Portal(client, "ind-portal")
    page = portal.sign_in(loa="loa2plus", kvk="24444001")
    assert page.status_code == 403
    text = html.unescape(page.get_data(as_text=True))
    assert "<h1>Deze dienst is niet voor u beschikbaar</h1>" in text
    assert "niveau EH3" in text
    assert "Wat kunt u doen" in text
    assert "Terug naar ind-portal" in text
    reference = page_reference(text)
    # The button delivers the refusal, with the stable code.
    params = redirect_parameters(page)
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("loa_too_low: ")
    assert params["state"] == portal.state
    # The reference finds the audit record; the HM's refusal knows no subject.
    found = record(app, reference)
    assert (found["kind"], found["outcome"], found["reason"]) == ("decision", "refused", "loa_too_low")
    assert (found["client_id"], found["service"]) == ("ind-portal", "ind-portaal-zakelijk")


@pytest.mark.parametrize(
    ("language", "heading", "back"),
    [
        ("en", "This service is not available to you", "Back to Own business"),
        ("nl", "Deze dienst is niet voor u beschikbaar", "Terug naar Eigen zaken"),
    ],
)
def test_the_page_speaks_the_portals_language_and_names_it_in_it(
    client: FlaskClient, language: str, heading: str, back: str
) -> None:
    """The portal's name as its entry gives it in that language (`name: {nl: …, en: …}`)."""
    portal = Portal(client, "own-only")
    page = portal.sign_in(
        extra={"ui_locales": language}, mandate="representative", intermediary="87654321", kvk="24444001"
    )
    text = html.unescape(page.get_data(as_text=True))
    assert f"<h1>{heading}</h1>" in text
    assert back in text
    assert redirect_parameters(page)["error_description"].startswith("mandate_not_admitted: ")


def test_a_refusal_by_the_decision_keeps_who_was_refused(client: FlaskClient, app: Flask) -> None:
    portal = Portal(client, "own-only")
    page = portal.sign_in(mandate="representative", intermediary="87654321", kvk="24444001")
    found = record(app, page_reference(page.get_data(as_text=True)))
    assert found["reason"] == "mandate_not_admitted"
    assert found["legal_subject"] == {"type": "kvk", "value": "24444001"}
    assert found["intermediary"] == {"type": "kvk", "value": "87654321"}
    assert found["acting_subject"]
    assert found["level"] == "urn:etoegang:core:assurance-class:loa3"


def test_a_cancel_goes_straight_back_and_is_recorded(client: FlaskClient, app: Flask) -> None:
    portal = Portal(client, "ind-portal")
    answer = portal.sign_in(action="cancel")
    assert answer.status_code == 302
    assert redirect_parameters(answer)["error_description"].startswith("cancelled: ")
    last = latest(app)
    assert (last["outcome"], last["reason"], last["client_id"]) == ("refused", "cancelled", "ind-portal")


def test_a_client_with_its_own_refusal_page_is_answered_at_once(client: FlaskClient) -> None:
    portal = Portal(client, "ind-own-page")
    answer = portal.sign_in(loa="loa2plus")
    assert answer.status_code == 302
    assert redirect_parameters(answer)["error_description"].startswith("loa_too_low: ")


def test_an_admission_is_recorded_with_who_for_whom_and_how(client: FlaskClient, app: Flask) -> None:
    portal = Portal(client, "ind-portal")
    params = redirect_parameters(
        portal.sign_in(
            kvk="12345678", mandate="representative", intermediary="87654321", establishment="000052460101"
        )
    )
    assert "code" in params
    last = latest(app)
    assert (last["outcome"], last["reason"]) == ("admitted", None)
    assert last["mandate"] == "representative"
    assert last["legal_subject"] == {"type": "kvk", "value": "12345678"}
    assert last["intermediary"] == {"type": "kvk", "value": "87654321"}
    assert last["establishment"] == {"number": "000052460101", "source": "mandate"}
    assert last["hm"]


def test_audit_verify_passes_after_real_sign_ins(client: FlaskClient, app: Flask) -> None:
    Portal(client, "ind-portal").sign_in()
    Portal(client, "ind-portal").sign_in(loa="loa2plus")
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


REFUSALS = sorted(
    {reason.value for reason in RefusalReason}
    | {reason.value for reason in FINAL_REASONS}
    | {
        Reason.AUTHN_FAILED.value,
        Reason.NO_AUTHN_CONTEXT.value,
        Reason.REQUEST_DENIED.value,
        Reason.STATUS_NOT_SUCCESS.value,
    }
)


@pytest.mark.parametrize("reason", REFUSALS)
def test_every_refusal_has_its_words_in_both_languages(app: Flask, reason: str) -> None:
    wording = WORDINGS[reason]
    values = {"portal": "IND", "level": "EH3"}
    with app.test_request_context(), force_locale("nl"):
        dutch = (gettext(wording.what, **values), gettext(wording.todo, **values))
    assert dutch[0] != wording.what % values
    assert dutch[1] != wording.todo % values
