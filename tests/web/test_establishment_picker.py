"""The establishment picker as a browser meets it: its answer must come from the browser it was
offered to (login CSRF), it names the company, and it leaves the reader at the top of the page."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from broker import create_app
from broker.extensions import db
from broker.web.errors import CHOICE_UNCONFIRMED
from config import KvkSettings, Settings
from tests.conftest import MovableClock
from tests.kvk.test_client import VESTIGING, listing
from tests.oidc.portal import Portal, redirect_parameters
from tests.oidc.test_establishment_signin import (
    MAIN,
    REQUIRED,
    SECOND,
    SEVERAL,
    answer_picker,
    claims_of,
    establishment_of,
    picker,
)
from tests.web.browser import forms, local

PICK = {"establishment": SECOND}

# --- login CSRF ------------------------------------------------------------------------------------


def assert_unconfirmed(answer: TestResponse) -> None:
    """The bilingual refusal, and no answer to the portal."""
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    html = answer.get_data(as_text=True)
    assert CHOICE_UNCONFIRMED.title_nl in html
    assert CHOICE_UNCONFIRMED.title_en in html


def test_an_answer_from_a_browser_without_the_session_is_refused_and_the_choice_stays(
    app: Flask, client: FlaskClient
) -> None:
    """A cross-site POST: the form's fields, but not the SameSite=Lax session cookie."""
    portal, page = picker(client)
    (form,) = forms(page)
    elsewhere = app.test_client()
    assert_unconfirmed(elsewhere.post("/oidc/establishment", data={**form.fields, "action": "pick"} | PICK))
    assert_unconfirmed(elsewhere.post("/oidc/establishment", data={**form.fields, "action": "cancel"}))
    # Not used up: the genuine browser finishes the sign-in.
    claims = claims_of(portal, answer_picker(client, page, "pick", **PICK))
    assert establishment_of(claims) == (SECOND, "selected")


@pytest.mark.parametrize(
    "token",
    ["another browser's", "made-up", "missing"],
)
def test_an_answer_with_a_token_not_of_this_browser_is_refused_and_the_choice_stays(
    app: Flask, client: FlaskClient, token: str
) -> None:
    """Login CSRF: an attacker's own waiting sign-in, submitted from the victim's browser (which has a
    session of its own) with the attacker's token, or with none that fits."""
    attacker = app.test_client()
    attackers_portal, attackers_page = picker(attacker)
    (attackers_form,) = forms(attackers_page)
    picker(client)  # the victim's browser: a session and a token of its own
    fields = {**attackers_form.fields, "action": "pick"} | PICK
    if token == "made-up":
        fields["csrf_token"] = "IjAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OSI.made.up"
    elif token == "missing":
        del fields["csrf_token"]
    assert_unconfirmed(client.post("/oidc/establishment", data=fields))
    claims = claims_of(attackers_portal, answer_picker(attacker, attackers_page, "pick", **PICK))
    assert establishment_of(claims) == (SECOND, "selected")


def test_the_refusal_speaks_the_page_s_language_first(app: Flask, client: FlaskClient) -> None:
    _, page = picker(client, ui_locales="en")
    (form,) = forms(page)
    html = client.post("/oidc/establishment", data={"choice": form.fields["choice"]}).get_data(as_text=True)
    assert '<html lang="en">' in html
    assert f"<h1>{CHOICE_UNCONFIRMED.title_en}</h1>" in html
    assert f"<h2>{CHOICE_UNCONFIRMED.title_nl}</h2>" in html


def test_the_picker_works_when_the_hm_posts_back_cross_site(post_client: FlaskClient) -> None:
    """Under HTTP-POST from an HM on another site the browser sends no SameSite=Lax cookie to the
    ACS: the page that offers the choice sets the session cookie with its token."""
    portal = Portal(post_client, REQUIRED)
    at_hm = portal.at_hm(portal.authorize(), kvk=SEVERAL, binding="post")
    for name in ("session", "lang"):
        post_client.delete_cookie(name)
    page = portal.back_at_broker(at_hm)
    assert page.status_code == 200, page.get_data(as_text=True)[-1500:]
    (cookie,) = [value for value in page.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
    claims = claims_of(portal, answer_picker(post_client, page, "pick", **PICK))
    assert establishment_of(claims) == (SECOND, "selected")


def test_the_try_again_form_carries_the_token_too(client: FlaskClient) -> None:
    waiting = Portal(client, REQUIRED).sign_in(kvk="99999999")
    assert waiting.status_code == 503
    (form,) = forms(waiting)
    assert set(form.fields) == {"choice", "csrf_token"}
    assert_unconfirmed(
        client.post(local(form.action), data={"choice": form.fields["choice"], "action": "retry"})
    )
    assert answer_picker(client, waiting, "retry").status_code == 503


# --- what the page says, and where it leaves the reader ---------------------------------------------


@pytest.mark.parametrize(
    ("ui_locales", "sentence", "legend"),
    [
        (
            "nl",
            "U bent ingelogd namens Bakkerij Van Dijk (KvK-nummer 12345678).",
            "Vestigingen van Bakkerij Van Dijk",
        ),
        (
            "en",
            "You signed in for Bakkerij Van Dijk (KvK number 12345678).",
            "Establishments of Bakkerij Van Dijk",
        ),
    ],
)
def test_the_picker_names_the_company_by_its_trade_name(
    client: FlaskClient, ui_locales: str, sentence: str, legend: str
) -> None:
    html = picker(client, ui_locales=ui_locales)[1].get_data(as_text=True)
    assert sentence in html
    assert f"<legend>{legend}</legend>" in html


def test_the_picker_does_not_move_the_focus(client: FlaskClient) -> None:
    """A screen reader starts at the heading and the explanation, not at the first option."""
    _, page = picker(client)
    assert "autofocus" not in page.get_data(as_text=True)
    # After a mistake the focus goes to what is wrong (the error summary), and only there.
    again = answer_picker(client, page, "pick")
    html = again.get_data(as_text=True)
    assert html.count("autofocus") == 1
    assert re.search(r'<div class="error-summary"[^>]* autofocus>', html)


@pytest.mark.parametrize("destination", ["hm", "service"])
def test_the_hand_off_pages_have_a_main_heading(post_client: FlaskClient, destination: str) -> None:
    portal = Portal(post_client, REQUIRED)
    page = portal.authorize(ui_locales="en")
    if destination == "service":
        page = portal.at_hm(page, binding="post")
    heading = {"hm": "On to eHerkenning", "service": "Back to the service"}[destination]
    assert f"<h1>{heading}</h1>" in page.get_data(as_text=True)


API = "https://api.kvk.test"


@pytest.fixture
def real_api_app(settings: Settings, clock: MovableClock, app: Flask) -> Iterator[Flask]:
    """The broker asking a "real" KvK API (played by `responses`), on the tests' database."""
    other = create_app(dataclasses.replace(settings, kvk=KvkSettings(API, "the-key")), clock)
    yield other
    with other.app_context():
        db.engine.dispose()


@responses.activate
@pytest.mark.parametrize(
    ("establishments", "sentence"),
    [
        (
            [
                VESTIGING | {"indHoofdvestiging": "Nee"},
                VESTIGING
                | {"vestigingsnummer": MAIN, "indHoofdvestiging": "Nee", "eersteHandelsnaam": "Banket"},
            ],
            "You signed in for Bakkerij Van Dijk (KvK number 12345678).",
        ),
        (
            [
                VESTIGING | {"indHoofdvestiging": "Nee"},
                VESTIGING | {"vestigingsnummer": MAIN, "eersteHandelsnaam": "Van Dijk Banket"},
            ],
            "You signed in for Van Dijk Banket (KvK number 12345678).",
        ),
        (
            [
                VESTIGING | {"eersteHandelsnaam": ""},
                VESTIGING | {"vestigingsnummer": MAIN, "indHoofdvestiging": "Nee"},
            ],
            "You signed in for the organisation with KvK number 12345678.",
        ),
    ],
    ids=["no-main-the-first", "the-main-one", "no-trade-name"],
)
def test_the_company_is_named_after_its_main_establishment(
    real_api_app: Flask, establishments: list[dict[str, str]], sentence: str
) -> None:
    responses.get(f"{API}/api/v1/basisprofielen/12345678/vestigingen", json=listing(*establishments))
    client = real_api_app.test_client()
    page = Portal(client, REQUIRED).sign_in(kvk="12345678", extra={"ui_locales": "en"})
    assert page.status_code == 200, page.get_data(as_text=True)[-1500:]
    assert sentence in page.get_data(as_text=True)


def test_a_cancel_at_the_picker_says_cancelled(client: FlaskClient) -> None:
    """What the demo portal, like any portal, reads to tell a cancel from a refusal."""
    portal, page = picker(client)
    params = redirect_parameters(answer_picker(client, page, "cancel"))
    assert params["error"] == "access_denied"
    assert "cancel" in params["error_description"]
    assert params["state"] == portal.state
