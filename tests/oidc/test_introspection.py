"""Introspection (RFC 7662) and revocation (RFC 7009) of the broker's access tokens: each client,
authenticated as at the token endpoint, about its own tokens only."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.clients import SECRET
from tests.conftest import TEST_BASE_URL, MovableClock
from tests.oidc.portal import Portal, client_assertion
from tests.oidc.test_signin import signed_in

INTROSPECT = "/oidc/introspect"
REVOKE = "/oidc/revoke"


def call(client: FlaskClient, path: str, client_id: str, method: str, **form: str) -> TestResponse:
    """POST `form` to `path`, authenticated as `client_id` with `method` (as at the token endpoint)."""
    headers = {}
    if method == "client_secret_basic":
        headers["Authorization"] = "Basic " + base64.b64encode(f"{client_id}:{SECRET}".encode()).decode()
    elif method == "client_secret_post":
        form |= {"client_id": client_id, "client_secret": SECRET}
    elif method == "private_key_jwt":
        form |= {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(client_id, aud=f"{TEST_BASE_URL}{path}"),
        }
    elif method == "none":
        form["client_id"] = client_id
    return client.post(path, data=form, headers=headers)


def introspect(
    client: FlaskClient, token: str, client_id: str = "ind-portal", method: str = "client_secret_basic"
) -> dict[str, Any]:
    answer = call(client, INTROSPECT, client_id, method, token=token)
    assert answer.status_code == 200, answer.get_json()
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.get_json()


@pytest.fixture
def tokens(client: FlaskClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """A sign-in at ind-portal (client_secret_basic): its token response and its ID token's claims."""
    portal = Portal(client, "ind-portal")
    answer = signed_in(portal, kvk="24444001")
    return answer, portal.verify(answer["id_token"])


def test_an_active_token_says_what_it_is(client: FlaskClient, tokens: tuple[dict, dict]) -> None:
    answer, id_token = tokens
    found = introspect(client, answer["access_token"])
    assert found == {
        "active": True,
        "iss": TEST_BASE_URL,
        "aud": f"{TEST_BASE_URL}/oidc/userinfo",
        "client_id": "ind-portal",
        "token_type": "Bearer",
        "scope": "openid kvk mandate acting_subject",
        "exp": found["exp"],
        "sub": id_token["sub"],
        "auth_time": id_token["auth_time"],
        "acr": id_token["acr"],
    }
    assert 0 < found["exp"] - id_token["iat"] <= 300


def test_an_expired_token_is_inactive(
    client: FlaskClient, clock: MovableClock, tokens: tuple[dict, dict]
) -> None:
    clock.advance(timedelta(minutes=5, seconds=1))
    assert introspect(client, tokens[0]["access_token"]) == {"active": False}


def test_a_revoked_token_is_inactive_and_refused_at_userinfo(
    client: FlaskClient, tokens: tuple[dict, dict]
) -> None:
    access_token = tokens[0]["access_token"]
    answer = call(client, REVOKE, "ind-portal", "client_secret_basic", token=access_token)
    assert (answer.status_code, answer.get_json()) == (200, {})
    assert introspect(client, access_token) == {"active": False}
    refused = Portal(client, "ind-portal").userinfo(access_token)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    # Revoking again, or with the hint of a kind of token the broker does not issue, changes nothing.
    again = call(
        client,
        REVOKE,
        "ind-portal",
        "client_secret_basic",
        token=access_token,
        token_type_hint="refresh_token",
    )
    assert again.status_code == 200


def test_another_clients_token_is_inactive_to_it_and_not_its_to_revoke(
    client: FlaskClient, tokens: tuple[dict, dict]
) -> None:
    access_token = tokens[0]["access_token"]
    assert introspect(client, access_token, "olo-post", "client_secret_post") == {"active": False}
    refused = call(client, REVOKE, "olo-post", "client_secret_post", token=access_token)
    assert (refused.status_code, refused.get_json()["error"]) == (400, "invalid_grant")
    assert introspect(client, access_token)["active"] is True


def test_an_unknown_token_is_inactive_and_revoking_it_does_nothing(client: FlaskClient) -> None:
    assert introspect(client, "no-such-token") == {"active": False}
    assert call(client, REVOKE, "ind-portal", "client_secret_basic", token="no-such-token").status_code == 200


def test_a_jwt_access_token_is_introspected_and_revoked_with_a_client_assertion(client: FlaskClient) -> None:
    portal = Portal(client, "nlgov-portal", "private_key_jwt")
    access_token = signed_in(portal)["access_token"]
    found = introspect(client, access_token, "nlgov-portal", "private_key_jwt")
    assert (found["active"], found["acr"]) == (True, "http://eidas.europa.eu/LoA/substantial")
    assert call(client, REVOKE, "nlgov-portal", "private_key_jwt", token=access_token).status_code == 200
    assert introspect(client, access_token, "nlgov-portal", "private_key_jwt") == {"active": False}
    # The JWT still verifies, but the broker's own endpoint no longer takes it.
    assert portal.userinfo(access_token).status_code == 401


def test_a_public_client_revokes_its_token_but_cannot_introspect(client: FlaskClient) -> None:
    access_token = signed_in(Portal(client, "olo-public", "none"))["access_token"]
    refused = call(client, INTROSPECT, "olo-public", "none", token=access_token)
    assert (refused.status_code, refused.get_json()["error"]) == (401, "invalid_client")
    assert call(client, REVOKE, "olo-public", "none", token=access_token).status_code == 200
    assert Portal(client, "olo-public", "none").userinfo(access_token).status_code == 401


@pytest.mark.parametrize("path", [INTROSPECT, REVOKE])
def test_a_client_must_authenticate_as_it_registered(
    client: FlaskClient, path: str, tokens: tuple[dict, dict]
) -> None:
    access_token = tokens[0]["access_token"]
    unauthenticated = client.post(path, data={"token": access_token})
    assert (unauthenticated.status_code, unauthenticated.get_json()["error"]) == (401, "invalid_client")
    # ind-portal registered client_secret_basic: the same secret in the form is not its method.
    other_method = call(client, path, "ind-portal", "client_secret_post", token=access_token)
    assert other_method.get_json()["error"] == "invalid_client"
    wrong = client.post(
        path,
        data={"token": access_token},
        headers={"Authorization": "Basic " + base64.b64encode(b"ind-portal:not-the-secret").decode()},
    )
    assert wrong.status_code == 401
    assert introspect(client, access_token)["active"] is True


@pytest.mark.parametrize("path", [INTROSPECT, REVOKE])
def test_a_request_without_a_token_is_refused(client: FlaskClient, path: str) -> None:
    missing = call(client, path, "ind-portal", "client_secret_basic", token_type_hint="access_token")
    assert (missing.status_code, missing.get_json()["error"]) == (400, "invalid_request")


@pytest.mark.parametrize("hint", ["refresh_token", "id_token", "anything"])
def test_the_token_type_hint_is_not_read(client: FlaskClient, hint: str, tokens: tuple[dict, dict]) -> None:
    access_token = tokens[0]["access_token"]
    answer = call(
        client, INTROSPECT, "ind-portal", "client_secret_basic", token=access_token, token_type_hint=hint
    )
    assert answer.get_json()["active"] is True
    assert (
        call(
            client, REVOKE, "ind-portal", "client_secret_basic", token=access_token, token_type_hint=hint
        ).status_code
        == 200
    )
    assert introspect(client, access_token) == {"active": False}


@pytest.mark.parametrize("path", [INTROSPECT, REVOKE])
def test_the_endpoints_take_post_only(client: FlaskClient, path: str) -> None:
    assert client.get(f"{path}?token=t").status_code == 405
