"""The database connection: engine options, SQLite's pragmas, and a ping only after idleness."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from broker.extensions import db
from broker.models import audit

# A connection unused for this long may have been cut (a database restart, a firewall's idle
# timeout): it is pinged before use. A busy broker reuses its connections long before that, so a
# sign-in pays no round trip for the check; SQLAlchemy's `pool_pre_ping` pings on every checkout.
IDLE_BEFORE_PING = 10.0
# Seconds a new PostgreSQL connection may take: a database host that accepts and says nothing
# makes /readyz (and a sign-in) answer "not ready" instead of hanging until the proxy gives up.
CONNECT_TIMEOUT = 5


def init_app(app: Flask, database_url: str) -> None:
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    if database_url.startswith("postgresql"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}}
    db.init_app(app)
    with app.app_context():
        engine = db.engine
    event.listen(engine.pool, "checkin", _mark_idle)
    event.listen(engine.pool, "checkout", _ping_if_idle(engine))
    if database_url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", audit.sqlite_functions)


def _mark_idle(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(engine: Engine) -> Any:
    def ping(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_BEFORE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (SQLAlchemy's PoolEvents).
            raise DisconnectionError(f"a connection idle {time.monotonic() - since:.0f} s is gone") from error

    return ping


def _sqlite_pragmas(connection: sqlite3.Connection, _record: object) -> None:
    # WAL lets several workers read while one writes; NORMAL syncs at checkpoints, not every commit.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # As PostgreSQL does: a row may not point at one that is not there.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
