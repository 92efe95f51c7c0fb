"""Every page a person meets in a sign-in, in Dutch and in English, passes the page checks
(tests/web/page_checks.py): the hand-off, the simulator (also with a field refused), the way back,
the picker (also with no choice made), "try again", a refusal, the error pages, the test login and
what it shows, and the front door."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.oidc.portal import Portal
from tests.oidc.test_establishment_signin import REQUIRED, SEVERAL, answer_picker
from tests.web.browser import forms, local
from tests.web.page_checks import check_page

LANGUAGES = ["nl", "en"]
OTHER = {"nl": "en", "en": "nl"}


def checked(page: TestResponse, lang: str, status: int = 200) -> str:
    html = page.get_data(as_text=True)
    assert page.status_code == status, html[-1500:]
    check_page(html, lang)
    return html


def browser(client: FlaskClient, lang: str) -> FlaskClient:
    """A browser whose Accept-Language asks for the other language: only the chosen one may show."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = OTHER[lang]
    return client


def simulator(client: FlaskClient, lang: str) -> TestResponse:
    hand_off = Portal(browser(client, lang), REQUIRED).authorize(ui_locales=lang)
    checked(hand_off, lang)
    (form,) = forms(hand_off)
    return client.post(local(form.action), data=form.fields)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_hand_off_and_the_simulator(client: FlaskClient, lang: str) -> None:
    checked(simulator(client, lang), lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_simulator_with_a_field_refused(client: FlaskClient, lang: str) -> None:
    page = simulator(client, lang)
    (form, _switch) = forms(page)
    refused = client.post(local(form.action), data={**form.fields, "action": "login", "kvk": "12"})
    html = checked(refused, lang, 400)
    # The refused field is described by the error and still by its hint, in one attribute.
    (kvk,) = re.findall(r'<input [^>]*id="kvk"[^>]*>', html)
    assert 'aria-describedby="form-error kvk-companies-hint" aria-invalid="true"' in kvk


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_way_back_from_the_simulator(post_client: FlaskClient, lang: str) -> None:
    (form, _switch) = forms(simulator(post_client, lang))
    back = post_client.post(local(form.action), data={**form.fields, "action": "login", "binding": "post"})
    checked(back, lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_picker_with_and_without_a_choice(client: FlaskClient, lang: str) -> None:
    page = Portal(browser(client, lang), REQUIRED).sign_in(kvk=SEVERAL, extra={"ui_locales": lang})
    checked(page, lang)
    checked(answer_picker(client, page, "pick"), lang, 400)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_try_again_while_kvk_is_away(client: FlaskClient, lang: str) -> None:
    page = Portal(browser(client, lang), REQUIRED).sign_in(kvk="99999999", extra={"ui_locales": lang})
    checked(page, lang, 503)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_refusal(client: FlaskClient, lang: str) -> None:
    page = Portal(browser(client, lang), REQUIRED).sign_in(mandate_for="other", extra={"ui_locales": lang})
    checked(page, lang, 403)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(
    ("path", "status"),
    [("/oidc/authorize?client_id=demo-portal&response_type=code", 400), ("/nowhere", 404)],
)
def test_the_error_pages(client: FlaskClient, lang: str, path: str, status: int) -> None:
    html = checked(browser(client, lang).get(f"{path}{'&' if '?' in path else '?'}lang={lang}"), lang, status)
    # Both languages on the page, each marked; the title (which cannot be marked) in the page's own.
    (title,) = re.findall(r"<title>(.*)</title>", html)
    assert f"<h1>{title}</h1>" in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_test_login_and_what_it_shows(post_client: FlaskClient, lang: str) -> None:
    html = checked(browser(post_client, lang).get(f"/saml/test-login?lang={lang}"), lang)
    # Levels by the names people know them by, as on every other page.
    assert "loa3" not in html and "EH3" in html
    (hand_off,) = forms(post_client.get(f"/saml/test-login?service=ind-named&lang={lang}"))
    at_hm = post_client.post(f"{local(hand_off.action)}?action=login", data=hand_off.fields)
    (to_acs,) = forms(at_hm)
    identity = checked(post_client.post(local(to_acs.action), data=to_acs.fields), lang)
    # What the HM said of the person is shown too (the service requests these).
    assert '<dd id="family-name">Jansen</dd>' in identity
    assert '<dd id="date-of-birth">1980-01-31</dd>' in identity


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_front_door(client: FlaskClient, lang: str) -> None:
    checked(browser(client, lang).get(f"/?lang={lang}"), lang)
