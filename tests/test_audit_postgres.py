"""The audit trail on PostgreSQL: the database itself appends (one INSERT, seq and chain hash from its
trigger), refuses UPDATE, DELETE and TRUNCATE but for a retention run behind its anchor, and keeps
one unforked chain while workers append at the same moment."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from broker import audit
from broker.extensions import db
from broker.models import audit as store
from config import Settings
from tests.conftest import MovableClock, apps_on, postgres_url
from tests.sent_sql import first_words, sent_sql
from tests.test_audit import admitted, append, change, invoke


def reset_trail(app: Flask) -> None:
    """An empty trail from genesis, written past the triggers as only a superuser can."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("DELETE FROM audit_record"))
        connection.execute(
            text(
                "UPDATE audit_chain SET seq = 0, chain_hash = :genesis,"
                " anchor_seq = 0, anchor_hash = :genesis, anchor_at = NULL, anchored_at = NULL"
            ),
            {"genesis": store.GENESIS},
        )


@pytest.fixture
def pg_apps(settings: Settings, clock: MovableClock) -> Iterator[list[Flask]]:
    """Two apps (two workers) on one PostgreSQL database, its trail emptied before and after."""
    with apps_on(dataclasses.replace(settings, database_url=postgres_url()), clock, count=2) as apps:
        reset_trail(apps[0])
        try:
            yield apps
        finally:
            reset_trail(apps[0])


@pytest.fixture
def pg_app(pg_apps: list[Flask]) -> Iterator[Flask]:
    with pg_apps[0].app_context():
        yield pg_apps[0]


def refused(statement: str, message: str, **parameters: object) -> None:
    with pytest.raises(DBAPIError, match=message):
        db.session.execute(text(statement), parameters)
    db.session.rollback()


def test_a_record_is_one_insert_and_the_database_chains_it(pg_app: Flask, clock: MovableClock) -> None:
    with sent_sql(pg_app) as sent:
        references = [audit.record_decision(admitted(clock())) for _ in range(3)]
    seen = first_words(sent)
    db.session.commit()
    assert seen == ["INSERT"] * 3
    assert [audit.find(r)["seq"] for r in references] == [1, 2, 3]  # type: ignore[index]
    code, output = invoke(pg_app, "audit", "verify")
    assert code == 0, output
    assert output.startswith("ok: 3 records, chain from genesis to seq 3 (")


def test_postgresql_refuses_to_change_or_remove_a_record(pg_app: Flask, clock: MovableClock) -> None:
    references = append(admitted(clock()), admitted(clock()))
    refused("UPDATE audit_record SET content = '{}' WHERE seq = 1", "audit records cannot be changed")
    refused("DELETE FROM audit_record WHERE seq = 1", "audit record 1 cannot be removed")
    refused("TRUNCATE audit_record", "cannot be truncated")
    refused("TRUNCATE audit_chain", "cannot be truncated")
    refused("UPDATE audit_chain SET seq = 0", "changes only by appending a record or by a retention run")
    refused("DELETE FROM audit_chain", "changes only by appending a record or by a retention run")
    # Declaring a retention run is not enough: only records behind the anchor go.
    db.session.execute(text("SET LOCAL eh_broker.audit_retention = 'on'"))
    refused("DELETE FROM audit_record WHERE seq = 1", "audit record 1 cannot be removed")
    # And the anchor moves only onto a record over 90 days old.
    db.session.execute(text("SET LOCAL eh_broker.audit_retention = 'on'"))
    head = store.chain()
    record = store.find(references[0])
    assert record is not None
    refused(
        "UPDATE audit_chain SET anchor_seq = 1, anchor_hash = :hash, anchor_at = :at",
        "changes only by appending a record or by a retention run",
        hash=record.chain_hash,
        at=record.at.replace(tzinfo=None),
    )
    # A record whose hash does not fit its content is not taken.
    refused(
        "INSERT INTO audit_record (at, reference, kind, content, content_hash)"
        " VALUES (now(), 'r', 'change', '{}', :h)",
        "content_hash does not fit its content",
        h="0" * 64,
    )
    assert store.chain() == head
    assert audit.verify().flaw is None


def test_verify_names_a_record_tampered_with_past_the_triggers(pg_app: Flask, clock: MovableClock) -> None:
    references = append(*(admitted(clock()) for _ in range(4)))
    db.session.execute(text("ALTER TABLE audit_record DISABLE TRIGGER USER"))
    db.session.execute(
        text("UPDATE audit_record SET content = replace(content, 'admitted', 'refused') WHERE seq = 2")
    )
    db.session.execute(text("DELETE FROM audit_record WHERE seq = 4"))
    db.session.execute(text("ALTER TABLE audit_record ENABLE TRIGGER USER"))
    db.session.commit()
    code, output = invoke(pg_app, "audit", "verify")
    assert code == 1
    assert f"record seq 2 (reference {references[1]}): its content does not fit its content_hash" in output


def test_verify_names_the_gap_a_removed_record_leaves(pg_app: Flask, clock: MovableClock) -> None:
    references = append(*(admitted(clock()) for _ in range(3)))
    db.session.execute(text("ALTER TABLE audit_record DISABLE TRIGGER USER"))
    db.session.execute(text("DELETE FROM audit_record WHERE seq = 1"))
    db.session.execute(text("ALTER TABLE audit_record ENABLE TRIGGER USER"))
    db.session.commit()
    code, output = invoke(pg_app, "audit", "verify")
    assert code == 1
    assert f"record seq 2 (reference {references[1]}): the records seq 1 to 1 before it are missing" in output


def test_two_workers_appending_at_once_keep_one_chain(pg_apps: list[Flask], clock: MovableClock) -> None:
    threads_per_app, records_per_thread = 4, 50
    start = threading.Barrier(len(pg_apps) * threads_per_app)
    failures: list[BaseException] = []

    def worker(app: Flask, n: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for i in range(records_per_thread):
                    audit.record_change(change(clock(), key=f"{n}-{i}"))
                    db.session.commit()
        except BaseException as error:  # reported by the test, not lost in the thread
            failures.append(error)

    threads = [
        threading.Thread(target=worker, args=(app, n * threads_per_app + t))
        for n, app in enumerate(pg_apps)
        for t in range(threads_per_app)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    total = len(threads) * records_per_thread
    with pg_apps[1].app_context():
        verified = audit.verify()
        assert verified.flaw is None
        assert (verified.records, verified.head_seq) == (total, total)
        keys = sorted(audit.exported(record)["key"] for record in store.records_up_to(total))
    assert keys == sorted(f"{n}-{i}" for n in range(len(threads)) for i in range(records_per_thread))


def test_purge_on_postgresql_removes_old_records_and_the_chain_verifies(
    pg_app: Flask, clock: MovableClock
) -> None:
    now = clock()
    references = append(
        admitted(now - timedelta(days=700)),
        admitted(now - timedelta(days=500)),
        admitted(now - timedelta(days=20)),
    )
    code, output = invoke(pg_app, "audit", "purge")
    assert code == 0, output
    assert output.startswith("removed 2 records older than 400 days; the chain now starts after seq 2 (")
    assert [audit.find(r) is None for r in references] == [True, True, False]
    code, output = invoke(pg_app, "audit", "verify")
    assert code == 0, output
    assert output.startswith("ok: 2 records, chain from seq 2 (")


def test_the_database_keeps_90_days_whatever_the_broker_asks(pg_app: Flask, clock: MovableClock) -> None:
    now = clock()
    append(admitted(now - timedelta(days=30)), admitted(now))
    with pytest.raises(DBAPIError, match="changes only by appending a record or by a retention run"):
        audit.retain(now, timedelta(days=1), "admin")
    db.session.rollback()
    assert audit.verify().records == 2
