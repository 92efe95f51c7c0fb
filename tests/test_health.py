"""/healthz and /readyz: open, cheap, nothing of anyone; each readiness check named with its state."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from broker import create_app
from broker.database import CONNECT_TIMEOUT
from config import load_settings
from saml.simulator.hm import METADATA_VALIDITY
from tests.conftest import MovableClock, broker_environ, migrated_app
from tests.sent_sql import sent_sql

CHECKS = {"database", "keys", "metadata", "configuration"}


@pytest.fixture
def calm_app(tmp_path: Path, clock: MovableClock) -> Flask:
    """An app whose expiry warning (one day) is well within the simulator's metadata's week."""
    return migrated_app(tmp_path, clock, BROKER_EXPIRY_WARNING_DAYS="1")


@contextmanager
def statements_of(app: Flask) -> Iterator[list[str]]:
    """The statements sent to the database meanwhile, SQLite's own PRAGMAs left out."""
    with sent_sql(app) as sent:
        yield sent
        sent[:] = [sql for sql in sent if not sql.startswith("PRAGMA")]


def test_healthz_answers_without_touching_anything(app: Flask) -> None:
    with statements_of(app) as statements:
        answer = app.test_client().get("/healthz")
    assert (answer.status_code, answer.get_json()) == (200, {"status": "ok"})
    assert statements == []


def test_readyz_names_each_check_and_asks_the_database_once(calm_app: Flask) -> None:
    with statements_of(calm_app) as statements:
        answer = calm_app.test_client().get("/readyz")
    body = answer.get_json()
    assert answer.status_code == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == CHECKS
    assert {name: check["state"] for name, check in body["checks"].items()} == dict.fromkeys(CHECKS, "ok")
    assert body["checks"]["keys"]["token_signing"] == ["ES256", "RS256"]
    assert body["checks"]["configuration"]["clients"] > 0
    assert statements == ["SELECT 1"]
    assert answer.headers["Cache-Control"] == "no-store"


def test_metadata_near_its_end_is_expiring_and_still_ready(app: Flask, clock: MovableClock) -> None:
    # The simulator's metadata is valid for a week; the default warning is two weeks.
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 200
    metadata = answer.get_json()["checks"]["metadata"]
    assert metadata["state"] == "expiring"
    assert metadata["valid_until"]


def test_expired_metadata_makes_the_broker_not_ready(calm_app: Flask, clock: MovableClock) -> None:
    clock.advance(METADATA_VALIDITY + timedelta(minutes=1))
    answer = calm_app.test_client().get("/readyz")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "not_ready"
    assert body["checks"]["metadata"]["state"] == "failing"
    assert body["checks"]["database"]["state"] == "ok"


def test_an_expired_saml_certificate_makes_the_broker_not_ready(calm_app: Flask, clock: MovableClock) -> None:
    # The development certificate is valid for years: move past its end.
    clock.advance(timedelta(days=365 * 30))
    checks = calm_app.test_client().get("/readyz").get_json()["checks"]
    assert checks["keys"]["state"] == "failing"


def test_an_unreachable_database_makes_the_broker_not_ready(tmp_path: Path, clock: MovableClock) -> None:
    missing = tmp_path / "no-such-folder" / "broker.sqlite3"
    settings = load_settings(
        broker_environ(tmp_path, BROKER_DATABASE_URL=f"sqlite:///{missing}", BROKER_EXPIRY_WARNING_DAYS="1")
    )
    answer = create_app(settings, clock).test_client().get("/readyz")
    assert answer.status_code == 503
    database = answer.get_json()["checks"]["database"]
    # The kind of error, never its message (which may name a host and a user).
    assert database == {"state": "failing", "error": "OperationalError"}


def test_a_database_that_accepts_and_says_nothing_makes_the_broker_not_ready_in_time(
    tmp_path: Path, clock: MovableClock
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nothing ever answers them
        url = f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/test"
        settings = load_settings(broker_environ(tmp_path, BROKER_DATABASE_URL=url))
        started = time.monotonic()
        answer = create_app(settings, clock).test_client().get("/readyz")
        waited = time.monotonic() - started
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["database"]["state"] == "failing"
    assert waited < CONNECT_TIMEOUT + 5


def test_a_refused_configuration_change_is_stale_and_still_ready(calm_app: Flask) -> None:
    config_file = calm_app.extensions["broker"].settings.config.path
    client = calm_app.test_client()
    assert client.get("/readyz").get_json()["checks"]["configuration"]["state"] == "ok"
    good = config_file.read_text()
    config_file.write_text("services: [")
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json()["checks"]["configuration"]["state"] == "stale"
    config_file.write_text(good + "\n")
    assert client.get("/readyz").get_json()["checks"]["configuration"]["state"] == "ok"
