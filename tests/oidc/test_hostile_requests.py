"""What anyone can send to /oidc/authorize and /oidc/token without credentials: always an answer in
the protocol's form (the page, a redirect with the error, a JSON error), never a 500, and never the
sent value repeated in an error description or the log."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jwt
from werkzeug.test import TestResponse

from broker.oidc.client_auth import MAX_ASSERTION_LIFETIME
from broker.oidc.server import UNREPEATABLE
from tests.clients import PORTAL_KEY, REDIRECT
from tests.conftest import TEST_BASE_URL
from tests.oidc.portal import Portal, client_assertion, redirect_parameters

# Each holds a character RFC 6749 §5.2 keeps out of an error description, and a mark to look for.
MARK = "h0stile"
UNDESCRIBABLE = [f'{MARK}"', f"{MARK}\\", f"{MARK}\r\n", f"{MARK}é"]
LIFETIME = int(MAX_ASSERTION_LIFETIME.total_seconds())


@pytest.fixture(autouse=True)
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every answer here is a refusal the broker expected: nothing logged as an error, and no log line
    repeats what was sent."""
    with caplog.at_level(logging.INFO):
        yield caplog
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert MARK not in caplog.text


def assert_page(page: TestResponse, error: str) -> None:
    """The bilingual page for a request whose redirect URI is not trusted, naming the OAuth error."""
    assert page.status_code == 400
    assert "Location" not in page.headers
    text = page.get_data(as_text=True)
    assert f"({error})" in text
    assert MARK not in text


def assert_json_error(answer: TestResponse, status: int, error: str) -> dict[str, Any]:
    assert (answer.status_code, answer.mimetype) == (status, "application/json")
    body = answer.get_json()
    assert body["error"] == error
    assert MARK not in answer.get_data(as_text=True)
    return body


# --- /oidc/authorize ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", UNDESCRIBABLE)
def test_an_unregistered_redirect_uri_that_cannot_be_described_gets_the_page(
    client: FlaskClient, value: str
) -> None:
    assert_page(
        Portal(client, "ind-portal").authorize(redirect_uri=f"https://evil.test/{value}"), "invalid_request"
    )


@pytest.mark.parametrize("value", UNDESCRIBABLE)
def test_a_response_type_that_cannot_be_described_goes_back_to_a_trusted_redirect_uri(
    client: FlaskClient, value: str
) -> None:
    portal = Portal(client, "ind-portal")
    answer = portal.authorize(response_type=value)
    assert MARK not in answer.headers["Location"]
    params = redirect_parameters(answer)
    assert (params["error"], params["error_description"]) == ("unsupported_response_type", UNREPEATABLE)
    assert params["state"] == portal.state


@pytest.mark.parametrize("value", UNDESCRIBABLE)
def test_a_response_type_that_cannot_be_described_gets_the_page_without_a_trusted_redirect_uri(
    client: FlaskClient, value: str
) -> None:
    page = Portal(client, "ind-portal").authorize(response_type=value, redirect_uri="https://evil.test/cb")
    assert_page(page, "unsupported_response_type")


@pytest.mark.parametrize("value", UNDESCRIBABLE)
def test_a_response_mode_that_cannot_be_described_goes_back_with_invalid_request(
    client: FlaskClient, value: str
) -> None:
    answer = Portal(client, "ind-portal").authorize(response_mode=value)
    assert MARK not in answer.headers["Location"]
    assert redirect_parameters(answer)["error"] == "invalid_request"


# --- /oidc/token: what the code grant does not read --------------------------------------------------


@pytest.mark.parametrize("value", UNDESCRIBABLE)
def test_a_scope_at_the_token_endpoint_is_not_read(client: FlaskClient, value: str) -> None:
    # RFC 6749 §4.1.3 gives the code grant's token request no scope: the code's scope stands.
    portal = Portal(client, "ind-portal")
    answer = portal.token(redirect_parameters(portal.sign_in(scope="openid kvk"))["code"], scope=value)
    assert answer.status_code == 200
    assert answer.get_json()["scope"] == "openid kvk"


# --- /oidc/token: client_secret_basic ----------------------------------------------------------------


@pytest.mark.parametrize("authorization", ["x ", " x", "Bearer", "Digest abc def"])
def test_another_authorization_scheme_is_not_basic(client: FlaskClient, authorization: str) -> None:
    answer = client.post(
        "/oidc/token",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT},
        headers={"Authorization": authorization},
    )
    assert_json_error(answer, 401, "invalid_client")


def _basic(credentials: bytes) -> str:
    return "Basic " + base64.b64encode(credentials).decode()


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic ",
        "Basic",
        "Basic !!!!",
        "Basic aW5",
        "Basic aW5k",
        _basic(b"\xff\xfe:\xff"),
        _basic(b"ind-portal:\xe9"),
        "Basic \u00e9\u00e9\u00e9\u00e9",
    ],
    ids=[
        "empty",
        "scheme-only",
        "not-base64",
        "bad-padding",
        "no-colon",
        "not-utf8",
        "secret-not-utf8",
        "not-ascii",
    ],
)
def test_an_unreadable_basic_header_is_invalid_client(client: FlaskClient, authorization: str) -> None:
    answer = client.post(
        "/oidc/token",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT},
        headers={"Authorization": authorization},
    )
    assert_json_error(answer, 401, "invalid_client")
    # RFC 6749 §5.2: the scheme the client tried, in WWW-Authenticate.
    assert answer.headers["WWW-Authenticate"].startswith('Basic error="invalid_client"')


# --- /oidc/token: private_key_jwt ---------------------------------------------------------------------


def _assert_refused(client: FlaskClient, assertion: str, client_id: str = "olo-jwt") -> dict[str, Any]:
    answer = client.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )
    return assert_json_error(answer, 400, "invalid_client")


@pytest.mark.parametrize("client_id", ["ind-portal", "olo-post", "olo-public"])
def test_an_assertion_for_a_client_without_keys_is_invalid_client(
    client: FlaskClient, client_id: str
) -> None:
    _assert_refused(client, client_assertion(client_id), client_id)


def _segment(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "RS256", "crit": [1]},
        {"alg": "RS256", "crit": True},
        {"alg": {"name": "RS256"}},
        {"alg": "RS256", "crit": [f'{MARK}"'], f'{MARK}"': 1},
        {"alg": "RS256", "crit": [f'{MARK}"']},
        {"alg": f'{MARK}"'},
    ],
    ids=[
        "crit-number",
        "crit-true",
        "alg-object",
        "crit-unknown-undescribable",
        "crit-missing-undescribable",
        "alg-undescribable",
    ],
)
def test_an_assertion_whose_header_has_members_of_the_wrong_type_is_invalid_client(
    client: FlaskClient, header: dict[str, Any]
) -> None:
    _, claims, signature = client_assertion("olo-jwt").split(".")
    _assert_refused(client, f"{_segment(header)}.{claims}.{signature}")


@pytest.mark.parametrize(
    "assertion",
    [
        "garbage",
        "abc.def",
        "!!!.***.$$$",
        f"{base64.urlsafe_b64encode(b'not json').decode()}.{_segment({'sub': 'olo-jwt'})}.c2ln",
    ],
    ids=["garbage", "two-segments", "not-base64", "not-json"],
)
def test_an_assertion_without_a_jws_structure_is_invalid_client(client: FlaskClient, assertion: str) -> None:
    _assert_refused(client, assertion)


@pytest.mark.parametrize("exp", [10**20, 1e300], ids=["1e20", "1e300"])
def test_an_assertion_with_an_exp_beyond_any_clock_is_invalid_client(client: FlaskClient, exp: float) -> None:
    _assert_refused(client, client_assertion("olo-jwt", exp=exp))


def test_an_assertion_good_for_a_year_is_invalid_client(client: FlaskClient) -> None:
    body = _assert_refused(client, client_assertion("olo-jwt", exp=int(time.time()) + 365 * 24 * 3600))
    assert body["error_description"] == f"a client assertion may be good for at most {LIFETIME} seconds"


def test_an_assertion_without_iat_is_good_for_at_most_the_lifetime_from_now(client: FlaskClient) -> None:
    # The leeway (60 s) is for a portal whose clock runs ahead; beyond it, refused.
    claims = {
        "iss": "olo-jwt",
        "sub": "olo-jwt",
        "aud": f"{TEST_BASE_URL}/oidc/token",
        "exp": int(time.time()) + LIFETIME + 90,
        "jti": secrets.token_urlsafe(12),
    }
    _assert_refused(client, jwt.encode({"alg": "RS256", "kid": PORTAL_KEY.kid}, claims, PORTAL_KEY))


def test_an_assertion_is_good_for_at_most_the_lifetime_after_its_iat(client: FlaskClient) -> None:
    now = int(time.time())
    _assert_refused(client, client_assertion("olo-jwt", iat=now - 30, exp=now - 30 + LIFETIME + 1))


@pytest.mark.parametrize(
    "claims",
    [{"exp": "soon"}, {"exp": [1]}, {"iat": "now"}, {"iat": None}, {"iat": 1e400}],
    ids=["exp-text", "exp-list", "iat-text", "iat-null", "iat-infinite"],
)
def test_exp_and_iat_must_be_times(client: FlaskClient, claims: dict[str, Any]) -> None:
    _assert_refused(client, client_assertion("olo-jwt", **claims))


def test_an_assertion_good_for_exactly_the_lifetime_is_accepted(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    code = redirect_parameters(portal.sign_in())["code"]
    now = int(time.time())
    answer = portal.token(code, client_assertion=client_assertion("olo-jwt", iat=now, exp=now + LIFETIME))
    assert answer.status_code == 200, answer.get_json()


def test_a_client_id_beside_an_assertion_for_another_client_is_invalid_client(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    code = redirect_parameters(portal.sign_in())["code"]
    answer = portal.token(code, client_id="ind-portal")
    assert_json_error(answer, 400, "invalid_client")
