"""Interoperability: pyoidc (PyPI `oic`), an independent OpenID Connect library, as the relying party.

Nothing of ours plays the portal. pyoidc's `oic.oic.Client` is given what a portal's operator
would give it: the broker's issuer URL, its client id and secret (and its own redirect URI). From
the discovery document alone it finds the endpoints and the JWKS, builds the authorization
request (state, nonce, PKCE S256, acr_values), parses the code from the broker's redirect, redeems
it with client_secret_basic, verifies the ID token (RS256 signature against the keys at jwks_uri,
iss, aud, azp, exp, iat, nonce, acr) and calls the userinfo endpoint. Only the user's browser is
played here, with `requests`: through the built-in HM simulator, over HTTP-POST.

The broker is served for real, over TLS on 127.0.0.1 with a CA made for the test run: pyoidc
checks a discovery document fully only for an `https` issuer (OpenID Connect Discovery §3), as
in production. Told no algorithm, pyoidc accepts an unsigned (alg none) ID token from the token
endpoint, where Core §3.1.3.7 lets the TLS server authentication stand in for the signature; so
the client is told the algorithm the portal is registered with, RS256, as a portal should be.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.clients import REDIRECT, SECRET
from tests.interop.serving import Tls, through_the_hm

pytest.importorskip(
    "oic.oic",
    reason="pyoidc (PyPI `oic`) is not importable: pip install -r requirements-dev.txt",
    exc_type=ImportError,
)

from jwkest import BadSignature  # pyoidc's JOSE library, installed with it
from oic.oauth2.message import ErrorResponse, WrongSigningAlgorithm
from oic.oic import Client
from oic.oic.message import (
    AccessTokenResponse,
    AuthorizationRequest,
    AuthorizationResponse,
    IdToken,
    OpenIDSchema,
    ProviderConfigurationResponse,
    RegistrationResponse,
    TokenErrorResponse,
)
from oic.utils.authn.client import CLIENT_AUTHN_METHOD
from oic.utils.settings import OicClientSettings

CLIENT_ID = "ind-portal"
SCOPE = "openid kvk mandate"
KVK_NUMBER = "24444001"
LOA3 = "urn:etoegang:core:assurance-class:loa3"


# --- the relying party: pyoidc -----------------------------------------------------------------------


def relying_party(issuer: str, tls: Tls) -> Client:
    """pyoidc's client, configured with the issuer URL, the client id and secret only."""
    client = Client(
        client_authn_method=CLIENT_AUTHN_METHOD, settings=OicClientSettings(verify_ssl=str(tls.ca_file))
    )
    discovered = client.provider_config(issuer)
    assert isinstance(discovered, ProviderConfigurationResponse)
    assert discovered.verify()  # pyoidc's checks of a discovery document (https issuer, openid scope, …)
    client.store_registration_info(
        RegistrationResponse(
            client_id=CLIENT_ID,
            client_secret=SECRET,
            redirect_uris=[REDIRECT],
            token_endpoint_auth_method="client_secret_basic",
            id_token_signed_response_alg="RS256",
        )
    )
    return client


@dataclass
class SignIn:
    """A sign-in up to the code: pyoidc holds the grant (code, state, nonce) under `state`."""

    client: Client
    request: AuthorizationRequest
    state: str
    verifier: str

    def redeem(self) -> AccessTokenResponse | TokenErrorResponse:
        """pyoidc's token request for the code it keeps, verifying an ID token with the registered alg."""
        return self.client.do_access_token_request(
            state=self.state,
            request_args={"redirect_uri": REDIRECT, "code_verifier": self.verifier},
            authn_method="client_secret_basic",
            algs=self.client.sign_enc_algs("id_token"),
        )


def sign_in(issuer: str, tls: Tls, browser: requests.Session) -> SignIn:
    client = relying_party(issuer, tls)
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    challenge, verifier = client.add_code_challenge()
    url, _, _, request = client.authorization_request_info(
        request_args={
            "response_type": "code",
            "scope": SCOPE,
            "redirect_uri": REDIRECT,
            "state": state,
            "nonce": nonce,
            "acr_values": LOA3,
            **challenge,
        }
    )
    assert url.startswith(f"{issuer}/oidc/authorize?")
    location = urlsplit(through_the_hm(browser, issuer, url, kvk=KVK_NUMBER))
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    answer = client.parse_response(AuthorizationResponse, info=location.query, sformat="urlencoded")
    assert isinstance(answer, AuthorizationResponse), answer.to_dict()
    assert answer["state"] == state
    assert "code" in answer
    return SignIn(client, request, state, verifier)


def tokens_of(signed_in: SignIn) -> AccessTokenResponse:
    tokens = signed_in.redeem()
    assert isinstance(tokens, AccessTokenResponse), tokens.to_dict()
    return tokens


# --- the tests ------------------------------------------------------------------------------------


def test_pyoidc_signs_in_and_validates_the_id_token(issuer: str, tls: Tls, browser: requests.Session) -> None:
    signed_in = sign_in(issuer, tls, browser)
    client = signed_in.client
    tokens = tokens_of(signed_in)
    assert tokens["token_type"] == "Bearer"

    # pyoidc verified the signature while parsing the token response: the ID token is its IdToken.
    id_token = tokens["id_token"]
    assert isinstance(id_token, IdToken)
    assert id_token.jws_header["alg"] == "RS256"
    assert id_token.jws_header["kid"] in {key.kid for key in client.keyjar.get_issuer_keys(issuer)}
    # The checks of Core §3.1.3.7 pyoidc leaves to an explicit call: iss, aud/azp, exp, nonce, acr.
    client.verify_id_token(id_token, signed_in.request)
    assert id_token["iss"] == issuer
    assert id_token["aud"] == [CLIENT_ID]
    assert id_token["nonce"] == signed_in.request["nonce"]
    assert id_token["acr"] == LOA3
    assert id_token["kvk_number"] == KVK_NUMBER

    # GET with the token in the Authorization header, as Core §5.3.1 recommends.
    info = client.do_user_info_request(method="GET", state=signed_in.state)
    assert isinstance(info, OpenIDSchema), info.to_dict()
    assert info["sub"] == id_token["sub"]
    assert info["kvk_number"] == KVK_NUMBER
    assert info["acr"] == LOA3


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _decoded(id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = (part + "=" * (-len(part) % 4) for part in id_token.split("."))
    return json.loads(base64.urlsafe_b64decode(header)), json.loads(base64.urlsafe_b64decode(payload))


FORGED = {"kvk_number": "99999999"}  # another company


def claims_changed(id_token: str) -> str:
    """The broker's header and signature, another company's KvK number."""
    header, _, signature = id_token.split(".")
    return ".".join((header, _b64(_decoded(id_token)[1] | FORGED), signature))


def signed_by_another_key(id_token: str) -> str:
    """Another company's KvK number under the broker's kid, signed with a key it never published."""
    header, claims = _decoded(id_token)
    return jwt.encode(header, claims | FORGED, RSAKey.generate_key(2048), algorithms=["RS256"])


def unsigned(id_token: str) -> str:
    """Another company's KvK number, alg none: refused as the portal is registered for RS256."""
    header, claims = _decoded(id_token)
    return f"{_b64(header | {'alg': 'none'})}.{_b64(claims | FORGED)}."


@pytest.mark.parametrize(
    ("forge", "refusal"),
    [
        pytest.param(claims_changed, BadSignature, id="claims-changed"),
        pytest.param(signed_by_another_key, BadSignature, id="another-key-same-kid"),
        pytest.param(unsigned, WrongSigningAlgorithm, id="alg-none"),
    ],
)
def test_a_tampered_id_token_is_rejected_by_pyoidc(
    issuer: str,
    tls: Tls,
    browser: requests.Session,
    forge: Callable[[str], str],
    refusal: type[Exception],
) -> None:
    signed_in = sign_in(issuer, tls, browser)
    client = signed_in.client
    tokens = tokens_of(signed_in)
    response = {name: tokens[name] for name in ("access_token", "token_type", "expires_in", "scope")}

    def received(id_token: str) -> Any:
        """The token response as pyoidc parses it off the wire, with this ID token in it."""
        return client.parse_response(
            AccessTokenResponse,
            info=json.dumps(response | {"id_token": id_token}),
            state=signed_in.state,
            algs=client.sign_enc_algs("id_token"),
        )

    genuine = tokens["id_token_jwt"]  # the compact JWT as the broker sent it
    assert received(genuine)["id_token"]["kvk_number"] == KVK_NUMBER
    with pytest.raises(refusal):
        received(forge(genuine))


def test_a_code_used_twice_is_refused_and_revokes_its_tokens(
    issuer: str, tls: Tls, browser: requests.Session
) -> None:
    signed_in = sign_in(issuer, tls, browser)
    tokens_of(signed_in)
    again = signed_in.redeem()
    assert isinstance(again, TokenErrorResponse), again.to_dict()
    assert again["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: the second use revokes what the first one was given.
    info = signed_in.client.do_user_info_request(method="GET", state=signed_in.state)
    assert isinstance(info, ErrorResponse)
    assert info["error"] == "invalid_token"


def test_pyoidc_default_userinfo_request_with_the_token_in_the_body(
    issuer: str, tls: Tls, browser: requests.Session
) -> None:
    signed_in = sign_in(issuer, tls, browser)
    tokens_of(signed_in)
    info = signed_in.client.do_user_info_request(state=signed_in.state)
    assert isinstance(info, OpenIDSchema), info.to_dict()
    assert info["kvk_number"] == KVK_NUMBER
