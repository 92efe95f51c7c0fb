"""Interoperability under the NL GOV Assurance profile: idpyoidc (PyPI `idpyoidc`), an independent
OpenID Connect library, as the relying party of an `nlgov-v1` client.

idpyoidc's `StandAloneClient` gets what a portal's operator would give it: the broker's issuer URL,
the client id, its private key (`private_key_jwt`) and redirect URI. From the discovery document it
finds the endpoints and the JWKS. Its own add-ons make the authorization request a signed request
object (JAR: `iss`, `aud`, `exp`, `jti`, the parameters inside, PKCE S256 among them) passed by
value, and nothing else of the request counts at the broker. It authenticates at the token
endpoint with a client assertion of its own making, verifies the ID token (signature against the
JWKS, `iss`, `aud`, `exp`, `nonce`) and fetches userinfo, which the client registered as a signed
JWT. The user's browser is played with `requests` through the built-in HM simulator: the person
signs in for their own company, and as a representative in a chain (an intermediary acting for the
company), and the `represents` claims idpyoidc hands over are checked; for a service that
requested the person's name, so are `given_name`, `family_name` and `birthdate`, beside an RFC 9068
access token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc.jwk import RSAKey

from tests.clients import PORTAL_KEY, REDIRECT
from tests.interop.serving import Tls, through_the_hm

pytest.importorskip(
    "idpyoidc.client.oauth2.stand_alone_client",
    reason="idpyoidc is not importable: pip install -r requirements-dev.txt",
    exc_type=ImportError,
)

from cryptojwt.jws.jws import factory as jws_factory  # idpyoidc's JOSE library, installed with it
from cryptojwt.key_jar import KeyJar
from idpyoidc import verified_claim_name
from idpyoidc.client.oauth2.stand_alone_client import StandAloneClient

CLIENT_ID = "nlgov-portal"
KVK_ID_TYPE = "urn:nl-eid-gdi:1.0:id:KvKnr"
SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
SCOPE = "openid kvk mandate"


def relying_party(issuer: str, tls: Tls, client_id: str = CLIENT_ID) -> StandAloneClient:
    """idpyoidc's client for an nlgov-v1 portal: request objects, PKCE, private_key_jwt."""
    keys = KeyJar()
    keys.import_jwks({"keys": [PORTAL_KEY.as_dict(private=True)]}, issuer_id="")
    client = StandAloneClient(
        keyjar=keys,
        config={
            "client_id": client_id,
            "client_type": "oidc",
            "base_url": "https://portal.test",
            "redirect_uris": [REDIRECT],
            "provider_info": {"issuer": issuer},
            "httpc_params": {"verify": str(tls.ca_file)},
            "client_authn_methods": ["private_key_jwt"],
            "preference": {
                "response_types": ["code"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "userinfo_signing_alg_values_supported": ["RS256"],
                "request_object_signing_alg_values_supported": ["RS256"],
            },
            "add_ons": {
                "pkce": {
                    "function": "idpyoidc.client.oauth2.add_on.pkce.add_support",
                    "kwargs": {"code_challenge_length": 64, "code_challenge_method": "S256"},
                },
                "jar": {
                    "function": "idpyoidc.client.oauth2.add_on.jar.add_support",
                    "kwargs": {"request_type": "request_parameter", "with_jti": True},
                },
            },
        },
    )
    client.do_provider_info()
    client.do_client_registration()
    return client


def sign_in(
    issuer: str,
    tls: Tls,
    browser: requests.Session,
    client_id: str = CLIENT_ID,
    scope: str = SCOPE,
    **choices: str,
) -> dict[str, Any]:
    """A whole sign-in by idpyoidc: the ID token it verified, the access token and the userinfo."""
    client = relying_party(issuer, tls, client_id)
    # idpyoidc's request objects would live an hour (the jar add-on's expires_in is not read);
    # a portal tells it how long, as here.
    url = client.init_authorization(
        req_args={"acr_values": SUBSTANTIAL, "scope": scope}, behaviour_args={"expires_in": 300}
    )
    query = parse_qs(urlsplit(url).query)
    # Only the request object counts: idpyoidc sends the parameters OAuth requires beside it.
    assert set(query) <= {"request", "client_id", "response_type", "scope", "redirect_uri"}, set(query)
    assert jws_factory(query["request"][0]).jwt.headers["alg"] == "RS256"
    location = urlsplit(through_the_hm(browser, issuer, url, **choices))
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    response = {key: values[0] for key, values in parse_qs(location.query).items()}
    # idpyoidc checks state and the RFC 9207 iss against its request and the issuer.
    authorization = client.finalize_auth(response)
    state = authorization["state"]
    # The token request as idpyoidc's finalize() makes it, with a client assertion of a minute
    # (its default is ten; the broker takes five at most).
    tokens = client.do_request(
        "accesstoken",
        request_args={
            "code": authorization["code"],
            "state": state,
            "redirect_uri": REDIRECT,
            "grant_type": "authorization_code",
            "client_id": client_id,
        },
        authn_method=client.get_client_authn_method(client, "token_endpoint"),
        state=state,
        lifetime=60,
    )
    assert "error" not in tokens, tokens.to_dict()
    userinfo = client.get_user_info(state=state, access_token=tokens["access_token"])
    return {
        "id_token": tokens[verified_claim_name("id_token")],
        "access_token": tokens["access_token"],
        "userinfo": userinfo,
    }


def test_idpyoidc_signs_in_for_an_own_company_with_a_signed_request_object(
    issuer: str, tls: Tls, browser: requests.Session
) -> None:
    result = sign_in(issuer, tls, browser, kvk="24444001")
    id_token = result["id_token"]
    assert id_token["iss"] == issuer
    assert id_token["aud"] == [CLIENT_ID]
    assert id_token["acr"] == SUBSTANTIAL
    assert id_token["sub_id_type"] == "urn:nl-eid-gdi:1.0:id:pseudonym"
    represents = id_token["represents"]
    assert (represents["sub"], represents["sub_id_type"], represents["iss"]) == (
        "24444001",
        KVK_ID_TYPE,
        issuer,
    )
    assert represents["mandate"]["kind"] == "own_company"
    userinfo = result["userinfo"]
    assert userinfo["sub"] == id_token["sub"]
    assert userinfo["represents"] == represents


def test_idpyoidc_signs_in_a_representative_in_a_chain(
    issuer: str, tls: Tls, browser: requests.Session
) -> None:
    result = sign_in(issuer, tls, browser, kvk="12345678", mandate="representative", intermediary="87654321")
    represents = result["id_token"]["represents"]
    assert (represents["sub"], represents["sub_id_type"]) == ("87654321", KVK_ID_TYPE)
    company = represents["represents"]
    assert (company["sub"], company["sub_id_type"], company["iss"]) == ("12345678", KVK_ID_TYPE, issuer)
    assert company["mandate"]["kind"] == "representative"
    assert result["userinfo"]["represents"] == represents


def test_idpyoidc_receives_the_persons_name_where_its_service_requested_it(
    issuer: str, tls: Tls, browser: requests.Session
) -> None:
    result = sign_in(
        issuer,
        tls,
        browser,
        client_id="ind-named-nlgov",
        scope="openid kvk profile",
        kvk="24444001",
        first_name="Anna Maria",
        family_name="de Vries",
        birthdate="1980-02-29",
    )
    id_token = result["id_token"]
    assert (id_token["given_name"], id_token["family_name"], id_token["birthdate"]) == (
        "Anna Maria",
        "de Vries",
        "1980-02-29",
    )
    assert id_token["represents"]["sub"] == "24444001"
    assert result["userinfo"]["given_name"] == "Anna Maria"
    # An RFC 9068 access token, as nlgov-v1 clients get by default; the name stays out of it.
    access = jws_factory(result["access_token"])
    assert access.jwt.headers["typ"] == "at+jwt"
    assert "given_name" not in access.jwt.payload()


def test_a_request_object_signed_with_another_key_is_refused(
    issuer: str, tls: Tls, browser: requests.Session
) -> None:
    """idpyoidc signs with a key the client never registered, under the registered key's kid."""
    client = relying_party(issuer, tls)
    stranger = RSAKey.generate_key(2048, {"kid": PORTAL_KEY.kid})
    client.keyjar = KeyJar()
    client.keyjar.import_jwks({"keys": [stranger.as_dict(private=True)]}, issuer_id="")
    url = client.init_authorization(
        req_args={"acr_values": SUBSTANTIAL, "scope": SCOPE}, behaviour_args={"expires_in": 300}
    )
    answer = browser.get(url, allow_redirects=False)
    assert answer.status_code == 302
    error = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert error["error"] == ["invalid_request_object"], error
    assert "not signed with the client's key" in error["error_description"][0], error
