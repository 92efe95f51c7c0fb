"""Client authentication under the NL GOV Assurance profile: nlgov-v1 clients authenticate with
keys (private_key_jwt) or, behind a proxy that verifies client certificates, with their certificate
(tls_client_auth, RFC 8705 §2); client secrets are for broker-v1 clients only. And the broker's
settings for it: the proxy's header, the key request objects are encrypted to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import ECKey
from werkzeug.test import TestResponse

from config import load_settings
from config.clients import load_clients
from config.registry import Registry
from config.settings import ConfigError
from tests.clients import MTLS_PEM, PINNED_CERT, PINNED_PEM, REDIRECT, client_certificate
from tests.conftest import MovableClock, broker_environ, migrated_app
from tests.oidc.portal import Portal, redirect_parameters

HEADER = "X-Client-Cert"


@pytest.fixture(scope="module")
def mtls_app(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Flask:
    """The broker behind a proxy that passes the client certificate it verified in `HEADER`."""
    return migrated_app(tmp_path_factory.mktemp("mtls"), clock, BROKER_TLS_CLIENT_CERT_HEADER=HEADER)


@pytest.fixture
def mtls_client(mtls_app: Flask) -> FlaskClient:
    return mtls_app.test_client()


def redeem(portal: Portal, code: str, pem: str | None, **headers: str) -> TestResponse:
    """The token request of a tls_client_auth client: its client_id, its certificate in the header."""
    if pem is not None:
        headers[HEADER] = quote(pem)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": portal.verifier or "",
        "client_id": portal.client_id,
    }
    return portal.client.post("/oidc/token", data=data, headers=headers)


def test_discovery_names_tls_client_auth_only_behind_such_a_proxy(
    client: FlaskClient, mtls_client: FlaskClient
) -> None:
    plain = client.get("/.well-known/openid-configuration").get_json()
    behind = mtls_client.get("/.well-known/openid-configuration").get_json()
    assert "tls_client_auth" not in plain["token_endpoint_auth_methods_supported"]
    for name in (
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "pushed_authorization_request_endpoint_auth_methods_supported",
    ):
        assert "tls_client_auth" in behind[name], name
    assert behind["tls_client_certificate_bound_access_tokens"] is False


@pytest.mark.parametrize(("client_id", "pem"), [("nlgov-mtls", MTLS_PEM), ("nlgov-pinned", PINNED_PEM)])
def test_a_client_signs_in_with_its_certificate(mtls_client: FlaskClient, client_id: str, pem: str) -> None:
    portal = Portal(mtls_client, client_id, "tls_client_auth")
    code = redirect_parameters(portal.sign_in("openid kvk"))["code"]
    answer = redeem(portal, code, pem)
    assert answer.status_code == 200, answer.get_json()
    portal.verify(answer.get_json()["id_token"])


# Same subject DN as the pinned portal's, another key: its thumbprint differs.
LOOKALIKE, LOOKALIKE_PEM = client_certificate("pinned.portal.test")
assert LOOKALIKE.subject == PINNED_CERT.subject


@pytest.mark.parametrize(
    ("client_id", "pem"),
    [
        ("nlgov-mtls", PINNED_PEM),  # another subject
        ("nlgov-pinned", LOOKALIKE_PEM),  # the registered subject, another certificate
        ("nlgov-mtls", None),  # no certificate
        ("nlgov-mtls", "not a certificate"),
        ("nlgov-mtls", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        ("nlgov-mtls", "é"),
    ],
)
def test_a_wrong_or_missing_certificate_is_invalid_client(
    mtls_client: FlaskClient, client_id: str, pem: str | None
) -> None:
    portal = Portal(mtls_client, client_id, "tls_client_auth")
    code = redirect_parameters(portal.sign_in("openid kvk"))["code"]
    answer = redeem(portal, code, pem)
    assert answer.status_code in {400, 401}
    assert answer.get_json()["error"] == "invalid_client"
    # The code was not spent on the failed attempt: the right certificate still redeems it.
    right = MTLS_PEM if client_id == "nlgov-mtls" else PINNED_PEM
    assert redeem(portal, code, right).status_code == 200


def test_without_the_proxy_setting_the_header_is_not_believed(client: FlaskClient) -> None:
    portal = Portal(client, "nlgov-mtls", "tls_client_auth")
    code = redirect_parameters(portal.sign_in("openid kvk"))["code"]
    answer = redeem(portal, code, MTLS_PEM)
    assert answer.get_json()["error"] == "invalid_client"


def test_a_certificate_authenticates_at_par_too(mtls_client: FlaskClient) -> None:
    portal = Portal(mtls_client, "nlgov-mtls", "tls_client_auth")
    pushed = mtls_client.post(
        "/oidc/par",
        data={
            "client_id": "nlgov-mtls",
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "nonce": "n-" + portal.nonce,
            "state": portal.state,
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
        headers={HEADER: quote(MTLS_PEM)},
    )
    assert pushed.status_code == 201, pushed.get_json()
    refused = mtls_client.post(
        "/oidc/par", data={"client_id": "nlgov-mtls"}, headers={HEADER: quote(PINNED_PEM)}
    )
    assert refused.get_json()["error"] == "invalid_client"


# --- the configuration ----------------------------------------------------------------------------


def load(tmp_path: Path, registry: Registry, **fields: Any) -> Any:
    entry = {"client_id": "portal", "service": "omgevingsloket", "redirect_uris": [REDIRECT]} | fields
    (client,) = load_clients(tmp_path / "broker.yaml", {"clients": [entry]}, registry.services, {}, False)
    return client


def test_a_subject_dn_is_read_as_rfc_4514_says(tmp_path: Path, registry: Registry) -> None:
    client = load(
        tmp_path,
        registry,
        token_endpoint_auth_method="tls_client_auth",
        tls_client_auth_subject_dn="CN=portal.example.nl,O=Gemeente Voorbeeld\\, afdeling X,C=NL",
        claims_profile="nlgov-v1",
    )
    assert client.tls_client_auth_subject_dn == "CN=portal.example.nl,O=Gemeente Voorbeeld\\, afdeling X,C=NL"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        (
            {
                "claims_profile": "nlgov-v1",
                "token_endpoint_auth_method": "client_secret_basic",
                "secret": "x" * 32,
            },
            "clients[0] (portal): field 'token_endpoint_auth_method' client_secret_basic is for broker-v1",
        ),
        (
            {"token_endpoint_auth_method": "tls_client_auth"},
            "field 'tls_client_auth_subject_dn' or tls_client_certificate_sha256: exactly one is needed",
        ),
        (
            {
                "token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_subject_dn": "CN=a",
                "tls_client_certificate_sha256": "a" * 64,
            },
            "exactly one is needed",
        ),
        (
            {"token_endpoint_auth_method": "tls_client_auth", "tls_client_certificate_sha256": "xyz"},
            "field 'tls_client_certificate_sha256' must be the certificate's SHA-256 in hex",
        ),
        (
            {"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "no equals sign"},
            "field 'tls_client_auth_subject_dn' is not a distinguished name",
        ),
        (
            {"secret": "x" * 32, "tls_client_auth_subject_dn": "CN=a"},
            "field 'tls_client_auth_subject_dn' does not go with token_endpoint_auth_method client_secret",
        ),
        (
            {"token_endpoint_auth_method": "none", "request_uris": ["https://portal.test/r.jwt"]},
            "field 'request_uris' needs the client's jwks",
        ),
        (
            {
                "secret": "x" * 32,
                "jwks": {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]},
                "request_uris": ["http://portal.test/r"],
            },
            "field 'request_uris' has 'http://portal.test/r': use an absolute https:// URL",
        ),
    ],
)
def test_a_client_authentication_field_out_of_place_is_refused(
    tmp_path: Path, registry: Registry, fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        load(tmp_path, registry, **fields)


def test_broker_v1_clients_keep_their_secrets(tmp_path: Path, registry: Registry) -> None:
    for method in ("client_secret_basic", "client_secret_post"):
        client = load(tmp_path, registry, token_endpoint_auth_method=method, secret="x" * 32)
        assert (client.claims_profile, client.token_endpoint_auth_method) == ("broker-v1", method)


# --- the broker's settings for it --------------------------------------------------------------------


def test_the_proxy_header_setting_must_name_a_header(tmp_path: Path) -> None:
    environ = broker_environ(tmp_path, BROKER_TLS_CLIENT_CERT_HEADER="X Client: Cert")
    with pytest.raises(ConfigError, match="BROKER_TLS_CLIENT_CERT_HEADER must name an HTTP header"):
        load_settings(environ)
    named = load_settings(broker_environ(tmp_path, BROKER_TLS_CLIENT_CERT_HEADER="X-SSL-Client-Cert"))
    assert named.oidc.tls_client_certificate_header == "X-SSL-Client-Cert"
    assert load_settings(broker_environ(tmp_path)).oidc.tls_client_certificate_header is None


def test_the_request_object_encryption_key_must_be_rsa(tmp_path: Path) -> None:
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(ECKey.generate_key("P-256").as_pem(private=True))
    not_a_key = tmp_path / "text.pem"
    not_a_key.write_text("no key here")
    for path, message in (
        (ec_key, "must hold an RSA key of 2048 bits or more"),
        (not_a_key, "holds no unencrypted PEM private key"),
        (tmp_path / "absent.pem", "is not a file"),
    ):
        with pytest.raises(ConfigError, match=re.escape(f"BROKER_OIDC_ENCRYPTION_KEY: {path}")) as refused:
            load_settings(broker_environ(tmp_path, BROKER_OIDC_ENCRYPTION_KEY=str(path)))
        assert message in str(refused.value)
