"""Layered fixtures: settings → app → client, with a clock the tests can move."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from broker import create_app
from broker.extensions import db
from config import Registry, Settings, load_settings
from tests.clients import write_config

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
TEST_BASE_URL = "http://localhost"


class MovableClock:
    """A clock tests can set and move; the app reads it for every 'now'."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared beside the repo; tests that need it skip, saying why, when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the shared samples and schemas are not available here")
    return SHARED


def broker_environ(instance: Path, **overrides: str) -> dict[str, str]:
    environ = {
        "BROKER_ENV": "test",
        "BROKER_SIMULATOR": "1",
        "BROKER_INSTANCE_PATH": str(instance),
        "BROKER_DATABASE_URL": f"sqlite:///{instance / 'test.sqlite3'}",
        "BROKER_BASE_URL": TEST_BASE_URL,
        "BROKER_CONFIG": str(write_config(instance / "config")),
        # Running apps see a change to their configuration file at their next lookup.
        "BROKER_CONFIG_CHECK_SECONDS": "0",
    }
    environ.update(overrides)
    return environ


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(broker_environ(tmp_path_factory.mktemp("instance")))


@pytest.fixture(scope="session")
def registry(settings: Settings) -> Registry:
    """The services and clients of the tests' configuration file."""
    return settings.config.read()


POSTGRES_URL = os.environ.get("BROKER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


_postgres_emptied = False


def postgres_url() -> str:
    """The test PostgreSQL database's URL; skips the calling test, saying why, when it is not reachable.
    The first call of a test run empties the database, so the run starts from no schema whatever an
    earlier run (of another revision of the code) left there."""
    global _postgres_emptied
    try:
        engine = sqlalchemy.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.begin() as connection:
            if not _postgres_emptied:
                connection.execute(sqlalchemy.text("DROP SCHEMA public CASCADE"))
                connection.execute(sqlalchemy.text("CREATE SCHEMA public"))
        engine.dispose()
    except sqlalchemy.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(exc.orig).__name__})")
    _postgres_emptied = True
    return POSTGRES_URL


@pytest.fixture(scope="session")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(autouse=True)
def _reset_clock(clock: MovableClock) -> None:
    clock.moment = datetime.now(UTC)


@pytest.fixture(scope="session")
def app(settings: Settings, clock: MovableClock) -> Iterator[Flask]:
    app = create_app(settings, clock)
    with app.app_context():
        upgrade()
    yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@contextmanager
def apps_on(settings: Settings, clock: MovableClock, count: int = 1) -> Iterator[list[Flask]]:
    """`count` apps on `settings` (one database between them, as workers share one), migrated;
    their connection pools closed afterwards, so a PostgreSQL database is left without sessions."""
    apps = [create_app(settings, clock) for _ in range(count)]
    with apps[0].app_context():
        upgrade()
    try:
        yield apps
    finally:
        for app in apps:
            with app.app_context():
                db.engine.dispose()


def migrated_app(instance: Path, clock: MovableClock | None, **overrides: str) -> Flask:
    """An app of its own, in `instance`, with `overrides` of the tests' environment; migrated.
    Without a clock it runs on the real one."""
    app = create_app(load_settings(broker_environ(instance, **overrides)), clock)
    with app.app_context():
        upgrade()
    return app


def migrated_broker(instance: Path, base: str, config: str, **overrides: str) -> Flask:
    """A broker at `base` on the real clock (tokens' times checked as a portal would), configured
    by the YAML `config` written into `instance`; migrated."""
    path = instance / "broker.yaml"
    path.write_text(config)
    return migrated_app(instance, None, BROKER_BASE_URL=base, BROKER_CONFIG=str(path), **overrides)


@pytest.fixture(scope="session")
def post_app(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Flask:
    """An app whose AuthnRequests ask the HM to answer over HTTP-POST (the default is HTTP-Artifact)."""
    return migrated_app(tmp_path_factory.mktemp("post-instance"), clock, BROKER_SAML_RESPONSE_BINDING="post")


@pytest.fixture
def post_client(post_app: Flask) -> FlaskClient:
    return post_app.test_client()


@pytest.fixture
def client_for(client: FlaskClient, post_client: FlaskClient) -> Callable[[str], FlaskClient]:
    """The test client of the app that asks to be answered over `binding` (artifact or post): the
    ACS takes no other."""
    return lambda binding: post_client if binding == "post" else client
