"""The connection pool pings a connection only after idleness, and replaces one that is gone."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import sqlalchemy
from flask import Flask
from sqlalchemy import text

from broker import create_app, database
from broker.extensions import db
from config import Settings
from tests.conftest import postgres_url


@pytest.fixture
def pg_app(settings: Settings) -> Iterator[Flask]:
    app = create_app(dataclasses.replace(settings, database_url=postgres_url()))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def pings(pg_app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    with pg_app.app_context():
        dialect = db.engine.dialect
    seen: list[object] = []
    real = dialect.do_ping

    def counting(connection: object) -> bool:
        seen.append(connection)
        return real(connection)

    monkeypatch.setattr(dialect, "do_ping", counting)
    return seen


def _backend_pid(app: Flask) -> int:
    with app.app_context():
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.remove()
    return int(pid)


def _terminate(pid: int) -> None:
    admin = sqlalchemy.create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_a_connection_in_steady_use_is_not_pinged(pg_app, pings):
    first = _backend_pid(pg_app)
    assert _backend_pid(pg_app) == first
    assert _backend_pid(pg_app) == first
    assert pings == []


def test_a_connection_idle_too_long_is_pinged_and_replaced_when_gone(pg_app, pings, monkeypatch):
    first = _backend_pid(pg_app)
    _terminate(first)
    monkeypatch.setattr(database, "IDLE_BEFORE_PING", 0.0)
    second = _backend_pid(pg_app)
    assert second != first
    assert len(pings) == 1


def test_without_the_ping_a_cut_connection_fails_the_request(pg_app, pings):
    # What the ping prevents: the same cut, inside the idle window, reaches the request.
    _terminate(_backend_pid(pg_app))
    with pytest.raises(sqlalchemy.exc.OperationalError):
        _backend_pid(pg_app)
    assert pings == []
