"""Pushed authorization requests (RFC 9126): posted by the portal's server, authenticated as at the
token endpoint, checked as /oidc/authorize checks, and brought to it once, within a minute, by the
browser; a client may be held to pushing every request."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from tests.clients import REDIRECT, SECRET
from tests.conftest import MovableClock
from tests.oidc.portal import Portal, client_assertion, redirect_parameters
from tests.oidc.test_request_object import parameters, request_claims, signed, signed_in

PREFIX = "urn:ietf:params:oauth:request_uri:"


def authentication(portal: Portal) -> tuple[dict[str, str], dict[str, str]]:
    """The form fields and headers `portal` authenticates with, as at the token endpoint."""
    if portal.method == "client_secret_basic":
        basic = base64.b64encode(f"{portal.client_id}:{SECRET}".encode()).decode()
        return {}, {"Authorization": f"Basic {basic}"}
    assertion = client_assertion(portal.client_id, aud="http://localhost/oidc/par")
    return {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }, {}


def push(portal: Portal, fields: dict[str, Any], authenticate: bool = True) -> TestResponse:
    form, headers = authentication(portal) if authenticate else ({}, {})
    return portal.client.post("/oidc/par", data=fields | form, headers=headers)


def pushed_uri(portal: Portal, fields: dict[str, Any]) -> str:
    answer = push(portal, fields)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["request_uri"].startswith(PREFIX)
    assert 0 < body["expires_in"] <= 90
    assert answer.headers["Cache-Control"] == "no-store"
    return body["request_uri"]


def authorize(portal: Portal, request_uri: str, **query: str) -> TestResponse:
    fields = {"client_id": portal.client_id, "request_uri": request_uri} | query
    return portal.client.get(f"/oidc/authorize?{urlencode(fields)}")


def test_a_pushed_request_signs_in(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    claims = signed_in(portal, authorize(portal, pushed_uri(portal, parameters(portal))))
    assert claims["aud"] == ["olo-jwt"]


def test_a_client_with_a_secret_pushes_with_it(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    signed_in(portal, authorize(portal, pushed_uri(portal, parameters(portal))))


def test_a_pushed_request_object_signs_in(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    uri = pushed_uri(portal, {"client_id": "olo-jwt", "request": signed(request_claims(portal))})
    signed_in(portal, authorize(portal, uri))


def test_a_request_uri_is_good_for_one_use(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    uri = pushed_uri(portal, parameters(portal))
    assert authorize(portal, uri).status_code == 200
    again = authorize(portal, uri)
    assert again.status_code == 400
    assert "invalid_request_uri" in again.get_data(as_text=True)


def test_a_request_uri_is_good_for_a_minute(client: FlaskClient, clock: MovableClock) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    uri = pushed_uri(portal, parameters(portal))
    clock.advance(timedelta(seconds=61))
    assert "invalid_request_uri" in authorize(portal, uri).get_data(as_text=True)


def test_a_request_uri_is_its_clients_only(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    uri = pushed_uri(portal, parameters(portal))
    answer = authorize(Portal(client, "ind-portal"), uri, redirect_uri=REDIRECT)
    assert redirect_parameters(answer)["error"] == "invalid_request_uri"
    # Not used up by the attempt: its own client still signs in with it.
    signed_in(portal, authorize(portal, uri))


def test_a_made_up_request_uri_is_refused(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    params = redirect_parameters(authorize(portal, PREFIX + "made-up", redirect_uri=REDIRECT))
    assert params["error"] == "invalid_request_uri"


def test_pushing_needs_the_clients_authentication(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    answer = push(portal, parameters(portal), authenticate=False)
    assert answer.status_code in {400, 401}
    assert answer.get_json()["error"] == "invalid_client"
    secretless = push(portal, parameters(portal) | {"client_secret": "guess"}, authenticate=False)
    assert secretless.get_json()["error"] == "invalid_client"


def test_a_bad_pushed_request_is_answered_to_the_pusher_never_by_redirect(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    cases = {
        "code_challenge": ("", "invalid_request"),
        "redirect_uri": ("https://attacker.test/callback", "invalid_request"),
        "scope": ("kvk", "invalid_scope"),
        "response_type": ("token", "unsupported_response_type"),
        # The assertion's subject is the client: a client_id naming another fails authentication.
        "client_id": ("ind-portal", "invalid_client"),
        "request_uri": (PREFIX + "x", "invalid_request"),
        "request": ("not-a-jwt", "invalid_request_object"),
    }
    for name, (value, error) in cases.items():
        answer = push(portal, parameters(portal, **{name: value}))
        assert answer.status_code == 400, (name, answer.get_data(as_text=True))
        assert answer.get_json()["error"] == error, name
        assert "Location" not in answer.headers


def test_a_pushed_client_id_must_be_the_authenticated_clients(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    answer = push(portal, parameters(portal, client_id="ind-signed"))
    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_request")


def test_a_repeated_or_query_parameter_is_refused(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    form, headers = authentication(portal)
    fields = [*parameters(portal).items(), ("state", "another"), *form.items()]
    answer = client.post("/oidc/par", data=MultiDict(fields), headers=headers)
    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_request")
    assert "state" in answer.get_json()["error_description"]
    query = client.post("/oidc/par?state=x", data=parameters(portal), headers=headers)
    assert (query.status_code, query.get_json()["error"]) == (400, "invalid_request")


def test_par_takes_post_only(client: FlaskClient) -> None:
    assert client.get("/oidc/par").status_code == 405


def test_a_client_held_to_pushing_cannot_authorize_otherwise(client: FlaskClient) -> None:
    portal = Portal(client, "nlgov-pushed", "private_key_jwt")
    params = redirect_parameters(portal.authorize("openid"))
    assert params["error"] == "invalid_request"
    assert "PAR" in params["error_description"]
    by_value = portal.client.get(
        "/oidc/authorize?"
        + urlencode({"client_id": portal.client_id, "request": signed(request_claims(portal))})
    )
    assert by_value.status_code == 400
    signed_in(portal, authorize(portal, pushed_uri(portal, parameters(portal))))
