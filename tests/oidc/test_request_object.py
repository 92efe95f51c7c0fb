"""Request objects (RFC 9101): an authorization request signed by the portal's registered key, sent
by value or fetched from a URL it registered, through to the ID token; anything else refused in
protocol form, never answered with a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from base64 import urlsafe_b64encode
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient
from joserfc import jwe, jwt
from joserfc.jwk import ECKey, RSAKey
from joserfc.util import json_b64encode
from werkzeug.test import TestResponse

from broker.oidc import request_object
from tests.clients import PORTAL_KEY, REDIRECT, REQUEST_URI, REQUEST_URI_PORT, SECRET
from tests.conftest import TEST_BASE_URL, MovableClock, migrated_app
from tests.e2e.server import serving
from tests.oidc.portal import Portal, pkce, redirect_parameters
from tests.pki import certificate_authority, server_certificate, server_context


def parameters(portal: Portal, **overrides: str) -> dict[str, str]:
    """The authorization request `portal` makes (a fresh PKCE verifier), as parameters."""
    portal.verifier, challenge = pkce()
    return {
        "response_type": "code",
        "client_id": portal.client_id,
        "redirect_uri": portal.redirect_uri,
        "scope": "openid kvk",
        "state": portal.state,
        "nonce": portal.nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    } | overrides


def request_claims(portal: Portal, **overrides: Any) -> dict[str, Any]:
    """The authorization request `portal` makes, as request object claims."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": portal.client_id,
        "aud": TEST_BASE_URL,
        "iat": now,
        "exp": now + 300,
        "jti": secrets.token_urlsafe(12),
    }
    return claims | parameters(portal) | overrides


def signed(claims: dict[str, Any], key: RSAKey | ECKey = PORTAL_KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "oauth-authz-req+jwt"}, claims, key, [alg])


def authorize(portal: Portal, **query: str) -> TestResponse:
    return portal.client.get(f"/oidc/authorize?{urlencode({'client_id': portal.client_id} | query)}")


def signed_in(portal: Portal, hand_off: TestResponse) -> dict[str, Any]:
    """Through the HM and back, the code redeemed: the ID token's claims."""
    params = redirect_parameters(portal.back_at_broker(portal.at_hm(hand_off)))
    assert params["state"] == portal.state
    answer = portal.token(params["code"])
    assert answer.status_code == 200, answer.get_json()
    return portal.verify(answer.get_json()["id_token"])


def test_a_request_object_by_value_signs_in(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    claims = signed_in(portal, authorize(portal, request=signed(request_claims(portal))))
    assert claims["aud"] == ["olo-jwt"]


def test_a_request_object_signed_with_ps256_signs_in(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    signed_in(portal, authorize(portal, request=signed(request_claims(portal), alg="PS256")))


def test_a_client_with_a_secret_may_sign_its_requests_with_a_registered_key(client: FlaskClient) -> None:
    portal = Portal(client, "ind-signed")
    signed_in(portal, authorize(portal, request=signed(request_claims(portal))))


def test_only_the_request_objects_parameters_count(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    token = signed(request_claims(portal))
    # Beside the object: another state, no PKCE, a scope without openid: none of it is read.
    hand_off = authorize(portal, request=token, state="from-the-query", scope="kvk", code_challenge="")
    signed_in(portal, hand_off)


def test_what_the_object_holds_is_checked_as_a_query_is(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    cases = {
        "state": ("s" * 1025, "invalid_request"),
        "code_challenge": ("", "invalid_request"),
        "scope": ("kvk", "invalid_scope"),
        "response_mode": ("form_post", "invalid_request"),
    }
    for name, (value, error) in cases.items():
        token = signed(request_claims(portal, **{name: value}))
        params = redirect_parameters(authorize(portal, request=token))
        assert params["error"] == error, name


def test_an_unregistered_redirect_uri_in_the_object_gets_a_page(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    token = signed(request_claims(portal, redirect_uri="https://attacker.test/callback"))
    answer = authorize(portal, request=token, redirect_uri=REDIRECT)
    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_a_nonce_used_before_is_refused_in_an_object_too(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    signed_in(portal, authorize(portal, request=signed(request_claims(portal))))
    params = redirect_parameters(authorize(portal, request=signed(request_claims(portal))))
    assert params["error"] == "invalid_request"
    assert "nonce" in params["error_description"]


OTHER_KEY = RSAKey.generate_key(2048, {"kid": PORTAL_KEY.kid})


def _hostile(portal: Portal) -> dict[str, str]:
    now = int(time.time())
    claims = request_claims(portal)
    return {
        "garbage": "not-a-jwt",
        "three dots of nothing": "..",
        "unsigned": _unsigned(claims),
        "another key": signed(claims, OTHER_KEY),
        "HS256 with the public key": _hs256(claims),
        "another audience": signed(claims | {"aud": "https://elsewhere.test"}),
        "another issuer": signed(claims | {"iss": "olo-post"}),
        "expired": signed(claims | {"exp": now - 120}),
        "too long-lived": signed(claims | {"exp": now + 3600}),
        "not yet valid": signed(claims | {"nbf": now + 600}),
        "without exp": signed({k: v for k, v in claims.items() if k != "exp"}),
        "exp a string": signed(claims | {"exp": str(now + 60)}),
        "another client_id inside": signed(claims | {"client_id": "olo-post"}),
        "a request_uri inside": signed(claims | {"request_uri": REQUEST_URI}),
        "a state that is a number": signed(claims | {"state": 7}),
        "a JWE": "a.b.c.d.e",
        "another typ": jwt.encode({"alg": "RS256", "typ": "dpop+jwt"}, claims, PORTAL_KEY, ["RS256"]),
        "oversized": signed(claims | {"padding": "x" * 20000}),
        "not ascii": "é.é.é",
    }


def _unsigned(claims: dict[str, Any]) -> str:
    return f"{json_b64encode({'alg': 'none'}).decode()}.{json_b64encode(claims).decode()}."


def _hs256(claims: dict[str, Any]) -> str:
    """Signed with HMAC, the public key's PEM as the secret (the algorithm confusion attack)."""
    signing_input = f"{json_b64encode({'alg': 'HS256'}).decode()}.{json_b64encode(claims).decode()}"
    mac = hmac.new(PORTAL_KEY.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{urlsafe_b64encode(mac).rstrip(b'=').decode()}"


HOSTILE = [
    "garbage",
    "three dots of nothing",
    "unsigned",
    "another key",
    "HS256 with the public key",
    "another audience",
    "another issuer",
    "expired",
    "too long-lived",
    "not yet valid",
    "without exp",
    "exp a string",
    "another client_id inside",
    "a request_uri inside",
    "a state that is a number",
    "a JWE",
    "another typ",
    "oversized",
    "not ascii",
]


@pytest.mark.parametrize("case", HOSTILE)
def test_a_bad_request_object_is_refused_to_the_registered_redirect_uri(
    client: FlaskClient, case: str
) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    token = _hostile(portal)[case]
    params = redirect_parameters(authorize(portal, request=token, redirect_uri=REDIRECT, state=portal.state))
    assert params["error"] == "invalid_request_object", params
    assert params["state"] == portal.state
    # Without a registered redirect URI beside it: the error page, never a 500.
    page = authorize(portal, request=token)
    assert page.status_code == 400
    assert "invalid_request" in page.get_data(as_text=True)


def test_the_client_id_beside_the_object_must_be_its_signers(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    token = signed(request_claims(portal))
    # Named as another client, whose registered key did not sign it.
    other = Portal(client, "ind-signed")
    params = redirect_parameters(authorize(other, request=token, redirect_uri=REDIRECT))
    assert params["error"] == "invalid_request_object"


def test_request_and_request_uri_together_are_refused(client: FlaskClient) -> None:
    portal = Portal(client, "olo-request-uri", "private_key_jwt")
    token = signed(request_claims(portal))
    params = redirect_parameters(
        authorize(portal, request=token, request_uri=REQUEST_URI, redirect_uri=REDIRECT)
    )
    assert params["error"] == "invalid_request"


# --- request_uri: fetched from the client's registered URL -------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    folder = tmp_path_factory.mktemp("request-uri-tls")
    authority = certificate_authority(folder, "ca", "Request object test CA")
    return authority.cert_path, server_context(
        server_certificate(folder, "server", authority, ("127.0.0.1",))
    )


class Served:
    """What the portal's request_uri answers: a body, a status, a delay, a redirect."""

    def __init__(self) -> None:
        self.body, self.status, self.delay, self.location = "", 200, 0.0, ""
        # Seconds between the body's bytes: a server that trickles its answer.
        self.trickle = 0.0
        self.fetches = 0


@pytest.fixture
def served(tls: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    ca_path, context = tls
    answer = Served()
    portal_site = Flask("portal-site")

    @portal_site.get("/request.jwt")
    @portal_site.get("/elsewhere.jwt")
    def request_jwt() -> Response:
        answer.fetches += 1
        time.sleep(answer.delay)
        headers = {"Location": answer.location} if answer.location else {}
        body: Any = answer.body
        if answer.trickle:
            body = _trickled(answer.body, answer.trickle)
        return Response(body, answer.status, headers, mimetype="application/oauth-authz-req+jwt")

    # The broker trusts the test CA as it would a public one (requests reads REQUESTS_CA_BUNDLE).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_path))
    with serving(portal_site, REQUEST_URI_PORT, context):
        yield answer


def _trickled(body: str, pause: float) -> Iterator[bytes]:
    for byte in body.encode():
        time.sleep(pause)
        yield bytes([byte])


def test_a_request_object_by_reference_signs_in(client: FlaskClient, served: Served) -> None:
    portal = Portal(client, "olo-request-uri", "private_key_jwt")
    served.body = signed(request_claims(portal))
    signed_in(portal, authorize(portal, request_uri=REQUEST_URI))
    assert served.fetches == 1


def test_an_unregistered_request_uri_is_not_fetched(client: FlaskClient, served: Served) -> None:
    portal = Portal(client, "olo-request-uri", "private_key_jwt")
    served.body = signed(request_claims(portal))
    elsewhere = REQUEST_URI.replace("request.jwt", "elsewhere.jwt")
    params = redirect_parameters(authorize(portal, request_uri=elsewhere, redirect_uri=REDIRECT))
    assert params["error"] == "invalid_request_uri"
    assert served.fetches == 0


@pytest.mark.parametrize(
    ("status", "location", "body"),
    [
        (302, REQUEST_URI.replace("request.jwt", "elsewhere.jwt"), ""),
        (404, "", "gone"),
        (200, "", "x" * (request_object.MAX_REQUEST_OBJECT_CHARS + 1)),
        (200, "", "not a jwt"),
    ],
)
def test_a_request_uri_that_answers_badly_is_refused(
    client: FlaskClient, served: Served, status: int, location: str, body: str
) -> None:
    portal = Portal(client, "olo-request-uri", "private_key_jwt")
    served.status, served.location, served.body = status, location, body
    params = redirect_parameters(authorize(portal, request_uri=REQUEST_URI, redirect_uri=REDIRECT))
    assert params["error"] in {"invalid_request_uri", "invalid_request_object"}
    # No redirect followed: one fetch, of the registered URL.
    assert served.fetches == 1


def test_a_request_uri_that_answers_too_slowly_is_refused(
    client: FlaskClient, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request_object, "FETCH_TIMEOUT_SECONDS", 0.3)
    portal = Portal(client, "olo-request-uri", "private_key_jwt")
    served.body, served.delay = signed(request_claims(portal)), 1.0
    params = redirect_parameters(authorize(portal, request_uri=REQUEST_URI, redirect_uri=REDIRECT))
    assert params["error"] == "invalid_request_uri"


def test_a_request_uri_that_trickles_its_answer_is_refused_in_time(
    client: FlaskClient, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request_object, "FETCH_TIMEOUT_SECONDS", 0.5)
    portal = Portal(client, "olo-request-uri", "private_key_jwt")
    # Every byte well within the timeout, the whole answer far beyond it.
    served.body, served.trickle = signed(request_claims(portal)), 0.1
    started = time.monotonic()
    params = redirect_parameters(authorize(portal, request_uri=REQUEST_URI, redirect_uri=REDIRECT))
    assert params["error"] == "invalid_request_uri"
    assert time.monotonic() - started < 3


def test_a_request_uri_over_plain_http_is_never_fetched() -> None:
    with pytest.raises(ValueError, match="https"):
        request_object.fetch(REQUEST_URI.replace("https:", "http:"))


# --- encrypted request objects: to the broker's published encryption key ------------------------------


@pytest.fixture(scope="module")
def sealed_app(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Flask:
    """The broker with a key for encrypted request objects (BROKER_OIDC_ENCRYPTION_KEY)."""
    folder = tmp_path_factory.mktemp("sealed")
    key = folder / "request-objects.pem"
    key.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    return migrated_app(folder / "instance", clock, BROKER_OIDC_ENCRYPTION_KEY=str(key))


def published_encryption_key(client: FlaskClient) -> RSAKey:
    """The broker's key to encrypt to, found in its JWKS as a portal's library finds it."""
    (key,) = [key for key in client.get("/oidc/jwks").get_json()["keys"] if key.get("use") == "enc"]
    assert key["alg"] == "RSA-OAEP-256"
    return RSAKey.import_key(key)


def sealed(token: str, key: RSAKey, alg: str = "RSA-OAEP-256", enc: str = "A256GCM") -> str:
    header = {"alg": alg, "enc": enc, "cty": "JWT"} | ({"kid": key.kid} if key.kid else {})
    return jwe.encrypt_compact(header, token, key, algorithms=[alg, enc])


def test_without_an_encryption_key_none_is_published_nor_announced(client: FlaskClient) -> None:
    assert all(key["use"] == "sig" for key in client.get("/oidc/jwks").get_json()["keys"])
    document = client.get("/.well-known/openid-configuration").get_json()
    assert "request_object_encryption_alg_values_supported" not in document


def test_an_encrypted_request_object_signs_in(sealed_app: Flask) -> None:
    client = sealed_app.test_client()
    document = client.get("/.well-known/openid-configuration").get_json()
    assert document["request_object_encryption_alg_values_supported"] == ["RSA-OAEP-256"]
    assert document["request_object_encryption_enc_values_supported"] == ["A256GCM"]
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    token = sealed(signed(request_claims(portal)), published_encryption_key(client))
    signed_in(portal, authorize(portal, request=token))


def test_an_encrypted_request_object_is_pushed_too(sealed_app: Flask) -> None:
    client = sealed_app.test_client()
    portal = Portal(client, "ind-signed")
    token = sealed(signed(request_claims(portal)), published_encryption_key(client))
    basic = base64.b64encode(f"ind-signed:{SECRET}".encode()).decode()
    pushed = client.post("/oidc/par", data={"request": token}, headers={"Authorization": f"Basic {basic}"})
    assert pushed.status_code == 201, pushed.get_json()
    signed_in(portal, authorize(portal, request_uri=pushed.get_json()["request_uri"]))


def test_a_bad_encrypted_request_object_is_refused(sealed_app: Flask) -> None:
    client = sealed_app.test_client()
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    claims = request_claims(portal)
    key = published_encryption_key(client)
    cases = {
        # Encrypted, but not signed: encryption says nothing of who sent it.
        "unsigned inside": sealed(_unsigned(claims), key),
        "another key": sealed(signed(claims), RSAKey.generate_key(2048, {"kid": key.kid})),
        "RSA-OAEP": sealed(signed(claims), key, alg="RSA-OAEP"),
        "A128GCM": sealed(signed(claims), key, enc="A128GCM"),
        "not a JWS inside": sealed("just text", key),
        "encrypted twice": sealed(sealed(signed(claims), key), key),
    }
    for case, token in cases.items():
        params = redirect_parameters(authorize(portal, request=token, redirect_uri=REDIRECT))
        assert params["error"] == "invalid_request_object", case


def test_an_encrypted_request_object_is_refused_without_the_key(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    token = sealed(signed(request_claims(portal)), RSAKey.generate_key(2048))
    params = redirect_parameters(authorize(portal, request=token, redirect_uri=REDIRECT))
    assert params["error"] == "invalid_request_object"
    assert "not encrypted" in params["error_description"]
