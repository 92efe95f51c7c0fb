"""The README's promise over real HTTP: the demo portal signs in through the broker and the simulator.

The app is served by a real server in a thread; a `requests` session plays the browser, and
the demo portal calls the token, JWKS and userinfo endpoints over HTTP as any portal does.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask_migrate import upgrade
from werkzeug.serving import make_server

from broker import create_app
from config import load_settings
from tests.clients import SERVICES
from tests.conftest import broker_environ
from tests.web.browser import Form, parse_forms

DEMO_SECRET = "a-demo-secret-that-is-long-enough-0123456789"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    instance = tmp_path_factory.mktemp("demo")
    config = instance / "broker.yaml"
    config.write_text(
        SERVICES
        + f"""
clients:
  - client_id: demo-portal
    service: omgevingsloket
    redirect_uris: [{base}/demo/callback]
    secret_env: BROKER_DEMO_SECRET
"""
    )
    environ = broker_environ(
        instance, BROKER_BASE_URL=base, BROKER_CONFIG=str(config), BROKER_DEMO_SECRET=DEMO_SECRET
    )
    app = create_app(load_settings(environ))
    with app.app_context():
        upgrade()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()
    thread.join()


def _form(html: str) -> Form:
    return parse_forms(html)[0]


def test_the_demo_portal_signs_in_and_shows_its_claims(base_url: str) -> None:
    with requests.Session() as browser:
        assert "Inloggen met eHerkenning" in browser.get(f"{base_url}/demo/", timeout=10).text
        assert "Sign in with eHerkenning" in browser.get(f"{base_url}/demo/?lang=en", timeout=10).text
        hand_off = browser.get(f"{base_url}/demo/login", timeout=10)
        assert hand_off.status_code == 200
        to_hm = _form(hand_off.text)
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


def test_the_demo_portal_shows_a_cancel(base_url: str) -> None:
    with requests.Session() as browser:
        to_hm = _form(browser.get(f"{base_url}/demo/login", timeout=10).text)
        answer = browser.post(f"{to_hm.action}?action=cancel&binding=artifact", data=to_hm.fields, timeout=10)
    assert answer.status_code == 400
    assert "access_denied" in answer.text


def test_the_demo_is_absent_without_its_secret(tmp_path: Path) -> None:
    app = create_app(load_settings(broker_environ(tmp_path)))
    assert app.test_client().get("/demo/").status_code == 404


def test_the_portal_s_language_goes_with_the_sign_in(base_url: str) -> None:
    with requests.Session() as browser:
        start = _form(browser.get(f"{base_url}/demo/?lang=en", timeout=10).text)
        assert start.fields == {"lang": "en"}
        hand_off = browser.get(f"{base_url}{start.action}", params=start.fields, timeout=10)
    assert "ui_locales=en" in hand_off.url
    assert '<html lang="en">' in hand_off.text
