"""The flow-state stores, on SQLite and on PostgreSQL, through the real migrations."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask_migrate import upgrade

from broker import create_app, models
from broker.extensions import db
from config import Settings
from saml.errors import Reason, SamlError
from tests.conftest import postgres_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_app(request: pytest.FixtureRequest, settings: Settings, app: Flask) -> Iterator[Flask]:
    if request.param == "sqlite":
        yield app
        return
    pg_app = create_app(dataclasses.replace(settings, database_url=postgres_url()))
    with pg_app.app_context():
        upgrade()
    yield pg_app
    with pg_app.app_context():
        db.engine.dispose()


def _request(now: datetime, lifetime: timedelta = timedelta(minutes=15)) -> models.SamlRequest:
    return models.SamlRequest(
        id=f"_{secrets.token_hex(16)}",
        reference=secrets.token_urlsafe(16),
        service_slug="omgevingsloket",
        minimum_level="loa3",
        purpose="test_login",
        created_at=now,
        expires_at=now + lifetime,
    )


def test_a_request_is_answered_once(store_app):
    now = datetime.now(UTC)
    with store_app.app_context():
        pending = _request(now)
        db.session.add(pending)
        db.session.commit()
        found = models.pending_request(pending.reference, now)
        assert found.expires_at == pending.expires_at
        models.consume(
            found.id, now, "https://hm.test", f"_{secrets.token_hex(8)}", now + timedelta(minutes=5)
        )
        with pytest.raises(SamlError) as second:
            models.pending_request(pending.reference, now)
        with pytest.raises(SamlError) as claimed:
            models.consume(found.id, now, None, None, None)
    assert second.value.reason is Reason.REQUEST_USED
    assert claimed.value.reason is Reason.REQUEST_USED


def test_an_assertion_id_is_accepted_once_across_requests(store_app):
    now = datetime.now(UTC)
    assertion_id = f"_{secrets.token_hex(8)}"
    with store_app.app_context():
        first, second = _request(now), _request(now)
        db.session.add_all([first, second])
        db.session.commit()
        models.consume(first.id, now, "https://hm.test", assertion_id, now + timedelta(minutes=5))
        with pytest.raises(SamlError) as replay:
            models.consume(second.id, now, "https://hm.test", assertion_id, now + timedelta(minutes=5))
        # The refused replay did not use up the second request.
        assert models.pending_request(second.reference, now).consumed_at is None
    assert replay.value.reason is Reason.ASSERTION_REPLAYED


def test_expired_and_unknown_requests_are_refused(store_app):
    now = datetime.now(UTC)
    with store_app.app_context():
        old = _request(now - timedelta(minutes=20))
        db.session.add(old)
        db.session.commit()
        with pytest.raises(SamlError) as expired:
            models.pending_request(old.reference, now)
        with pytest.raises(SamlError) as unknown:
            models.pending_request("no-such-reference", now)
        assert models.purge_expired(now) >= 1
        assert db.session.get(models.SamlRequest, old.id) is None
    assert expired.value.reason is Reason.REQUEST_EXPIRED
    assert unknown.value.reason is Reason.REQUEST_UNKNOWN
