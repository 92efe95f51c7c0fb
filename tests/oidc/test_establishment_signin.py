"""Whole sign-ins for services with an establishment policy: a restriction respected under both
policies, the establishment settled from the KvK register (the built-in stand-in, or `responses`
playing the real API), the picker, and KvK being away."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from broker import create_app, models
from broker.extensions import db
from broker.kvk import stand_in
from config import KvkSettings, Settings
from tests.conftest import MovableClock
from tests.kvk.test_client import VESTIGING, listing
from tests.oidc.portal import Portal, redirect_parameters
from tests.sent_sql import sent_sql, touches
from tests.web.browser import forms, local

REQUIRED = "olo-establishment"
SEVERAL, ONE, NONE = stand_in.SEVERAL, stand_in.ONE, stand_in.NONE
MAIN, SECOND, THIRD, STOPPED = "000052460101", "000052460102", "000052460103", "000052460104"
ONLY = "000061830201"


def claims_of(portal: Portal, answer: TestResponse) -> dict[str, Any]:
    params = redirect_parameters(answer)
    assert params["state"] == portal.state
    tokens = portal.token(params["code"])
    assert tokens.status_code == 200, tokens.get_json()
    claims = portal.verify(tokens.get_json()["id_token"])
    info = portal.userinfo(tokens.get_json()["access_token"]).get_json()
    assert info.get("establishment_number") == claims.get("establishment_number")
    return claims


def establishment_of(claims: dict[str, Any]) -> tuple[str, str]:
    return claims["establishment_number"], claims["establishment_source"]


def answer_picker(client: FlaskClient, page: TestResponse, action: str, **fields: str) -> TestResponse:
    """Answer the picker (or the "try again" page) as the browser would: its hidden fields (the
    pending choice and the CSRF token) with the button pressed and the option picked."""
    (form,) = forms(page)
    assert form.method == "POST"
    assert set(form.fields) == {"choice", "csrf_token"}
    return client.post("/oidc/establishment", data={**form.fields, "action": action, **fields})


@pytest.fixture
def kvk_calls(app: Flask) -> Iterator[None]:
    """No answers kept from earlier tests: every test sees what it asked the register itself."""
    with app.app_context():
        db.session.execute(models.KvkAnswer.__table__.delete())
        db.session.commit()
    yield


# --- no question for the user ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_id", "choices", "expected"),
    [
        ("olo-post", {"kvk": SEVERAL, "establishment": SECOND}, (SECOND, "mandate")),
        (REQUIRED, {"kvk": SEVERAL, "establishment": SECOND}, (SECOND, "mandate")),
        (REQUIRED, {"kvk": ONE}, (ONLY, "selected")),
        (REQUIRED, {"kvk": NONE}, ("0000" + NONE, "no_establishment")),
        (REQUIRED, {"kvk": ONE, "mandate": "representative"}, (ONLY, "selected")),
    ],
    ids=["restriction-policy-none", "restriction-policy-required", "one", "none", "representative-one"],
)
def test_the_establishment_settled_without_asking(
    client: FlaskClient, kvk_calls: None, client_id: str, choices: dict[str, str], expected: tuple[str, str]
) -> None:
    portal = Portal(
        client, client_id, "client_secret_post" if client_id == "olo-post" else "client_secret_basic"
    )
    assert establishment_of(claims_of(portal, portal.sign_in(**choices))) == expected


def test_without_the_policy_no_establishment_and_no_register(
    app: Flask, client: FlaskClient, kvk_calls: None
) -> None:
    portal = Portal(client, "olo-post", "client_secret_post")
    claims = claims_of(portal, portal.sign_in(kvk=SEVERAL))
    assert "establishment_number" not in claims
    assert "establishment_source" not in claims
    with app.app_context():
        assert db.session.execute(models.KvkAnswer.__table__.select()).first() is None, "KvK was asked"


def test_the_usual_path_touches_no_establishment_table(app: Flask, client: FlaskClient) -> None:
    """A service without the policy pays nothing for it: no statement on the new tables."""
    with sent_sql(app) as statements:
        portal = Portal(client, "olo-post", "client_secret_post")
        claims_of(portal, portal.sign_in(kvk=SEVERAL, establishment=SECOND))
    assert statements, "the trace saw nothing: the test would prove nothing"
    assert not [s for s in statements if touches(s, "pending_choice") or touches(s, "kvk_answer")]


@pytest.mark.parametrize(
    ("restriction", "description"),
    [
        (STOPPED, f"establishment_stopped: establishment {STOPPED} has stopped"),
        (ONLY, f"establishment_not_of_company: establishment {ONLY} is not one of KvK number {SEVERAL}"),
        (
            "000099999999",
            f"establishment_not_of_company: establishment 000099999999 is not one of KvK number {SEVERAL}",
        ),
    ],
    ids=["stopped", "another-companys", "unknown"],
)
def test_a_restriction_the_register_does_not_confirm_is_refused(
    client: FlaskClient, kvk_calls: None, restriction: str, description: str
) -> None:
    portal = Portal(client, REQUIRED)
    params = redirect_parameters(portal.sign_in(kvk=SEVERAL, establishment=restriction))
    assert params["error"] == "access_denied"
    assert params["error_description"] == description
    assert params["state"] == portal.state


def test_a_company_unknown_to_the_register_is_refused(client: FlaskClient, kvk_calls: None) -> None:
    params = redirect_parameters(Portal(client, REQUIRED).sign_in(kvk="87654320"))
    assert params["error"] == "access_denied"
    assert "no establishments for KvK number 87654320" in params["error_description"]


# --- the picker ------------------------------------------------------------------------------------


def picker(client: FlaskClient, **extra: str) -> tuple[Portal, TestResponse]:
    portal = Portal(client, REQUIRED)
    page = portal.sign_in(kvk=SEVERAL, extra=extra or None)
    assert page.status_code == 200, page.get_data(as_text=True)[-1500:]
    return portal, page


def test_several_establishments_the_user_picks_one(client: FlaskClient, kvk_calls: None) -> None:
    portal, page = picker(client)
    html = page.get_data(as_text=True)
    # The active ones, the main establishment first; never the stopped one.
    assert html.index(MAIN) < html.index(SECOND) < html.index(THIRD)
    assert STOPPED not in html
    assert "<fieldset" in html and "<legend>" in html
    assert html.count('type="radio"') == 3
    claims = claims_of(portal, answer_picker(client, page, "pick", establishment=THIRD))
    assert establishment_of(claims) == (THIRD, "selected")
    assert claims["kvk_number"] == SEVERAL


def test_the_person_s_attributes_travel_through_the_picker(client: FlaskClient, kvk_calls: None) -> None:
    portal = Portal(client, REQUIRED)
    page = portal.sign_in("openid kvk profile", kvk=SEVERAL, initials="A.B.")
    assert "A.B." not in page.get_data(as_text=True)
    claims = claims_of(portal, answer_picker(client, page, "pick", establishment=SECOND))
    assert (claims["initials"], establishment_of(claims)) == ("A.B.", (SECOND, "selected"))


@pytest.mark.parametrize(
    ("ui_locales", "texts"),
    [
        (
            "nl",
            ["Kies een vestiging", "hoofdvestiging", "niet wat u mag doen", f"Vestigingsnummer {MAIN}"],
        ),
        (
            "en",
            ["Choose an establishment", "main establishment", "not what you may do", "Establishment number"],
        ),
    ],
)
def test_the_picker_speaks_the_portals_language(
    client: FlaskClient, kvk_calls: None, ui_locales: str, texts: list[str]
) -> None:
    html = picker(client, ui_locales=ui_locales)[1].get_data(as_text=True)
    assert f'<html lang="{ui_locales}">' in html
    assert all(text in html for text in texts)


@pytest.mark.parametrize(
    "fields",
    [{}, {"establishment": ""}, {"establishment": ONLY}, {"establishment": "0000" + SEVERAL}],
    ids=["nothing", "empty", "another-companys", "no-establishment"],
)
def test_only_an_offered_establishment_can_be_picked(
    client: FlaskClient, kvk_calls: None, fields: dict[str, str]
) -> None:
    portal, page = picker(client, ui_locales="en")
    again = answer_picker(client, page, "pick", **fields)
    assert again.status_code == 400
    html = again.get_data(as_text=True)
    assert "There is a problem" in html
    assert 'role="alert"' in html
    assert f'href="#establishment-{MAIN}"' in html
    # The sign-in is not lost: a valid pick from the page shown again still finishes it.
    claims = claims_of(portal, answer_picker(client, again, "pick", establishment=MAIN))
    assert establishment_of(claims) == (MAIN, "selected")


def test_a_pending_choice_is_used_once(client: FlaskClient, kvk_calls: None) -> None:
    portal, page = picker(client)
    claims_of(portal, answer_picker(client, page, "pick", establishment=MAIN))
    replayed = answer_picker(client, page, "pick", establishment=SECOND)
    assert replayed.status_code == 400
    assert "expired or was already used" in replayed.get_data(as_text=True)
    assert "Location" not in replayed.headers


def test_a_pending_choice_expires(client: FlaskClient, clock: MovableClock, kvk_calls: None) -> None:
    _, page = picker(client)
    clock.advance(timedelta(minutes=15, seconds=1))
    expired = answer_picker(client, page, "pick", establishment=MAIN)
    assert expired.status_code == 400
    assert "Deze keuze is verlopen of al gebruikt" in expired.get_data(as_text=True)


@pytest.mark.parametrize("choice", ["", "made-up", "x" * 200])
def test_an_unknown_pending_choice_gets_a_page(client: FlaskClient, choice: str) -> None:
    _, page = picker(client)
    (form,) = forms(page)
    answer = client.post(
        "/oidc/establishment",
        data={**form.fields, "choice": choice, "action": "pick", "establishment": MAIN},
    )
    assert answer.status_code == 400
    assert "expired or was already used" in answer.get_data(as_text=True)


def test_the_picker_takes_no_get(client: FlaskClient) -> None:
    assert client.get("/oidc/establishment").status_code == 405


def test_cancel_returns_to_the_portal_with_access_denied(client: FlaskClient, kvk_calls: None) -> None:
    portal, page = picker(client)
    params = redirect_parameters(answer_picker(client, page, "cancel"))
    assert params["error"] == "access_denied"
    assert "cancelled" in params["error_description"]
    assert params["state"] == portal.state
    assert answer_picker(client, page, "pick", establishment=MAIN).status_code == 400


# --- KvK away --------------------------------------------------------------------------------------

API = "https://api.kvk.test"


@pytest.fixture
def real_api_app(settings: Settings, clock: MovableClock, app: Flask) -> Iterator[Flask]:
    """The broker asking a "real" KvK API (played by `responses`), on the tests' database."""
    other = create_app(dataclasses.replace(settings, kvk=KvkSettings(API, "the-key")), clock)
    with other.app_context():
        db.session.execute(models.KvkAnswer.__table__.delete())
        db.session.commit()
    yield other
    with other.app_context():
        db.engine.dispose()


def _vestigingen_url(kvk_number: str) -> str:
    return f"{API}/api/v1/basisprofielen/{kvk_number}/vestigingen"


DOWN = {"json": {"fout": [{"code": "IPD1002", "omschrijving": "tijdelijk niet beschikbaar"}]}, "status": 500}
TWO = listing(VESTIGING, VESTIGING | {"vestigingsnummer": SECOND, "indHoofdvestiging": "Nee"})


@responses.activate
def test_while_kvk_is_away_a_kept_answer_serves(real_api_app: Flask) -> None:
    client = real_api_app.test_client()
    responses.get(_vestigingen_url("12345678"), json=TWO)
    first, page = picker_at(client)
    claims_of(first, answer_picker(client, page, "pick", establishment=VESTIGING["vestigingsnummer"]))
    responses.replace(responses.GET, _vestigingen_url("12345678"), **DOWN)
    portal, page = picker_at(client)
    assert SECOND in page.get_data(as_text=True)
    assert establishment_of(claims_of(portal, answer_picker(client, page, "pick", establishment=SECOND))) == (
        SECOND,
        "selected",
    )
    assert responses.calls[-1].request.headers["apikey"] == "the-key"


def picker_at(client: FlaskClient) -> tuple[Portal, TestResponse]:
    portal = Portal(client, REQUIRED)
    page = portal.sign_in(kvk="12345678")
    assert page.status_code == 200, page.get_data(as_text=True)[-1500:]
    return portal, page


@responses.activate
def test_while_kvk_is_away_without_a_kept_answer_the_user_may_try_again(real_api_app: Flask) -> None:
    client = real_api_app.test_client()
    responses.get(_vestigingen_url("12345678"), **DOWN)
    portal = Portal(client, REQUIRED)
    waiting = portal.sign_in(kvk="12345678")
    assert waiting.status_code == 503
    html = waiting.get_data(as_text=True)
    assert "Het Handelsregister van de KvK is tijdelijk niet bereikbaar" in html
    assert "The KvK trade register is temporarily unavailable" in html
    still = answer_picker(client, waiting, "retry")
    assert still.status_code == 503
    # KvK is back: the same sign-in continues, without a second eHerkenning login.
    responses.replace(responses.GET, _vestigingen_url("12345678"), json=TWO)
    page = answer_picker(client, still, "retry")
    assert page.status_code == 200
    claims = claims_of(portal, answer_picker(client, page, "pick", establishment=SECOND))
    assert establishment_of(claims) == (SECOND, "selected")


@responses.activate
def test_while_kvk_is_away_the_user_may_cancel(real_api_app: Flask) -> None:
    client = real_api_app.test_client()
    responses.get(_vestigingen_url("12345678"), body=responses.ConnectionError("no route"))
    portal = Portal(client, REQUIRED)
    waiting = portal.sign_in(kvk="12345678")
    assert waiting.status_code == 503
    params = redirect_parameters(answer_picker(client, waiting, "cancel"))
    assert (params["error"], params["state"]) == ("access_denied", portal.state)


@responses.activate
def test_a_retry_that_settles_without_a_question_finishes_the_sign_in(real_api_app: Flask) -> None:
    client = real_api_app.test_client()
    responses.get(_vestigingen_url("12345678"), **DOWN)
    portal = Portal(client, REQUIRED)
    waiting = portal.sign_in(kvk="12345678")
    responses.replace(responses.GET, _vestigingen_url("12345678"), json=listing())
    claims = claims_of(portal, answer_picker(client, waiting, "retry"))
    assert establishment_of(claims) == ("0000" + "12345678", "no_establishment")
    assert answer_picker(client, waiting, "retry").status_code == 400, "used up"


def test_the_stand_in_away_shows_the_retry_page(client: FlaskClient, kvk_calls: None) -> None:
    waiting = Portal(client, REQUIRED).sign_in(kvk=stand_in.UNAVAILABLE)
    assert waiting.status_code == 503
    (form,) = forms(waiting)
    assert form.action.endswith("/oidc/establishment")


def test_the_simulator_offers_the_stand_ins_companies(client: FlaskClient) -> None:
    (form,) = forms(Portal(client, REQUIRED).authorize(ui_locales="en"))
    page = client.post(local(form.action), data=form.fields).get_data(as_text=True)
    assert 'list="kvk-companies"' in page
    for number in (SEVERAL, ONE, NONE, stand_in.UNAVAILABLE):
        assert f'<option value="{number}"' in page


@responses.activate
def test_a_restriction_waits_for_kvk_too(real_api_app: Flask) -> None:
    client = real_api_app.test_client()
    url = f"{API}/api/v1/vestigingsprofielen/{STOPPED}"
    responses.get(url, json={"fout": [{"code": "IPD1003"}]}, status=500)
    portal = Portal(client, REQUIRED)
    waiting = portal.sign_in(kvk=SEVERAL, establishment=STOPPED)
    assert waiting.status_code == 503
    stopped = {
        "vestigingsnummer": STOPPED,
        "kvkNummer": SEVERAL,
        "eersteHandelsnaam": "Bakkerij Van Dijk",
        "indHoofdvestiging": "Nee",
        "materieleRegistratie": {"datumAanvang": "20100101", "datumEinde": "20240630"},
    }
    responses.replace(responses.GET, url, json=stopped)
    params = redirect_parameters(answer_picker(client, waiting, "retry"))
    assert (params["error"], params["state"]) == ("access_denied", portal.state)
    assert params["error_description"] == f"establishment_stopped: establishment {STOPPED} has stopped"
