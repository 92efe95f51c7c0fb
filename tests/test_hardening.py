"""Hardening: HSTS in production, request size caps, the proxies trusted, the KvK API's CA, and
expired flow state swept by the workers in bounded batches."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from broker import create_app, models
from broker.extensions import db
from broker.hardening import HSTS, QUERY_CAP, SMALL_BODY
from broker.kvk import requests_transport
from broker.models import SimulatorArtifact
from broker.models.purge import sweep_expired
from broker.sweep import Sweeper
from config import load_settings
from tests.conftest import MovableClock, apps_on, broker_environ, migrated_app, postgres_url
from tests.oidc.portal import Portal
from tests.test_config import production_environ, settings_for_hm  # noqa: F401 (a fixture)


def test_production_answers_carry_hsts(tmp_path: Path, settings_for_hm: Path) -> None:  # noqa: F811
    app = create_app(load_settings(production_environ(tmp_path, BROKER_HM_METADATA=str(settings_for_hm))))
    client = app.test_client()
    for path in ("/saml/metadata", "/healthz", "/no-such-page"):
        assert client.get(path).headers["Strict-Transport-Security"] == HSTS


def test_development_answers_carry_no_hsts(client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


def test_a_long_query_string_gets_a_414_page(client: FlaskClient) -> None:
    answer = client.get(f"/saml/acs?SAMLart={'A' * QUERY_CAP}")
    assert answer.status_code == 414
    assert "http_414" in answer.get_data(as_text=True)


def test_an_authorization_request_keeps_its_own_caps_answered_to_the_portal(client: FlaskClient) -> None:
    # Longer than the query cap, answered in protocol form (tests/oidc/test_request_caps.py).
    answer = Portal(client, "ind-portal").authorize(nonce="n" * (2 * QUERY_CAP))
    assert answer.status_code == 302
    assert "error=invalid_request" in answer.headers["Location"]


def test_a_large_token_request_gets_an_oauth_error(client: FlaskClient) -> None:
    answer = client.post("/oidc/token", data={"grant_type": "authorization_code", "code": "c" * SMALL_BODY})
    assert answer.status_code == 413
    assert answer.get_json()["error"] == "invalid_request"


def test_a_large_userinfo_request_gets_an_oauth_error(client: FlaskClient) -> None:
    answer = client.post("/oidc/userinfo", data={"access_token": "t" * SMALL_BODY})
    assert answer.status_code == 413
    assert answer.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("endpoint", ["/oidc/introspect", "/oidc/revoke"])
def test_a_large_introspection_or_revocation_request_gets_an_oauth_error(
    client: FlaskClient, endpoint: str
) -> None:
    answer = client.post(endpoint, data={"token": "t" * SMALL_BODY})
    assert answer.status_code == 413
    assert answer.get_json()["error"] == "invalid_request"


def test_a_large_answer_to_the_picker_gets_the_413_page(client: FlaskClient) -> None:
    answer = client.post("/oidc/establishment", data={"choice": "c" * SMALL_BODY})
    assert answer.status_code == 413
    assert "message_too_large" in answer.get_data(as_text=True)


def test_a_large_saml_response_still_reaches_the_acs(post_client: FlaskClient) -> None:
    # The ACS keeps the SAML message cap: a body past the small one is read, then refused as SAML.
    answer = post_client.post("/saml/acs", data={"SAMLResponse": "A" * (2 * SMALL_BODY), "RelayState": "x"})
    assert answer.status_code == 400
    assert "relay_state_invalid" in answer.get_data(as_text=True)


@pytest.mark.parametrize(("proxies", "statuses"), [("1", [200, 200]), ("0", [200, 429])])
def test_the_address_comes_from_the_trusted_proxies_only(
    tmp_path: Path, clock: MovableClock, proxies: str, statuses: list[int]
) -> None:
    app = migrated_app(
        tmp_path,
        clock,
        BROKER_PROXY_COUNT=proxies,
        BROKER_RATE_LIMITS="1",
        BROKER_LIMIT_AUTHORIZE_ADDRESS="1/minute",
    )
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # the proxy
    seen = []
    for user in ("192.0.2.10", "192.0.2.11"):
        client.environ_base["HTTP_X_FORWARDED_FOR"] = user
        seen.append(Portal(client, "ind-portal").authorize().status_code)
    assert seen == statuses


@responses.activate
def test_the_kvk_api_is_verified_with_the_configured_ca(tmp_path: Path) -> None:
    ca = tmp_path / "kvk-ca.pem"
    ca.write_text("a CA certificate")
    url = "https://api.kvk.example/api/v1/basisprofielen/24444001/vestigingen"
    responses.get(url, body=b"{}")
    requests_transport(5, 1024, ca)(url, {})
    requests_transport(5, 1024)(url, {})
    configured, default = (call.request.req_kwargs["verify"] for call in responses.calls)
    assert configured == str(ca)
    assert default != str(ca)  # the default store
    settings = load_settings(broker_environ(tmp_path, BROKER_KVK_TLS_CA=str(ca)))
    assert settings.kvk.tls_ca_bundle == ca


# --- the sweep ------------------------------------------------------------------------------------


def _artifacts(app: Flask, expired: int, current: int, now: datetime) -> None:
    with app.app_context():
        for n in range(expired + current):
            moment = now - timedelta(minutes=1) if n < expired else now + timedelta(minutes=5)
            models.put_artifact(secrets.token_bytes(20), b"<Response/>", moment)
        db.session.commit()


def _count(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(SimulatorArtifact)).scalar_one()


def test_a_sweep_removes_a_bounded_batch_of_expired_rows_only(tmp_path: Path, clock: MovableClock) -> None:
    app = migrated_app(tmp_path, clock)
    now = datetime.now(UTC)
    _artifacts(app, expired=7, current=3, now=now)
    with app.app_context():
        assert sweep_expired(now, batch=5) == 5
        assert sweep_expired(now, batch=5) == 2
        assert sweep_expired(now, batch=5) == 0
    assert _count(app) == 3


def test_a_worker_sweeps_after_a_response_at_most_once_per_interval(
    tmp_path: Path, clock: MovableClock
) -> None:
    app = migrated_app(tmp_path, clock)
    _artifacts(app, expired=2, current=0, now=clock())
    moment = [0.0]
    sweeper = Sweeper(app, 60, clock, monotonic=lambda: moment[0])
    with app.test_request_context():
        early = app.response_class("early")
        sweeper.after_request(early)
        moment[0] = 60.0
        first, second = app.response_class("first"), app.response_class("second")
        sweeper.after_request(first)
        sweeper.after_request(second)
    early.close()
    assert _count(app) == 2  # not due before the interval; and due, it waits for the close
    first.close()
    assert _count(app) == 0
    _artifacts(app, expired=1, current=0, now=clock())
    second.close()
    assert _count(app) == 1  # once per interval: the second response carried no sweep


def test_sweeps_in_several_workers_at_once_share_the_rows(clock: MovableClock, tmp_path: Path) -> None:
    url = postgres_url()
    settings = load_settings(broker_environ(tmp_path, BROKER_DATABASE_URL=url))
    with apps_on(settings, clock, count=3) as apps:
        with apps[0].app_context():
            db.session.execute(SimulatorArtifact.__table__.delete())
            db.session.commit()
        now = datetime.now(UTC)
        _artifacts(apps[0], expired=300, current=0, now=now)
        removed: list[int] = []
        errors: list[BaseException] = []

        def sweep(app: Flask) -> None:
            try:
                with app.app_context():
                    while count := sweep_expired(now, batch=20):
                        removed.append(count)
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=sweep, args=(app,)) for app in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert sum(removed) >= 300  # with whatever else of other tests had expired
        assert _count(apps[0]) == 0
