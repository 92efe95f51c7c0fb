"""The language a portal asks for (`ui_locales`) or the user chooses (`?lang=`) holds for the whole
sign-in: the hand-off, the simulator's page, the way back, the picker and the refusals at the ACS,
even in a browser whose Accept-Language says the other."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from broker.web.errors import explanation_for
from saml.errors import Reason
from tests.oidc.portal import Portal
from tests.oidc.test_establishment_signin import REQUIRED, SEVERAL
from tests.web.browser import follow, forms, local

OTHER = {"nl": "en", "en": "nl"}
# A text of each page, in each language.
HAND_OFF = {"nl": "<h1>Door naar eHerkenning</h1>", "en": "<h1>On to eHerkenning</h1>"}
SIMULATOR = {"nl": "KvK-nummer (8 cijfers)", "en": "KvK number (8 digits)"}
BACK = {"nl": "<h1>Terug naar de dienst</h1>", "en": "<h1>Back to the service</h1>"}
PICKER = {"nl": "<h1>Kies een vestiging</h1>", "en": "<h1>Choose an establishment</h1>"}


def speaks(page: TestResponse, lang: str, texts: dict[str, str]) -> None:
    html = page.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html, html[:300]
    assert texts[lang] in html
    assert texts[OTHER[lang]] not in html


def browser(client: FlaskClient, lang: str) -> FlaskClient:
    """A browser whose Accept-Language asks for the other language than the one chosen."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = OTHER[lang]
    return client


def at_the_simulator(client: FlaskClient, lang: str) -> TestResponse:
    """Authorize with `ui_locales`: the hand-off, then the simulator's page it posts to."""
    hand_off = Portal(client, REQUIRED).authorize(ui_locales=lang)
    speaks(hand_off, lang, HAND_OFF)
    (form,) = forms(hand_off)
    simulator = client.post(local(form.action), data=form.fields)
    assert simulator.status_code == 200
    return simulator


def answer(client: FlaskClient, simulator: TestResponse, **choices: str) -> TestResponse:
    """Press *Sign in* on the simulator's page with `choices`."""
    (form, _switch) = forms(simulator)
    return client.post(local(form.action), data={**form.fields, "action": "login", **choices})


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_page_speaks_the_portal_s_language_over_artifact(client: FlaskClient, lang: str) -> None:
    simulator = at_the_simulator(browser(client, lang), lang)
    speaks(simulator, lang, SIMULATOR)
    picker = follow(client, answer(client, simulator, kvk=SEVERAL))
    speaks(picker, lang, PICKER)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_page_speaks_the_portal_s_language_over_post(post_client: FlaskClient, lang: str) -> None:
    client = browser(post_client, lang)
    simulator = at_the_simulator(client, lang)
    speaks(simulator, lang, SIMULATOR)
    back = answer(client, simulator, kvk=SEVERAL, binding="post")
    speaks(back, lang, BACK)
    (to_acs,) = forms(back)
    # The form posts to the ACS as it stands (no `lang` of the simulator's in it).
    picker = client.post(local(to_acs.action), data=to_acs.fields)
    speaks(picker, lang, PICKER)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_refusal_at_the_acs_speaks_it_first(client: FlaskClient, lang: str) -> None:
    """The HM answers over a binding the request did not ask for: the bilingual refusal at the ACS
    has the sign-in's language as its own, and first."""
    simulator = at_the_simulator(browser(client, lang), lang)
    back = answer(client, simulator, binding="post")
    (to_acs,) = forms(back)
    refused = client.post(local(to_acs.action), data=to_acs.fields)
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    explanation = explanation_for(Reason.BINDING_NOT_REQUESTED)
    titles = {"nl": explanation.title_nl, "en": explanation.title_en}
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{titles[lang]}</h1>" in html
    assert f"<h2>{titles[OTHER[lang]]}</h2>" in html


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_switch_at_the_simulator_holds_to_the_picker(client: FlaskClient, lang: str) -> None:
    """The portal asked for one language; the user switches to the other: that one holds."""
    simulator = at_the_simulator(browser(client, OTHER[lang]), OTHER[lang])
    _, switch = forms(simulator)
    switched = client.post(local(switch.action), data=switch.fields)
    speaks(switched, lang, SIMULATOR)
    # The answer form without its `lang`: the choice is remembered, not only carried along.
    (form, _) = forms(switched)
    answered = client.post(
        local(form.action).split("?")[0], data={**form.fields, "action": "login", "kvk": SEVERAL}
    )
    speaks(follow(client, answered), lang, PICKER)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_without_the_cookie_the_stored_ui_locales_speaks(post_client: FlaskClient, lang: str) -> None:
    """An HM on another site posts back without the browser's SameSite=Lax cookies: the picker
    speaks the language the portal asked for, kept with its authorization."""
    client = browser(post_client, lang)
    simulator = at_the_simulator(client, lang)
    (to_acs,) = forms(answer(client, simulator, kvk=SEVERAL, binding="post"))
    client.delete_cookie("lang")
    picker = client.post(local(to_acs.action), data=to_acs.fields)
    speaks(picker, lang, PICKER)


def test_the_language_is_remembered_in_a_cookie(client: FlaskClient) -> None:
    page = Portal(client, REQUIRED).authorize(ui_locales="fr en")
    (cookie,) = [value for value in page.headers.getlist("Set-Cookie") if value.startswith("lang=")]
    assert cookie.startswith("lang=en;")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=31536000" in cookie
    # Asked for again in the same language: nothing to set.
    assert not client.get("/saml/test-login?lang=en").headers.getlist("Set-Cookie")
    switched = client.get("/saml/test-login?lang=nl")
    assert switched.headers["Set-Cookie"].startswith("lang=nl;")
    assert '<html lang="nl">' in client.get("/saml/test-login").get_data(as_text=True)


def test_ui_locales_in_a_posted_authorization_request(app: Flask, client: FlaskClient) -> None:
    """OIDC Core §3.1.2.1 allows the request by POST: its `ui_locales` counts as in the query."""
    # The parameters a portal would send, taken from a request made by GET in another browser.
    location = Portal(app.test_client(), REQUIRED).authorize(ui_locales="en").request.url
    parameters = dict(parse_qsl(urlsplit(location).query)) | {"nonce": "another", "state": "another"}
    hand_off = browser(client, "en").post("/oidc/authorize", data=parameters)
    speaks(hand_off, "en", HAND_OFF)
    assert hand_off.headers["Set-Cookie"].startswith("lang=en;")


def test_a_posted_request_too_large_to_read_gets_its_page(client: FlaskClient) -> None:
    """The language is then taken from elsewhere: reading the form again must not fail."""
    answer = client.post("/oidc/authorize", data={"ui_locales": "en", "padding": "x" * 2_000_000})
    assert answer.status_code == 413
    assert "Set-Cookie" not in answer.headers
