"""Rate limits: per address and per client at each step, answered in the step's protocol with
Retry-After; counted in memory or in Redis, and never at the cost of a database statement."""

from __future__ import annotations

import base64
import itertools
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from broker import limits as limits_module
from broker.limits import SWEEP_SECONDS, SweptMemoryStorage
from broker.web.errors import TOO_MANY_REQUESTS
from tests.clients import SECRET
from tests.conftest import MovableClock, migrated_app
from tests.oidc.portal import Portal, client_assertion, redirect_parameters
from tests.oidc.test_establishment_signin import REQUIRED, answer_picker
from tests.sent_sql import first_words, sent_sql

REDIS = "redis://127.0.0.1:6379/0"
# Each test counts from addresses of its own (documentation addresses: nothing is sent to them).
_addresses = (f"192.0.2.{n % 250 + 1}" if n < 250 else f"198.51.100.{n % 250 + 1}" for n in itertools.count())


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "memory":
        return {}
    if not redis_reachable():
        pytest.skip("Redis at 127.0.0.1:6379 is not reachable: the limits are tested in memory only")
    return {"BROKER_REDIS_URL": REDIS}


@pytest.fixture
def limited(tmp_path: Path, clock: MovableClock, storage: dict[str, str]) -> Callable[..., Flask]:
    """An app with the limits on, `limits` (BROKER_LIMIT_* without the prefix) set, the rest off."""

    def make(**limits: str) -> Flask:
        every = {
            f"BROKER_LIMIT_{name}": "off"
            for name in (
                "AUTHORIZE_ADDRESS",
                "AUTHORIZE_CLIENT",
                "ACS_ADDRESS",
                "TOKEN_ADDRESS",
                "TOKEN_CLIENT",
                "PICKER_ADDRESS",
                "PICKER_CLIENT",
                "RETRY_ADDRESS",
                "RETRY_CLIENT",
            )
        }
        every |= {f"BROKER_LIMIT_{name}": value for name, value in limits.items()}
        return migrated_app(tmp_path, clock, BROKER_RATE_LIMITS="1", **storage, **every)

    return make


def browser(app: Flask, language: str = "nl") -> FlaskClient:
    """A test client from an address of its own."""
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=next(_addresses), HTTP_ACCEPT_LANGUAGE=language)
    return client


def assert_page(answer: object, language: str) -> None:
    assert answer.status_code == 429
    seconds = int(answer.headers["Retry-After"])
    assert 1 <= seconds <= 60
    html = answer.get_data(as_text=True)
    first, second = (TOO_MANY_REQUESTS.title_nl, TOO_MANY_REQUESTS.title_en)[:: 1 if language == "nl" else -1]
    assert html.index(first) < html.index(second), "the page's own language first"
    assert f"{seconds} " in html
    assert "too_many_requests" in html


@pytest.mark.parametrize("language", ["nl", "en"])
def test_authorize_per_address_answers_a_page_in_the_users_language(
    limited: Callable[..., Flask], language: str
) -> None:
    app = limited(AUTHORIZE_ADDRESS="2/minute")
    user = browser(app, language)
    assert [Portal(user, "ind-portal").authorize().status_code for _ in range(2)] == [200, 200]
    assert_page(Portal(user, "ind-portal").authorize(), language)
    # Another address is counted on its own.
    assert Portal(browser(app), "ind-portal").authorize().status_code == 200


def test_authorize_per_client_counts_only_clients_the_configuration_names(
    limited: Callable[..., Flask],
) -> None:
    app = limited(AUTHORIZE_CLIENT="2/minute")
    assert [Portal(browser(app), "ind-portal").authorize().status_code for _ in range(2)] == [200, 200]
    assert_page(Portal(browser(app), "ind-portal").authorize(), "nl")
    assert Portal(browser(app), "olo-post").authorize().status_code == 200
    # A made-up client is refused as before, and fills no counter.
    user = browser(app)
    assert {Portal(user, "nobody").authorize().status_code for _ in range(4)} == {400}


def test_the_acs_per_address(limited: Callable[..., Flask]) -> None:
    app = limited(ACS_ADDRESS="1/minute")
    user = browser(app, "en")
    assert user.get("/saml/acs?SAMLart=x").status_code == 400
    assert_page(user.get("/saml/acs?SAMLart=x"), "en")


def _token_request(client: FlaskClient, client_id: str = "ind-portal") -> object:
    return client.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": "unknown",
            "redirect_uri": "https://portal.test/cb",
        },
        headers={"Authorization": _basic(client_id)},
    )


def _basic(client_id: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{SECRET}".encode()).decode()


@pytest.mark.parametrize("key", ["ADDRESS", "CLIENT"])
def test_the_token_endpoint_answers_slow_down_in_json(limited: Callable[..., Flask], key: str) -> None:
    app = limited(**{f"TOKEN_{key}": "1/minute"})
    portal = browser(app)
    assert _token_request(portal).get_json()["error"] == "invalid_grant"
    other = portal if key == "ADDRESS" else browser(app)
    answer = _token_request(other)
    assert answer.status_code == 429
    assert answer.get_json()["error"] == "slow_down"
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("endpoint", ["/oidc/introspect", "/oidc/revoke"])
def test_introspection_and_revocation_have_the_token_endpoints_limits(
    limited: Callable[..., Flask], endpoint: str
) -> None:
    app = limited(TOKEN_ADDRESS="1/minute")
    portal = browser(app)
    headers = {"Authorization": _basic("ind-portal")}
    assert portal.post(endpoint, data={"token": "unknown"}, headers=headers).status_code == 200
    answer = portal.post(endpoint, data={"token": "unknown"}, headers=headers)
    assert answer.status_code == 429
    assert answer.get_json()["error"] == "slow_down"


def test_userinfo_per_address_answers_in_json(limited: Callable[..., Flask]) -> None:
    app = limited(USERINFO_ADDRESS="1/minute")
    portal = browser(app)
    headers = {"Authorization": "Bearer unknown"}
    assert portal.get("/oidc/userinfo", headers=headers).status_code == 401
    answer = portal.get("/oidc/userinfo", headers=headers)
    assert answer.status_code == 429
    assert answer.get_json()["error"] == "slow_down"
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    # Another address is counted on its own.
    assert browser(app).get("/oidc/userinfo", headers=headers).status_code == 401


def test_pushed_authorization_requests_have_the_token_endpoints_limits(limited: Callable[..., Flask]) -> None:
    app = limited(TOKEN_CLIENT="1/minute")
    portal = browser(app)
    headers = {"Authorization": _basic("ind-portal")}
    # Refused for what it pushes (no redirect_uri), counted all the same: the client authenticated.
    assert portal.post("/oidc/par", data={"response_type": "code"}, headers=headers).status_code == 400
    answer = portal.post("/oidc/par", data={"response_type": "code"}, headers=headers)
    assert answer.status_code == 429
    assert answer.get_json()["error"] == "slow_down"


def test_the_token_endpoint_counts_a_private_key_jwt_client_by_its_assertion(
    limited: Callable[..., Flask],
) -> None:
    app = limited(TOKEN_CLIENT="1/minute")
    # No client_id beside the assertion: its subject names the client.
    assertion = client_assertion("olo-jwt")
    data = {"grant_type": "authorization_code", "code": "unknown", "client_assertion": assertion}
    data["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert browser(app).post("/oidc/token", data=data).status_code == 400
    assert browser(app).post("/oidc/token", data=data).status_code == 429


def test_the_picker_per_address(limited: Callable[..., Flask]) -> None:
    app = limited(PICKER_ADDRESS="1/minute")
    user = browser(app, "en")
    assert user.post("/oidc/establishment", data={"choice": "x"}).status_code == 400
    assert_page(user.post("/oidc/establishment", data={"choice": "x"}), "en")


@pytest.mark.parametrize("key", ["RETRY_ADDRESS", "RETRY_CLIENT", "PICKER_CLIENT"])
def test_try_again_while_kvk_is_away_is_limited(limited: Callable[..., Flask], key: str) -> None:
    app = limited(**{key: "1/minute"})
    user = browser(app)
    waiting = Portal(user, REQUIRED).sign_in(kvk="99999999")  # the stand-in: KvK away
    assert waiting.status_code == 503
    assert answer_picker(user, waiting, "retry").status_code == 503
    assert_page(answer_picker(user, waiting, "retry"), "nl")


def test_a_sign_in_under_the_limits_asks_the_database_nothing_more(
    limited: Callable[..., Flask], tmp_path: Path, clock: MovableClock
) -> None:
    generous = {name: "100/minute" for name in ("AUTHORIZE_ADDRESS", "AUTHORIZE_CLIENT", "ACS_ADDRESS")}
    generous |= {"TOKEN_ADDRESS": "100/minute", "TOKEN_CLIENT": "100/minute"}
    with_limits = statements_of_a_sign_in(limited(**generous))
    without = statements_of_a_sign_in(migrated_app(tmp_path / "plain", clock))
    assert with_limits == without


def statements_of_a_sign_in(app: Flask) -> list[str]:
    """The verbs of the statements one sign-in sends to the database."""
    with sent_sql(app) as sent:
        portal = Portal(browser(app), "ind-portal")
        code = redirect_parameters(portal.sign_in())["code"]
        assert portal.token(code).status_code == 200
    return first_words(sent)


def test_without_redis_the_limits_hold_in_memory_and_nothing_fails(
    tmp_path: Path, clock: MovableClock
) -> None:
    # Nothing listens on port 1: every call to "Redis" fails at once.
    app = migrated_app(
        tmp_path,
        clock,
        BROKER_RATE_LIMITS="1",
        BROKER_REDIS_URL="redis://127.0.0.1:1/0",
        BROKER_LIMIT_AUTHORIZE_ADDRESS="2/minute",
    )
    user = browser(app)
    statuses = [Portal(user, "ind-portal").authorize().status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


@contextmanager
def own_redis(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of this test's own on `port`, keeping nothing on disk; stopped on the way out."""
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=10)


def redis_keys(port: int) -> list[bytes]:
    return list(redis.Redis(port=port).scan_iter("*authorize-address*"))


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_a_redis_that_goes_away_is_stood_in_for_by_memory_and_used_again_when_back(
    tmp_path: Path, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits_module, "STORAGE_RETRY_SECONDS", 0)  # try Redis again at once
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    app = migrated_app(
        tmp_path,
        clock,
        BROKER_RATE_LIMITS="1",
        BROKER_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        BROKER_LIMIT_AUTHORIZE_ADDRESS="3/minute",
    )
    user = browser(app)
    with own_redis(port):
        assert Portal(user, "ind-portal").authorize().status_code == 200
        assert redis_keys(port), "counted in Redis"
    # Redis gone: memory counts from nothing, and holds the limit.
    assert [Portal(user, "ind-portal").authorize().status_code for _ in range(4)] == [200, 200, 200, 429]
    with own_redis(port):  # back, empty
        statuses = [Portal(user, "ind-portal").authorize().status_code for _ in range(2)]
        assert 200 in statuses
        assert redis_keys(port), "counted in Redis again"


def test_the_test_profile_has_the_limits_off_unless_asked(tmp_path: Path, clock: MovableClock) -> None:
    app = migrated_app(tmp_path, clock, BROKER_LIMIT_AUTHORIZE_ADDRESS="1/minute")
    user = browser(app)
    assert {Portal(user, "ind-portal").authorize().status_code for _ in range(3)} == {200}


def test_counting_in_memory_starts_no_thread_and_old_counters_go(monkeypatch: pytest.MonkeyPatch) -> None:
    """limits' MemoryStorage starts a thread to expire counters after almost every count; ours
    expires them from the counting request, once a second at most."""
    moment = [1000.0]
    monkeypatch.setattr(limits_module.time, "monotonic", lambda: moment[0])
    threads = threading.active_count()
    storage = SweptMemoryStorage()
    limiter = FixedWindowRateLimiter(storage)
    item = parse("2/second")
    assert [limiter.hit(item, "a") for _ in range(3)] == [True, True, False]
    assert threading.active_count() == threads
    time.sleep(1.1)  # the window (wall clock, as limits keeps it) is over
    assert limiter.hit(item, "b")
    assert len(storage.storage) == 2, "no sweep within a second of the last"
    moment[0] += SWEEP_SECONDS
    assert limiter.hit(item, "b")
    assert [key.split("/")[1] for key in storage.storage] == ["b"]
    assert threading.active_count() == threads
