"""Whole sign-ins from a portal: authorize → simulator → ACS → code → token → userinfo, and every refusal."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.clients import REDIRECT
from tests.conftest import TEST_BASE_URL, MovableClock
from tests.oidc.portal import Portal, client_assertion, pkce, redirect_parameters
from tests.web.browser import forms

LOA3 = "urn:etoegang:core:assurance-class:loa3"
LOA4 = "urn:etoegang:core:assurance-class:loa4"
LOA2PLUS = "urn:etoegang:core:assurance-class:loa2plus"


def signed_in(portal: Portal, **choices: str) -> dict:
    """The token response of a whole, successful sign-in."""
    params = redirect_parameters(portal.sign_in(**choices))
    assert params["state"] == portal.state
    answer = portal.token(params["code"])
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


@pytest.mark.parametrize(
    ("client_id", "method", "alg"),
    [
        ("ind-portal", "client_secret_basic", "RS256"),
        ("olo-post", "client_secret_post", "ES256"),
        ("olo-jwt", "private_key_jwt", "RS256"),
        ("olo-public", "none", "RS256"),
    ],
)
def test_a_whole_sign_in_for_each_client_authentication(
    client: FlaskClient, client_id: str, method: str, alg: str
) -> None:
    portal = Portal(client, client_id, method)
    tokens = signed_in(portal, kvk="24444001", binding="artifact")
    claims = portal.verify(tokens["id_token"])
    assert claims["_header"]["alg"] == alg
    assert claims["kvk_number"] == "24444001"
    assert claims["acr"] == LOA3
    assert tokens["token_type"] == "Bearer"
    info = portal.userinfo(tokens["access_token"])
    assert info.status_code == 200
    assert info.get_json()["sub"] == claims["sub"]
    assert info.get_json()["kvk_number"] == "24444001"


def test_claims_of_a_representative_with_an_establishment_restriction(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    tokens = signed_in(
        portal,
        kvk="12345678",
        mandate="representative",
        intermediary="87654321",
        establishment="000012345678",
    )
    claims = portal.verify(tokens["id_token"])
    assert claims["mandate"] == {
        "kind": "representative",
        "service_uuid": "6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01",
        "intermediary_kvk_number": "87654321",
    }
    assert claims["establishment_number"] == "000012345678"
    assert claims["establishment_source"] == "mandate"
    assert claims["eherkenning_service_id"].endswith(":services:1")
    assert len(claims["acting_subject"]) > 10


def test_scopes_release_only_their_claims(client: FlaskClient) -> None:
    portal = Portal(client, "olo-public", "none")
    tokens = signed_in(portal)
    claims = portal.verify(tokens["id_token"])
    assert "kvk_number" in claims
    assert "mandate" not in claims
    assert "acting_subject" not in claims
    assert set(portal.userinfo(tokens["access_token"]).get_json()) <= {
        "sub",
        "acr",
        "auth_time",
        "kvk_number",
    }


def test_the_subject_is_pairwise_and_stable(client: FlaskClient) -> None:
    first = Portal(client, "olo-post", "client_secret_post")
    again = Portal(client, "olo-post", "client_secret_post")
    other_portal = Portal(client, "olo-public", "none")
    other_company = Portal(client, "olo-post", "client_secret_post")
    subs = [
        first.verify(signed_in(first, kvk="11112222")["id_token"])["sub"],
        again.verify(signed_in(again, kvk="11112222")["id_token"])["sub"],
        other_portal.verify(signed_in(other_portal, kvk="11112222")["id_token"])["sub"],
        other_company.verify(signed_in(other_company, kvk="33334444")["id_token"])["sub"],
    ]
    assert subs[0] == subs[1]
    assert len(set(subs)) == 3


def test_a_jwt_access_token_follows_rfc_9068(client: FlaskClient) -> None:
    portal = Portal(client, "olo-post", "client_secret_post")
    tokens = signed_in(portal)
    keys = KeySet.import_key_set(client.get("/oidc/jwks").get_json())
    decoded = jwt.decode(tokens["access_token"], keys, algorithms=["RS256"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.claims["client_id"] == "olo-post"
    assert decoded.claims["aud"] == f"{TEST_BASE_URL}/oidc/userinfo"


def test_discovery_and_keys(client: FlaskClient) -> None:
    config = client.get("/.well-known/openid-configuration").get_json()
    assert config["issuer"] == TEST_BASE_URL
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["response_types_supported"] == ["code"]
    assert LOA3 in config["acr_values_supported"]
    # Every redirect back names the issuer (checked on each one by `redirect_parameters`).
    assert config["authorization_response_iss_parameter_supported"] is True
    keys = client.get(config["jwks_uri"].removeprefix(TEST_BASE_URL)).get_json()["keys"]
    assert {key["alg"] for key in keys} == {"RS256", "ES256"}
    assert all(key["kid"] and "d" not in key for key in keys)


# --- refusals before the redirect URI is trusted: a page, never a redirect -----------------------


@pytest.mark.parametrize(
    ("client_id", "redirect_uri", "code"),
    [
        ("ind-portal", "https://evil.test/callback", "invalid_request"),
        ("ind-portal", REDIRECT + "/extra", "invalid_request"),
        ("no-such-portal", REDIRECT, "invalid_client"),
    ],
)
def test_an_untrusted_redirect_uri_gets_a_page(
    client: FlaskClient, client_id: str, redirect_uri: str, code: str
) -> None:
    portal = Portal(client, client_id)
    page = portal.authorize(redirect_uri=redirect_uri)
    assert page.status_code == 400
    assert "Location" not in page.headers
    assert f"({code})" in page.get_data(as_text=True)
    assert "request is not valid" in page.get_data(as_text=True)


# --- refusals after it: an OAuth error back to the portal -----------------------------------------


@pytest.mark.parametrize(
    ("client_id", "extra", "error"),
    [
        ("olo-public", {"code_challenge": ""}, "invalid_request"),
        # PKCE for every client, confidential ones too (NL GOV Assurance profile).
        ("ind-portal", {"code_challenge": ""}, "invalid_request"),
        ("olo-jwt", {"code_challenge": ""}, "invalid_request"),
        ("ind-portal", {"code_challenge": pkce()[1], "code_challenge_method": "plain"}, "invalid_request"),
        ("ind-portal", {"code_challenge": pkce()[1], "code_challenge_method": ""}, "invalid_request"),
        ("ind-portal", {"response_type": "token"}, "unsupported_response_type"),
        ("ind-portal", {"prompt": "none"}, "login_required"),
        ("ind-portal", {"scope": "kvk"}, "invalid_scope"),
        # A request object that is no signed JWT of the client's, one from a URL it did not register.
        ("ind-portal", {"request": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}, "invalid_request_object"),
        ("olo-jwt", {"request": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}, "invalid_request_object"),
        ("ind-portal", {"request_uri": "https://portal.test/request.jwt"}, "invalid_request_uri"),
        # Discovery says this is unsupported: refused, never ignored (Core §7.2.1).
        ("ind-portal", {"registration": "{}"}, "registration_not_supported"),
        # Discovery names query only: another response mode is refused, not quietly answered by query.
        ("ind-portal", {"response_mode": "form_post"}, "invalid_request"),
        ("ind-portal", {"response_mode": "fragment"}, "invalid_request"),
    ],
)
def test_a_bad_authorization_request_returns_an_oauth_error(
    client: FlaskClient, client_id: str, extra: dict[str, str], error: str
) -> None:
    portal = Portal(client, client_id)
    scope = extra.pop("scope", "openid kvk")
    params = redirect_parameters(portal.authorize(scope, **extra))
    assert params["error"] == error
    assert params["state"] == portal.state


def test_a_client_let_off_pkce_signs_in_without_it(client: FlaskClient) -> None:
    portal = Portal(client, "legacy-no-pkce")
    params = redirect_parameters(portal.sign_in(extra={"code_challenge": ""}))
    assert portal.verifier is None
    assert portal.token(params["code"]).status_code == 200


def test_a_user_who_cancels_returns_to_the_portal_with_access_denied(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    hand_off = portal.authorize()
    (form,) = forms(hand_off)
    answer = client.post(f"{form.action.removeprefix(TEST_BASE_URL)}?action=cancel", data=form.fields)
    params = redirect_parameters(portal.back_at_broker(answer))
    assert params["error"] == "access_denied"
    assert "cancelled" in params["error_description"]
    assert params["state"] == portal.state


def test_acr_values_above_the_service_level_are_refused_before_the_user_signs_in(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    params = redirect_parameters(portal.authorize(acr_values=LOA4))
    assert params["error"] == "invalid_request"
    # It names the level the client's service offers, so the portal's developer knows what to ask.
    assert LOA3 in params["error_description"]
    assert params["state"] == portal.state


def test_an_earlier_sign_in_the_hm_kept_is_refused(client: FlaskClient) -> None:
    """Every authorization asks the HM for a new authentication (ForceAuthn): prompt=login and
    max_age are kept by refusing an answer whose AuthnInstant precedes the request."""
    portal = Portal(client, "ind-portal")
    params = redirect_parameters(portal.sign_in(extra={"prompt": "login", "max_age": "0"}, earlier="1"))
    assert params["error"] == "access_denied"
    assert "not signed in anew" in params["error_description"]
    # Used up: the HM's one answer to that request was no.
    again = redirect_parameters(portal.sign_in())
    assert "code" in again


def test_acr_values_never_lower_the_service_minimum(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    low = "urn:etoegang:core:assurance-class:loa2"
    params = redirect_parameters(portal.sign_in(extra={"acr_values": low}, loa="loa2plus"))
    assert params["error"] == "access_denied"


@pytest.mark.parametrize("acr_values", [LOA3, f"{LOA4} {LOA3}", "urn:example:unknown", f"{LOA2PLUS}"])
def test_acr_values_the_service_can_meet_are_accepted(client: FlaskClient, acr_values: str) -> None:
    portal = Portal(client, "ind-portal")
    tokens = signed_in(portal, extra={"acr_values": acr_values}, loa="loa3")
    assert portal.verify(tokens["id_token"])["acr"] == LOA3


# --- the token endpoint ---------------------------------------------------------------------------


def code_for(portal: Portal) -> str:
    return redirect_parameters(portal.sign_in())["code"]


def test_codes_carry_256_random_bits(client: FlaskClient) -> None:
    codes = {code_for(Portal(client, "ind-portal")) for _ in range(3)}
    assert len(codes) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", code) for code in codes)


def test_a_code_works_once_and_its_reuse_revokes_what_it_issued(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    code = code_for(portal)
    first = portal.token(code)
    assert first.status_code == 200
    access_token = first.get_json()["access_token"]
    assert portal.userinfo(access_token).status_code == 200
    second = portal.token(code)
    assert (second.status_code, second.get_json()["error"]) == (400, "invalid_grant")
    refused = portal.userinfo(access_token)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_a_nonce_already_in_a_code_is_refused(client: FlaskClient) -> None:
    first = Portal(client, "ind-portal")
    code_for(first)
    again = Portal(client, "ind-portal", nonce=first.nonce)
    answer = redirect_parameters(again.authorize())
    assert answer["error"] == "invalid_request"
    assert "nonce was used" in answer["error_description"]
    assert Portal(client, "ind-portal").authorize().status_code == 200


def test_an_expired_code_is_refused(client: FlaskClient, clock: MovableClock) -> None:
    portal = Portal(client, "ind-portal")
    code = code_for(portal)
    clock.advance(timedelta(seconds=61))
    assert portal.token(code).get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_verifier": pkce()[0]}, "invalid_grant"),
        ({"code_verifier": ""}, "invalid_request"),
        ({"redirect_uri": REDIRECT + "/other"}, "invalid_grant"),
    ],
)
def test_a_token_request_that_does_not_match_the_code_is_refused(
    client: FlaskClient, overrides: dict[str, str], error: str
) -> None:
    portal = Portal(client, "ind-portal")
    code = code_for(portal)
    if overrides.get("code_verifier") == "":
        portal.verifier = None
        overrides = {}
    assert portal.token(code, **overrides).get_json()["error"] == error


def test_an_unknown_code_is_refused(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    code_for(portal)
    assert portal.token("not-a-code").get_json()["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_client(client: FlaskClient) -> None:
    code = code_for(Portal(client, "olo-public", "none"))
    thief = Portal(client, "olo-post", "client_secret_post")
    assert thief.token(code).get_json()["error"] == "invalid_grant"


def test_a_wrong_secret_is_refused(client: FlaskClient) -> None:
    portal = Portal(client, "olo-post", "client_secret_post")
    code = code_for(portal)
    answer = portal.token(code, client_secret="wrong-" + "x" * 40)
    assert (answer.status_code, answer.get_json()["error"]) == (401, "invalid_client")


def test_a_client_cannot_use_another_authentication_method(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal", "client_secret_post")  # registered for client_secret_basic
    assert portal.token(code_for(portal)).get_json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "assertion",
    [
        lambda: client_assertion("olo-jwt", aud="https://elsewhere.test/token"),
        lambda: client_assertion("olo-jwt", exp=1),
        lambda: client_assertion("olo-jwt", iss="someone-else"),
        lambda: _signed_by_another_key("olo-jwt"),
    ],
    ids=["wrong-audience", "expired", "issuer-not-subject", "another-key"],
)
def test_a_bad_private_key_jwt_assertion_is_refused(client: FlaskClient, assertion) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    answer = portal.token(code_for(portal), client_assertion=assertion())
    # RFC 6749 §5.2: 401 where the client authenticated with a header, else 400 or 401.
    assert answer.status_code in {400, 401}
    assert answer.get_json()["error"] == "invalid_client"


def test_a_private_key_jwt_assertion_is_used_once(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    assertion = client_assertion("olo-jwt")
    assert portal.token(code_for(portal), client_assertion=assertion).status_code == 200
    again = Portal(client, "olo-jwt", "private_key_jwt")
    assert again.token(code_for(again), client_assertion=assertion).get_json()["error"] == "invalid_client"


def _signed_by_another_key(client_id: str) -> str:
    return client_assertion(client_id, key=RSAKey.generate_key(2048, {"kid": "portal-key-1"}))


def test_userinfo_needs_a_valid_token(client: FlaskClient) -> None:
    missing = client.get("/oidc/userinfo")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert client.get("/oidc/userinfo", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_userinfo_takes_the_token_from_a_form_body_but_not_twice(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    access_token = signed_in(portal)["access_token"]
    by_form = client.post("/oidc/userinfo", data={"access_token": access_token})
    assert by_form.status_code == 200
    assert by_form.get_json()["kvk_number"]
    both = client.post(
        "/oidc/userinfo",
        data={"access_token": access_token},
        headers={"Authorization": f"Bearer {access_token}"},
    )
    assert both.status_code == 400
    assert both.get_json()["error"] == "invalid_request"


def test_ui_locales_sets_the_language_of_the_hand_off(client: FlaskClient) -> None:
    english = Portal(client, "ind-portal").authorize(ui_locales="en-GB en")
    assert "You are being sent on to your eHerkenning broker." in english.get_data(as_text=True)
    dutch = Portal(client, "ind-portal").authorize(ui_locales="nl")
    assert "U wordt doorgestuurd" in dutch.get_data(as_text=True)


def test_a_mandate_kind_the_service_does_not_admit_is_refused(client: FlaskClient) -> None:
    own = Portal(client, "own-only")
    assert "code" in redirect_parameters(own.sign_in(mandate="own"))
    representative = Portal(client, "own-only")
    params = redirect_parameters(representative.sign_in(mandate="representative"))
    assert params["error"] == "access_denied"
    assert "representative" in params["error_description"]
