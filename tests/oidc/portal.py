"""A portal as the tests play it: authorize, follow the user through the HM, redeem the code."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.test import TestResponse

from tests.clients import PORTAL_KEY, REDIRECT, SECRET
from tests.conftest import TEST_BASE_URL
from tests.web.browser import forms, local


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Portal:
    client: FlaskClient
    client_id: str
    method: str = "client_secret_basic"
    redirect_uri: str = REDIRECT
    verifier: str | None = None
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(8))

    def authorize(self, scope: str = "openid kvk mandate acting_subject", **extra: str) -> TestResponse:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": self.state,
            "nonce": self.nonce,
        }
        if "code_challenge" not in extra:
            # A fresh verifier for every authorization, as a portal makes one (every client uses PKCE).
            self.verifier, challenge = pkce()
            params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        params |= extra
        return self.client.get(f"/oidc/authorize?{urlencode(params)}")

    def sign_in(
        self,
        scope: str = "openid kvk mandate acting_subject",
        extra: dict[str, str] | None = None,
        **choices: str,
    ) -> TestResponse:
        """Authorize, then answer at the simulator with `choices`: the broker's redirect to the portal."""
        return self.back_at_broker(self.at_hm(self.authorize(scope, **(extra or {})), **choices))

    def at_hm(self, hand_off: TestResponse, **choices: str) -> TestResponse:
        """The simulator's answer (`choices`) to the request handed off, not yet delivered to the broker."""
        assert hand_off.status_code == 200, hand_off.get_data(as_text=True)
        (form,) = forms(hand_off)
        return self.client.post(
            f"{local(form.action)}?{urlencode({'action': 'login', **choices})}", data=form.fields
        )

    def back_at_broker(self, at_hm: TestResponse) -> TestResponse:
        """The simulator's answer delivered to the broker's ACS: what the broker answers the user."""
        if at_hm.status_code == 303:
            return self.client.get(local(at_hm.headers["Location"]))
        return submit_without_following(self.client, at_hm)

    def token(self, code: str, **overrides: str) -> TestResponse:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        if self.verifier:
            data["code_verifier"] = self.verifier
        headers = {}
        if self.method == "client_secret_basic":
            headers["Authorization"] = (
                "Basic " + base64.b64encode(f"{self.client_id}:{SECRET}".encode()).decode()
            )
        elif self.method == "client_secret_post":
            data |= {"client_id": self.client_id, "client_secret": SECRET}
        elif self.method == "private_key_jwt":
            data |= {
                "client_id": self.client_id,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": client_assertion(self.client_id),
            }
        else:
            data["client_id"] = self.client_id
        data |= overrides
        return self.client.post("/oidc/token", data=data, headers=headers)

    def userinfo(self, access_token: str) -> TestResponse:
        return self.client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access_token}"})

    def verify(self, id_token: str) -> dict[str, Any]:
        """The ID token's claims, verified against the published JWKS as a relying party would."""
        keys = KeySet.import_key_set(self.client.get("/oidc/jwks").get_json())
        decoded = jwt.decode(id_token, keys, algorithms=["RS256", "ES256"])
        claims = decoded.claims
        assert claims["iss"] == TEST_BASE_URL
        assert self.client_id in claims["aud"]
        assert claims["nonce"] == self.nonce
        assert claims["exp"] > time.time()
        return dict(claims, _header=decoded.header)


def client_assertion(client_id: str, key: RSAKey = PORTAL_KEY, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{TEST_BASE_URL}/oidc/token",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(12),
    } | overrides
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def submit_without_following(client: FlaskClient, page: TestResponse) -> TestResponse:
    (form,) = forms(page)
    return client.post(local(form.action), data=form.fields)


def back_to_portal(answer: TestResponse) -> str:
    """Where the broker sends the user back to the portal: its redirect, or the button of the
    refusal page it shows first."""
    if answer.status_code == 403:
        match = re.search(
            r'<a class="button" id="back-to-portal" href="([^"]+)"', answer.get_data(as_text=True)
        )
        assert match, answer.get_data(as_text=True)[-2000:]
        return html.unescape(match.group(1))
    assert answer.status_code == 302, answer.get_data(as_text=True)[-2000:]
    return answer.headers["Location"]


def redirect_parameters(answer: TestResponse, redirect_uri: str = REDIRECT) -> dict[str, str]:
    """The query parameters of the broker's answer to the portal (its redirect, or the refusal
    page's button), which, code or error, always names the broker as its issuer (RFC 9207)."""
    location = urlsplit(back_to_portal(answer))
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    params = {name: values[0] for name, values in parse_qs(location.query).items()}
    assert params.get("iss") == TEST_BASE_URL, params  # the issuer: BROKER_ISSUER defaults to the base URL
    return params
