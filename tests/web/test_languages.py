"""The development pages speak one language, chosen as on every translated page.

`?lang=nl|en`, else the browser's Accept-Language, else Dutch: the test login, the simulator's page
(where the hand-off form posts the AuthnRequest) and the identity the test login shows at the end.
"""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.web.browser import forms, local

IND = "ind-portaal-zakelijk"

# (query, Accept-Language, the language expected)
CHOICES = [
    ("", None, "nl"),
    ("lang=en", None, "en"),
    ("", "en-GB,en;q=0.9", "en"),
    ("lang=nl", "en", "nl"),
]

SIMULATOR = {
    "nl": (
        "eHerkenning-simulator",
        "KvK-nummer (8 cijfers)",
        "Eigen organisatie",
        ">Inloggen<",
        ">Annuleren<",
    ),
    "en": ("eHerkenning simulator", "KvK number (8 digits)", "Own company", ">Sign in<", ">Cancel<"),
}
IDENTITY = {
    "nl": ("<h1>Ingelogd</h1>", "<dt>Dienstafnemer</dt>", "<dt>Betrouwbaarheidsniveau</dt>", ">Opnieuw<"),
    "en": ("<h1>Signed in</h1>", "<dt>Legal subject</dt>", "<dt>Level of assurance</dt>", ">Again<"),
}
OTHER = {"nl": "en", "en": "nl"}


def browser(client: FlaskClient, accept_language: str | None) -> FlaskClient:
    """The test client, sending `accept_language` with every request as a browser would."""
    if accept_language is not None:
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = accept_language
    return client


def at_the_simulator(client: FlaskClient, query: str = "") -> TestResponse:
    """The simulator's page: the hand-off form posted to the SSO URL, with `query` added."""
    (hand_off,) = forms(client.get(f"/saml/test-login?service={IND}"))
    return client.post(f"{local(hand_off.action)}?{query}", data=hand_off.fields)


def assert_speaks(page: TestResponse, lang: str, texts: dict[str, tuple[str, ...]]) -> None:
    html = page.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert all(text in html for text in texts[lang])
    assert not any(text in html for text in texts[OTHER[lang]])


@pytest.mark.parametrize(("query", "accept_language", "lang"), CHOICES)
def test_the_simulator_speaks_the_users_language(
    client: FlaskClient, query: str, accept_language: str | None, lang: str
) -> None:
    page = at_the_simulator(browser(client, accept_language), query)
    assert page.status_code == 200
    assert_speaks(page, lang, SIMULATOR)


@pytest.mark.parametrize(("query", "accept_language", "lang"), CHOICES)
def test_the_identity_page_speaks_the_users_language(
    post_client: FlaskClient, query: str, accept_language: str | None, lang: str
) -> None:
    client = post_client
    answer = at_the_simulator(browser(client, accept_language), "action=login")
    (to_acs,) = forms(answer)
    page = client.post(f"{local(to_acs.action)}?{query}", data=to_acs.fields)
    assert page.status_code == 200, page.get_data(as_text=True)
    assert_speaks(page, lang, IDENTITY)
    # Signing in again starts in the same language.
    assert f'href="/saml/test-login?lang={lang}"' in page.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_test_login_keeps_its_language_for_the_hand_off(client: FlaskClient, lang: str) -> None:
    html = client.get(f"/saml/test-login?lang={lang}").get_data(as_text=True)
    link = re.search(rf'href="(/saml/test-login\?service={IND}[^"]*)"', html)
    assert link, "no link to sign in for the service"
    hand_off = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert f'<html lang="{lang}">' in hand_off


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_simulators_switch_shows_the_same_request_in_the_other_language(
    client: FlaskClient, lang: str
) -> None:
    page = at_the_simulator(client, f"lang={OTHER[lang]}")
    choices, switch = forms(page)
    assert local(switch.action) == f"/simulator/sso?lang={lang}"
    switched = client.post(local(switch.action), data=switch.fields)
    assert_speaks(switched, lang, SIMULATOR)
    switched_choices, _ = forms(switched)
    assert switched_choices.fields == choices.fields
    # The answer keeps the language: the page that sends the browser back speaks it.
    picked = {**switched_choices.fields, "action": "login", "binding": "post"}
    answer = client.post(local(switched_choices.action), data=picked)
    back = {"nl": "U wordt teruggestuurd naar de dienst.", "en": "You are being sent back to the service."}
    assert back[lang] in answer.get_data(as_text=True)


def test_the_switch_carries_a_redirect_binding_request(redirect_client: FlaskClient) -> None:
    location = redirect_client.get(f"/saml/test-login?service={IND}").headers["Location"]
    page = redirect_client.get(local(location))
    _, switch = forms(page)
    assert set(switch.fields) == {"query"}
    switched = redirect_client.post(local(switch.action), data=switch.fields)
    assert switched.status_code == 200
    assert_speaks(switched, "en", SIMULATOR)


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("nl", "KvK-nummer (8 cijfers): teken 3 is &#39;O&#39; (LATIN CAPITAL LETTER O), geen cijfer"),
        ("en", "KvK number (8 digits): character 3 is &#39;O&#39; (LATIN CAPITAL LETTER O), not a digit"),
    ],
)
def test_a_wrong_choice_is_named_by_its_label_in_the_page_s_language(
    client: FlaskClient, lang: str, message: str
) -> None:
    page = at_the_simulator(client, f"lang={lang}&action=login&kvk=12O45678")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert f'id="form-error">{message}</p>' in html
    assert re.search(
        r'<input [^>]*id="kvk"[^>]*aria-describedby="form-error kvk-companies-hint" aria-invalid="true"', html
    )
