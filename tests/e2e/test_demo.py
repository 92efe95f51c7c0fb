"""The README's promise over real HTTP: the demo portal signs in through the broker and the simulator.

The app is served by a real server in a thread; a `requests` session plays the browser, and
the demo portal calls the token, JWKS and userinfo endpoints over HTTP as any portal does.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from broker import create_app, models
from broker.decide import SponsorCategory
from broker.extensions import db
from config import load_settings
from tests.clients import SERVICES
from tests.conftest import broker_environ, migrated_broker
from tests.e2e.server import free_port, serving
from tests.web.browser import Form, parse_forms

DEMO_SECRET = "a-demo-secret-that-is-long-enough-0123456789"
# A recognised sponsor in the register the IND demo decides on.
SPONSOR = "12345678"
_NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    instance = tmp_path_factory.mktemp("demo")
    app = migrated_broker(
        instance,
        base,
        SERVICES
        + f"""
clients:
  - client_id: demo-portal
    service: establishment-required
    redirect_uris: [{base}/demo/callback]
    secret_env: BROKER_DEMO_SECRET
  - client_id: demo-portal-ind
    service: ind-sponsors
    redirect_uris: [{base}/demo/callback]
    secret_env: BROKER_DEMO_SECRET
""",
        BROKER_DEMO_SECRET=DEMO_SECRET,
    )
    with app.app_context():
        models.add_sponsor(
            models.Sponsor(
                SPONSOR, SponsorCategory.LABOUR, "Bakkerij", date(2020, 1, 1), None, _NOW, models.Origin.ADDED
            )
        )
        db.session.commit()
    with serving(app, port):
        yield base


def _form(html: str, portal: str = "olo") -> Form:
    return next(form for form in parse_forms(html) if form.fields.get("portal") == portal)


def _sign_in(base_url: str, portal: str, choices: str) -> requests.Response:
    """Press the demo's button for `portal`, answer at the simulator with `choices`: the page back."""
    with requests.Session() as browser:
        return _sign_in_with(browser, base_url, portal, choices)


def _sign_in_with(browser: requests.Session, base_url: str, portal: str, choices: str) -> requests.Response:
    start = _form(browser.get(f"{base_url}/demo/", timeout=10).text, portal)
    hand_off = browser.get(f"{base_url}{start.action}", params=start.fields, timeout=10)
    to_hm = parse_forms(hand_off.text)[0]
    return browser.post(
        f"{to_hm.action}?action=login&binding=artifact&{choices}", data=to_hm.fields, timeout=10
    )


def test_the_demo_portal_signs_in_and_shows_its_claims(base_url: str) -> None:
    with requests.Session() as browser:
        assert "Inloggen met eHerkenning" in browser.get(f"{base_url}/demo/", timeout=10).text
        assert "Sign in with eHerkenning" in browser.get(f"{base_url}/demo/?lang=en", timeout=10).text
        hand_off = browser.get(f"{base_url}/demo/login", timeout=10)
        assert hand_off.status_code == 200
        to_hm = parse_forms(hand_off.text)[0]
        answer = browser.post(
            f"{to_hm.action}?action=login&binding=artifact&kvk=24444001&mandate=own",
            data=to_hm.fields,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        page = answer.text
    assert 'id="claim-kvk_number">24444001<' in page
    # Structured claims are shown as the JSON the portal received.
    assert 'id="claim-mandate"><code>{"kind": "own_company"' in page
    assert "urn:etoegang:core:assurance-class:loa3" in page
    assert "RS256" in page


@pytest.mark.parametrize(
    ("lang", "words"),
    [("nl", "U heeft het inloggen afgebroken"), ("en", "You cancelled signing in")],
)
def test_the_demo_portal_calls_a_cancel_at_the_hm_a_cancel(base_url: str, lang: str, words: str) -> None:
    with requests.Session() as browser:
        to_hm = parse_forms(browser.get(f"{base_url}/demo/login?lang={lang}", timeout=10).text)[0]
        answer = browser.post(f"{to_hm.action}?action=cancel&binding=artifact", data=to_hm.fields, timeout=10)
    assert answer.status_code == 200
    assert f'<html lang="{lang}">' in answer.text
    assert f'<h2 id="outcome-title">{words}</h2>' in answer.text
    # The protocol's words only in the line for developers, not as the message; a cancel needs no reason.
    assert "<code>access_denied</code>" in answer.text
    assert "reason" not in answer.text and "reden" not in answer.text
    assert 'class="error"' not in answer.text


@pytest.mark.parametrize(
    ("lang", "words"),
    [("nl", "U heeft het inloggen afgebroken"), ("en", "You cancelled signing in")],
)
def test_the_demo_portal_calls_a_cancel_at_the_picker_a_cancel(base_url: str, lang: str, words: str) -> None:
    with requests.Session() as browser:
        start = _form(browser.get(f"{base_url}/demo/?lang={lang}", timeout=10).text)
        to_hm = parse_forms(browser.get(f"{base_url}{start.action}", params=start.fields, timeout=10).text)[0]
        picker = browser.post(
            f"{to_hm.action}?action=login&binding=artifact&kvk=12345678", data=to_hm.fields, timeout=10
        )
        (choice,) = parse_forms(picker.text)
        answer = browser.post(
            f"{base_url}{choice.action}", data={**choice.fields, "action": "cancel"}, timeout=10
        )
    assert f'<h2 id="outcome-title">{words}</h2>' in answer.text


def test_the_demo_portal_s_result_survives_a_refresh(base_url: str) -> None:
    with requests.Session() as browser:
        signed_in = _sign_in_with(browser, base_url, "olo", "kvk=24444001&mandate=own")
        assert signed_in.url == f"{base_url}/demo/result"
        again = browser.get(signed_in.url, timeout=10)
        other_language = browser.get(f"{signed_in.url}?lang=en", timeout=10)
    assert again.status_code == 200
    assert 'id="claim-kvk_number">24444001<' in again.text
    assert 'id="claim-sub">' in again.text and again.text == signed_in.text
    assert "Claims received" in other_language.text
    assert 'id="claim-kvk_number">24444001<' in other_language.text


def test_the_demo_result_page_without_a_sign_in_leads_to_the_demo(base_url: str) -> None:
    answer = requests.get(f"{base_url}/demo/result", allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/demo/"


@pytest.mark.parametrize("issuer", [None, "https://another-provider.test"], ids=["none", "another"])
def test_the_demo_portal_refuses_an_answer_that_names_no_or_another_issuer(
    base_url: str, issuer: str | None
) -> None:
    """As RFC 9207 asks of a client: the answer's `iss` must be the provider it asked."""
    with requests.Session() as browser:
        to_broker = browser.get(f"{base_url}/demo/login", allow_redirects=False, timeout=10)
        state = parse_qs(urlsplit(to_broker.headers["Location"]).query)["state"][0]
        answer = {"code": "a-code", "state": state} | ({"iss": issuer} if issuer else {})
        page = browser.get(f"{base_url}/demo/callback", params=answer, timeout=10)
    assert page.url == f"{base_url}/demo/result"
    assert "Het antwoord kwam niet van deze broker" in page.text
    assert "<code>issuer_mismatch</code>" in page.text


def test_a_newcomer_at_the_front_door_is_led_to_the_demo(base_url: str) -> None:
    answer = requests.get(f"{base_url}/", allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/demo/"


def test_the_demo_is_absent_without_its_secret(tmp_path: Path) -> None:
    app = create_app(load_settings(broker_environ(tmp_path)))
    assert app.test_client().get("/demo/").status_code == 404


def test_the_portal_s_language_goes_with_the_sign_in(base_url: str) -> None:
    with requests.Session() as browser:
        start = _form(browser.get(f"{base_url}/demo/?lang=en", timeout=10).text)
        assert start.fields == {"portal": "olo", "lang": "en"}
        hand_off = browser.get(f"{base_url}{start.action}", params=start.fields, timeout=10)
    assert "ui_locales=en" in hand_off.url
    assert '<html lang="en">' in hand_off.text


def test_the_demo_portal_signs_in_for_the_ind_too(base_url: str) -> None:
    page = _sign_in(base_url, "ind", "kvk=24444001&mandate=own&loa=loa3").text
    assert "demo-portal-ind" in page
    assert 'id="claim-acr">urn:etoegang:core:assurance-class:loa3<' in page
    assert 'id="claim-mandate"><code>{"kind": "own_company"' in page


def test_the_ind_demo_admits_a_representative_only_for_a_recognised_sponsor(base_url: str) -> None:
    sponsor = f"kvk={SPONSOR}&mandate=representative&intermediary=87654321&loa=loa3"
    admitted = _sign_in(base_url, "ind", sponsor).text
    assert '"kind": "recognised_sponsor"' in admitted
    assert '"intermediary_kvk_number": "87654321"' in admitted
    with requests.Session() as browser:
        choices = "kvk=24444001&mandate=representative&intermediary=87654321&loa=loa3"
        page = _sign_in_with(browser, base_url, "ind", choices)
        # The broker's refusal page first, in the person's language, then its button back to the demo.
        assert page.status_code == 403
        assert "<h1>Deze dienst is niet voor u beschikbaar</h1>" in page.text
        assert "erkend referent" in page.text
        back = re.search(r'id="back-to-portal" href="([^"]+)"', page.text)
        assert back
        refused = browser.get(html.unescape(back.group(1)), timeout=10)
    assert refused.status_code == 200
    assert '<h2 id="outcome-title">U kon niet inloggen</h2>' in refused.text
    assert "<code>access_denied</code>" in refused.text
    assert "recognised sponsor" in refused.text


def test_an_unknown_demo_portal_is_not_found(base_url: str) -> None:
    assert requests.get(f"{base_url}/demo/login?portal=dso", timeout=10).status_code == 404
