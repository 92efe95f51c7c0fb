"""The stores' statements on the driver's cursor: values converted both ways as the column types
say, SQLAlchemy's errors, a cut connection replaced, and nothing kept of a statement made for
one call."""

from __future__ import annotations

import dataclasses
import gc
import secrets
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError

from broker import models
from broker.extensions import db
from broker.models import statements
from broker.models.oidc import IssuedToken
from config import Settings
from tests.conftest import MovableClock, apps_on, postgres_url
from tests.test_database import _terminate


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, settings: Settings, clock: MovableClock) -> Iterator[Flask]:
    url = settings.database_url if request.param == "sqlite" else postgres_url()
    with apps_on(dataclasses.replace(settings, database_url=url), clock) as apps, apps[0].app_context():
        yield apps[0]
        db.session.rollback()


def token(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "token_hash": secrets.token_hex(32),
        "code_hash": secrets.token_hex(32),
        "client_id": "ind-portal",
        "scope": "openid kvk",
        "claims": {"kvk_number": "12345678", "nested": {"list": [1, "twee"]}},
        "requested_claims": None,
        "expires_at": datetime(2026, 12, 8, 14, 30, 15, 123456, tzinfo=UTC),
        "revoked_at": None,
    }
    return values | changes


def test_values_go_in_and_come_back_as_the_column_types_say(app: Flask) -> None:
    stored = token()
    models.add_token(**stored)
    row = models.find_token(str(stored["token_hash"]))
    assert row is not None
    assert row.claims == stored["claims"]
    assert row.requested_claims is None
    assert row.expires_at == stored["expires_at"]
    assert row.expires_at.tzinfo is UTC
    assert (row.client_id, row.scope, row.revoked_at) == ("ind-portal", "openid kvk", None)


def test_a_datetime_in_another_zone_is_stored_as_its_utc_moment(app: Flask) -> None:
    amsterdam = datetime(2026, 12, 8, 15, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=1)))
    stored = token(expires_at=amsterdam)
    models.add_token(**stored)
    row = models.find_token(str(stored["token_hash"]))
    assert row is not None
    assert row.expires_at == datetime(2026, 12, 8, 15, 30, tzinfo=UTC)


def test_a_naive_datetime_is_refused_before_it_reaches_the_database(app: Flask) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        models.add_token(**token(expires_at=datetime(2026, 12, 8, 15, 30)))


def test_a_second_row_with_the_same_key_is_sqlalchemys_integrity_error(app: Flask) -> None:
    stored = token()
    models.add_token(**stored)
    with pytest.raises(IntegrityError) as raised:
        models.add_token(**stored)
    # The parameters are left out of the message, as they may be personal data.
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(raised.value)


def test_rowcount_and_returning(app: Flask) -> None:
    stored = token()
    models.add_token(**stored)
    now = datetime(2026, 12, 8, 16, 0, tzinfo=UTC)
    models.revoke_token(str(stored["token_hash"]), now)
    models.revoke_token(str(stored["token_hash"]), now + timedelta(hours=1))  # already revoked: kept
    row = models.find_token(str(stored["token_hash"]))
    assert row is not None
    assert row.revoked_at == now


def test_a_statement_made_for_one_call_is_not_kept(app: Flask) -> None:
    tokens = IssuedToken.__table__
    once = select(tokens.c.scope).where(tokens.c.client_id == "nobody")
    assert statements.run(once).first() is None
    kept = weakref.ref(once)
    del once
    gc.collect()
    assert kept() is None


def test_a_connection_cut_mid_transaction_is_replaced(settings: Settings, clock: MovableClock) -> None:
    url = postgres_url()
    with apps_on(dataclasses.replace(settings, database_url=url), clock) as apps, apps[0].app_context():
        stored = token()
        models.add_token(**stored)
        pid = db.session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        _terminate(int(pid))
        with pytest.raises(DBAPIError) as raised:
            models.find_token(str(stored["token_hash"]))
        assert raised.value.connection_invalidated
        db.session.rollback()
        # The next statement runs on a new connection (the cut transaction's insert is gone).
        assert models.find_token(str(stored["token_hash"])) is None
        models.add_token(**stored)
        db.session.commit()
        assert models.find_token(str(stored["token_hash"])) is not None
