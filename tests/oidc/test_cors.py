"""Cross-origin reads: discovery and keys for any page, token and userinfo for public clients' pages."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.clients import SERVICES
from tests.conftest import MovableClock, migrated_app
from tests.oidc.portal import Portal, redirect_parameters

SPA = "https://spa.portal.test"  # where the public client runs
SERVER = "https://server.portal.test"  # where a confidential client runs
CLIENTS = f"""
clients:
  - client_id: spa
    service: omgevingsloket
    redirect_uris: [{SPA}/callback, "HTTPS://Other.Portal.test:443/back"]
    token_endpoint_auth_method: none
  - client_id: server
    service: omgevingsloket
    redirect_uris: [{SERVER}/callback]
    secret: a-secret-for-the-server-portal-0123456789
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Flask:
    instance = tmp_path_factory.mktemp("cors")
    config = instance / "broker.yaml"
    config.write_text(SERVICES + CLIENTS)
    return migrated_app(instance, clock, BROKER_CONFIG=str(config))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/oidc/jwks"])
def test_any_page_may_read_discovery_and_the_keys(client: FlaskClient, path: str) -> None:
    answer = client.get(path, headers={"Origin": "https://anywhere.test"})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in client.get(path).headers


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (SPA, True),
        # As a browser serializes the origin of HTTPS://Other.Portal.test:443/back.
        ("https://other.portal.test", True),
        (SERVER, False),
        ("https://evil.test", False),
        (f"{SPA}:8443", False),
    ],
    ids=["public-client", "normalised", "confidential-client", "stranger", "other-port"],
)
@pytest.mark.parametrize("path", ["/oidc/token", "/oidc/userinfo"])
def test_token_and_userinfo_answer_only_a_public_clients_page(
    client: FlaskClient, path: str, origin: str, allowed: bool
) -> None:
    preflight = client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    answer = client.post(path, headers={"Origin": origin})
    assert answer.status_code in (400, 401)  # no credentials sent: refused, as it should be
    for response in (preflight, answer):
        assert response.headers.get("Access-Control-Allow-Origin") == (origin if allowed else None)
        assert "Origin" in response.headers["Vary"]
        assert "Access-Control-Allow-Credentials" not in response.headers
    if allowed:
        assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
        assert answer.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"


def test_a_single_page_app_signs_in_and_reads_its_tokens_and_claims(client: FlaskClient) -> None:
    portal = Portal(client, "spa", method="none", redirect_uri=f"{SPA}/callback")
    code = redirect_parameters(portal.sign_in("openid kvk"), f"{SPA}/callback")["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": f"{SPA}/callback",
        "client_id": "spa",
        "code_verifier": portal.verifier or "",
    }
    tokens = client.post("/oidc/token", data=form, headers={"Origin": SPA})
    assert tokens.status_code == 200, tokens.get_json()
    assert tokens.headers["Access-Control-Allow-Origin"] == SPA
    bearer = {"Authorization": f"Bearer {tokens.get_json()['access_token']}", "Origin": SPA}
    info = client.get("/oidc/userinfo", headers=bearer)
    assert info.status_code == 200
    assert info.headers["Access-Control-Allow-Origin"] == SPA
