"""The flow-state stores, on SQLite and on PostgreSQL, through the real migrations."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from flask_migrate import upgrade

from broker import create_app, models
from broker.decide import RegisteredEstablishment, RegisterLookup, SponsorCategory, SponsorRegistration
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


def _request(now: datetime, lifetime: timedelta = timedelta(minutes=15)) -> str:
    """A new request, committed; its RelayState reference."""
    reference = secrets.token_urlsafe(16)
    request = models.OpenRequest(f"_{secrets.token_hex(16)}", "test_login", "omgevingsloket", "loa3", now)
    models.add_request(request, reference, lifetime)
    db.session.commit()
    return reference


def test_a_request_is_answered_once(store_app):
    now = datetime.now(UTC)
    with store_app.app_context():
        reference = _request(now)
        found = models.pending_request(reference, now)
        assert (found.purpose, found.service_slug, found.minimum_level) == (
            "test_login",
            "omgevingsloket",
            "loa3",
        )
        models.consume(
            found.id, now, "https://hm.test", f"_{secrets.token_hex(8)}", now + timedelta(minutes=5)
        )
        db.session.commit()
        with pytest.raises(SamlError) as second:
            models.pending_request(reference, now)
        with pytest.raises(SamlError) as claimed:
            models.consume(found.id, now, None, None, None)
    assert second.value.reason is Reason.REQUEST_USED
    assert claimed.value.reason is Reason.REQUEST_USED


def test_a_consumption_not_committed_leaves_the_request_open(store_app):
    now = datetime.now(UTC)
    assertion_id = f"_{secrets.token_hex(8)}"
    with store_app.app_context():
        reference = _request(now)
        found = models.pending_request(reference, now)
        models.consume(found.id, now, "https://hm.test", assertion_id, now + timedelta(minutes=5))
        # What a sign-in failing after consumption does (the ACS commits only with its answer).
        db.session.rollback()
        assert models.pending_request(reference, now) == found
        models.consume(found.id, now, "https://hm.test", assertion_id, now + timedelta(minutes=5))
        db.session.commit()


def test_an_assertion_id_is_accepted_once_across_requests(store_app):
    now = datetime.now(UTC)
    assertion_id = f"_{secrets.token_hex(8)}"
    with store_app.app_context():
        first, second = _request(now), _request(now)
        models.consume(
            models.pending_request(first, now).id,
            now,
            "https://hm.test",
            assertion_id,
            now + timedelta(minutes=5),
        )
        db.session.commit()
        second_id = models.pending_request(second, now).id
        with pytest.raises(SamlError) as replay:
            models.consume(second_id, now, "https://hm.test", assertion_id, now + timedelta(minutes=5))
        # The refused replay did not use up the second request.
        assert models.pending_request(second, now).id == second_id
    assert replay.value.reason is Reason.ASSERTION_REPLAYED


def test_expired_and_unknown_requests_are_refused(store_app):
    now = datetime.now(UTC)
    with store_app.app_context():
        old = _request(now - timedelta(minutes=20))
        with pytest.raises(SamlError) as expired:
            models.pending_request(old, now)
        with pytest.raises(SamlError) as unknown:
            models.pending_request("no-such-reference", now)
        assert models.purge_expired(now) >= 1
        assert db.session.scalar(db.select(models.SamlRequest).filter_by(reference=old)) is None
    assert expired.value.reason is Reason.REQUEST_EXPIRED
    assert unknown.value.reason is Reason.REQUEST_UNKNOWN


def test_a_kvk_answer_kept_again_replaces_the_old_one(store_app):
    now = datetime.now(UTC)
    path = f"basisprofielen/{secrets.randbelow(10**8):08d}/vestigingen"
    with store_app.app_context():
        models.remember_kvk_answer(path, b'{"old": 1}', now, timedelta(hours=1))
        db.session.commit()
        models.remember_kvk_answer(path, b'{"new": 2}', now, timedelta(hours=2))
        db.session.commit()
        assert models.cached_kvk_answer(path, now + timedelta(minutes=90)) == b'{"new": 2}'
        assert models.cached_kvk_answer(path, now + timedelta(hours=3)) is None


def test_a_pending_choice_is_offered_and_used_once(store_app):
    now = datetime.now(UTC)
    choice = models.WaitingChoice(
        id=secrets.token_urlsafe(32),
        client_id="olo-establishment",
        parameters={"client_id": "olo-establishment", "state": "s"},
        claims={"sub": "x", "kvk_number": "12345678"},
        lookup=RegisterLookup("12345678"),
        options=None,
    )
    offered = (RegisteredEstablishment("000052460101", "12345678", "Bakkerij", True, "Oudegracht 12"),)
    with store_app.app_context():
        models.add_choice(choice, now, timedelta(minutes=15))
        db.session.commit()
        assert models.find_choice(choice.id, now) == choice
        models.offer(choice.id, offered)
        db.session.commit()
        assert models.find_choice(choice.id, now).options == offered
        assert models.find_choice(choice.id, now + timedelta(minutes=16)) is None
        assert not models.take_choice(choice.id, now + timedelta(minutes=16))
        assert models.take_choice(choice.id, now)
        db.session.commit()
        assert not models.take_choice(choice.id, now)
        assert models.find_choice(choice.id, now) is None


# --- the register of recognised sponsors ----------------------------------------------------------


def _sponsor(kvk: str, category: SponsorCategory, now: datetime, end: date | None = None) -> models.Sponsor:
    return models.Sponsor(kvk, category, f"Company {kvk}", date(2020, 1, 1), end, now, models.Origin.ADDED)


def test_the_sponsor_register_answers_per_company_and_imports_replace_a_category(store_app):
    now = datetime.now(UTC)
    labour, study = SponsorCategory.LABOUR, SponsorCategory.STUDY
    with store_app.app_context():
        db.session.execute(models.RecognisedSponsor.__table__.delete())
        models.add_sponsor(_sponsor("11110001", labour, now))
        models.add_sponsor(_sponsor("11110001", study, now, end=date(2025, 6, 30)))
        models.add_sponsor(_sponsor("11110002", labour, now, end=date(2026, 1, 31)))
        db.session.commit()
        assert set(models.registrations("11110001")) == {
            SponsorRegistration(labour, date(2020, 1, 1)),
            SponsorRegistration(study, date(2020, 1, 1), date(2025, 6, 30)),
        }
        assert models.registrations("99990000") == ()

        listed = [models.Listed("11110002", "Renamed BV"), models.Listed("11110003", "New BV")]
        assert models.replace_category(labour, listed, date(2027, 1, 1), now) == models.Replaced(1, 1, 1)
        db.session.commit()
        rows = {(s.kvk_number, s.category): s for s in models.sponsors(labour)}
        assert set(rows) == {("11110002", labour), ("11110003", labour)}
        # Still listed: its start stays, its end goes; new: from the day given.
        assert (rows["11110002", labour].name, rows["11110002", labour].valid_from) == (
            "Renamed BV",
            date(2020, 1, 1),
        )
        assert rows["11110002", labour].valid_to is None
        assert rows["11110003", labour].valid_from == date(2027, 1, 1)
        assert rows["11110003", labour].origin is models.Origin.IMPORTED
        # Another category is untouched.
        assert [(s.kvk_number, s.category) for s in models.sponsors(study)] == [("11110001", study)]

        assert models.remove_sponsor("11110001") == 1
        assert models.remove_sponsor("11110002", study) == 0
        db.session.commit()
        assert models.registrations("11110001") == ()
