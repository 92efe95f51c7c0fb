"""The registers beside eHerkenning over real HTTP: a server on a loopback port, a `requests`
session as the browser and as the portal (authorize, the simulator, the ACS, token, userinfo,
the ID token checked against the published keys).

A required local mandate missing, then present; two KvK numbers of one group; a personal-account
portal refusing a representative and releasing the person's label.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet

from broker import models
from tests.clients import SECRET, SERVICES
from tests.conftest import migrated_broker
from tests.e2e.server import free_port, serving
from tests.registers import REGISTER_SERVICES
from tests.web.browser import parse_forms

REPRESENTED, REPRESENTATIVE = "12345678", "87654321"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Flask]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    instance = tmp_path_factory.mktemp("registers-e2e")
    clients = "".join(
        f"""
  - client_id: {client_id}
    service: {service}
    redirect_uris: [{base}/callback]
    secret: {SECRET}"""
        for client_id, service in (
            ("e2e-local", "local-required"),
            ("e2e-groups", "omgevingsloket"),
            ("e2e-viewer", "hr-viewer"),
        )
    )
    # The real clock: the tokens' times are checked as a portal would.
    app = migrated_broker(instance, base, SERVICES + REGISTER_SERVICES + "\nclients:" + clients + "\n")
    with serving(app, port):
        yield base, app


class HttpPortal:
    """A portal over HTTP: authorize in the browser, then token and userinfo from its own back end."""

    def __init__(self, base: str, client_id: str) -> None:
        self.base, self.client_id = base, client_id
        self.redirect_uri = f"{base}/callback"
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(8)

    def sign_in(self, scope: str, **choices: str) -> requests.Response:
        """The browser from the portal to the HM (the simulator) and back to the broker: its last
        answer, a redirect to the portal or a page."""
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=")
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": "s",
            "nonce": self.nonce,
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        }
        with requests.Session() as browser:
            hand_off = browser.get(f"{self.base}/oidc/authorize?{urlencode(params)}", timeout=10)
            assert hand_off.status_code == 200, hand_off.text
            to_hm = parse_forms(hand_off.text)[0]
            answer = browser.post(
                f"{to_hm.action}?{urlencode({'action': 'login', 'binding': 'artifact', **choices})}",
                data=to_hm.fields,
                timeout=10,
                allow_redirects=False,
            )
            # Through the ACS; never on to the portal itself.
            while (
                answer.is_redirect
                and answer.headers["Location"].startswith(f"{self.base}/")
                and not (answer.headers["Location"].startswith(self.redirect_uri))
            ):
                answer = browser.get(answer.headers["Location"], timeout=10, allow_redirects=False)
            return answer

    def back_at_portal(self, answer: requests.Response) -> dict[str, str]:
        """The parameters the portal receives: from the redirect, or the refusal page's button."""
        if answer.status_code == 403:
            back = re.search(r'id="back-to-portal" href="([^"]+)"', answer.text)
            assert back, answer.text
            location = html.unescape(back.group(1))
        else:
            assert answer.status_code in (302, 303), answer.text
            location = answer.headers["Location"]
        assert location.startswith(self.redirect_uri)
        return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}

    def claims(self, answer: requests.Response) -> dict[str, Any]:
        """Redeem the code; the ID token's claims, checked against userinfo."""
        params = self.back_at_portal(answer)
        assert "code" in params, params
        tokens = requests.post(
            f"{self.base}/oidc/token",
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": self.redirect_uri,
                "code_verifier": self.verifier,
            },
            auth=(self.client_id, SECRET),
            timeout=10,
        )
        assert tokens.status_code == 200, tokens.text
        keys = KeySet.import_key_set(requests.get(f"{self.base}/oidc/jwks", timeout=10).json())
        claims = jwt.decode(tokens.json()["id_token"], keys).claims
        assert claims["nonce"] == self.nonce
        info = requests.get(
            f"{self.base}/oidc/userinfo",
            headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
            timeout=10,
        ).json()
        assert info == {name: claims[name] for name in info}
        return dict(claims)


def cli(app: Flask, *args: str) -> None:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output


def test_a_required_local_mandate_missing_refuses_present_admits(server: tuple[str, Flask]) -> None:
    base, app = server
    portal = HttpPortal(base, "e2e-local")
    as_representative = {"kvk": REPRESENTED, "mandate": "representative", "intermediary": REPRESENTATIVE}
    refused = portal.sign_in("openid kvk mandate", **as_representative)
    assert refused.status_code == 403
    assert "Deze dienst is niet voor u beschikbaar" in refused.text
    params = portal.back_at_portal(refused)
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("no_local_mandate: ")
    cli(
        app,
        *("mandates", "add", REPRESENTED, REPRESENTATIVE, "--service", "local-required"),
        *("--valid-from", date.today().replace(day=1).isoformat(), "--why", "contract e2e"),
    )
    portal = HttpPortal(base, "e2e-local")
    claims = portal.claims(portal.sign_in("openid kvk mandate", **as_representative))
    assert claims["mandate"]["kind"] == "representative"
    assert claims["mandate"]["intermediary_kvk_number"] == REPRESENTATIVE
    assert claims["mandate"]["local_mandate"] is True


def test_two_kvk_numbers_of_one_group_carry_the_same_organisation_group(server: tuple[str, Flask]) -> None:
    base, app = server
    cli(app, "groups", "add", "van-dijk", "--name", "Van Dijk Groep")
    for number in ("12345678", "24444001"):
        cli(app, "groups", "add-member", "van-dijk", number)
    groups = []
    for number in ("12345678", "24444001"):
        portal = HttpPortal(base, "e2e-groups")
        claims = portal.claims(portal.sign_in("openid kvk organisation", kvk=number))
        assert claims["kvk_number"] == number
        groups.append(claims["organisation_group"])
    assert groups == [{"id": "van-dijk", "name": "Van Dijk Groep"}] * 2


def test_a_personal_portal_refuses_a_representative_and_releases_the_label(server: tuple[str, Flask]) -> None:
    base, app = server
    portal = HttpPortal(base, "e2e-viewer")
    refused = portal.sign_in(
        "openid kvk department", kvk=REPRESENTED, mandate="representative", intermediary=REPRESENTATIVE
    )
    assert portal.back_at_portal(refused)["error_description"].startswith("mandate_not_admitted: ")
    portal = HttpPortal(base, "e2e-viewer")
    first = portal.claims(portal.sign_in("openid kvk department", kvk=REPRESENTED, user="anna"))
    assert "department" not in first
    cli(app, "labels", "set", "e2e-viewer", first["sub"], "Burgerzaken")
    portal = HttpPortal(base, "e2e-viewer")
    again = portal.claims(portal.sign_in("openid kvk department", kvk=REPRESENTED, user="anna"))
    assert (again["sub"], again["department"]) == (first["sub"], "Burgerzaken")
    with app.app_context():
        assert [label.label for label in models.labels("e2e-viewer")] == ["Burgerzaken"]
