"""The audit trail on SQLite: one INSERT per record, a chain `audit verify` walks and breaks where a
record was tampered with or removed, export, show, and retention that leaves the chain verifiable."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from broker import audit
from broker.decide import EstablishmentSource, MandateKind
from broker.extensions import db
from broker.models import audit as store
from config import ConfigError, load_settings
from saml.identifiers import IdentifierType
from saml.identity import Identifier
from saml.loa import LevelOfAssurance
from tests.conftest import MovableClock, broker_environ, migrated_app
from tests.sent_sql import first_words, sent_sql

KVK = Identifier(IdentifierType.KVK, "12345678")


def admitted(at: datetime, **fields: object) -> audit.DecisionRecord:
    values: dict[str, object] = {
        "at": at,
        "client_id": "ind-portal",
        "service": "ind",
        "hm": "https://hm.test/saml",
        "outcome": audit.Outcome.ADMITTED,
        "level": LevelOfAssurance.LOA3,
        "acting_subject": "pseudonym-of-the-person",
        "legal_subject": KVK,
        "intermediary": Identifier(IdentifierType.KVK, "87654321"),
        "mandate": MandateKind.REPRESENTATIVE,
        "establishment": "000012345678",
        "establishment_source": EstablishmentSource.SELECTED,
    }
    values.update(fields)
    return audit.DecisionRecord(**values)  # type: ignore[arg-type]


def change(at: datetime, key: str = "12345678") -> audit.ChangeRecord:
    return audit.ChangeRecord(
        at, "admin", "sponsors add", key, None, {"labour": {"valid_from": "2026-01-01"}}
    )


@pytest.fixture
def audit_app(tmp_path: Path, clock: MovableClock) -> Iterator[Flask]:
    app = migrated_app(tmp_path, clock)
    with app.app_context():
        yield app


def append(*records: audit.DecisionRecord | audit.ChangeRecord) -> list[str]:
    references = [
        audit.record_decision(r) if isinstance(r, audit.DecisionRecord) else audit.record_change(r)
        for r in records
    ]
    db.session.commit()
    return references


def invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def sql(statement: str, **parameters: object) -> None:
    """Raw SQL, as someone with the database file would run it."""
    db.session.execute(text(statement), parameters)
    db.session.commit()


def test_a_record_is_one_insert_in_the_callers_transaction(audit_app: Flask, clock: MovableClock) -> None:
    with sent_sql(audit_app) as sent:
        reference = audit.record_decision(admitted(clock()))
    seen = first_words(sent)
    assert seen == ["INSERT"]
    db.session.rollback()
    assert audit.find(reference) is None
    assert len(reference) == 16
    assert int(reference, 16) >= 0


def test_records_chain_and_verify(audit_app: Flask, clock: MovableClock) -> None:
    references = append(
        admitted(clock()),
        change(clock()),
        admitted(clock(), outcome=audit.Outcome.REFUSED, reason="level_too_low"),
    )
    code, output = invoke(audit_app, "audit", "verify")
    assert code == 0, output
    head = store.chain()
    assert output == f"ok: 3 records, chain from genesis to seq 3 ({head.chain_hash})\n"
    # Anyone can check a record from its content alone.
    previous = store.GENESIS
    for seq, reference in enumerate(references, start=1):
        record = audit.find(reference)
        assert record is not None
        assert record["seq"] == seq
        content = {k: v for k, v in record.items() if k not in {"seq", "content_hash", "chain_hash"}}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        assert record["content_hash"] == hashlib.sha256(canonical).hexdigest()
        link = hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(record["content_hash"])).hexdigest()
        assert record["chain_hash"] == link
        previous = link
    assert previous == head.chain_hash


def test_a_decision_keeps_what_was_decided_and_no_more(audit_app: Flask, clock: MovableClock) -> None:
    clock.moment = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
    (reference,) = append(admitted(clock()))
    record = audit.find(reference)
    assert record is not None
    del record["content_hash"], record["chain_hash"]
    assert record == {
        "seq": 1,
        "kind": "decision",
        "at": "2026-03-01T09:30:00.123456+00:00",
        "reference": reference,
        "client_id": "ind-portal",
        "service": "ind",
        "hm": "https://hm.test/saml",
        "level": "urn:etoegang:core:assurance-class:loa3",
        "acting_subject": "pseudonym-of-the-person",
        "legal_subject": {"type": "kvk", "value": "12345678"},
        "intermediary": {"type": "kvk", "value": "87654321"},
        "mandate": "representative",
        "establishment": {"number": "000012345678", "source": "selected"},
        "outcome": "admitted",
        "reason": None,
    }


def test_a_citizen_service_number_is_not_kept(audit_app: Flask, clock: MovableClock) -> None:
    bsn = Identifier(IdentifierType.BSN, "123456782")
    (reference,) = append(
        admitted(
            clock(),
            legal_subject=bsn,
            intermediary=None,
            establishment=None,
            establishment_source=None,
            mandate=MandateKind.OWN_COMPANY,
        )
    )
    record = audit.find(reference)
    assert record is not None
    assert record["legal_subject"] == {"type": "bsn"}
    assert "123456782" not in json.dumps(record)


@pytest.mark.parametrize(
    "fields",
    [
        {"outcome": audit.Outcome.REFUSED},
        {"reason": "level_too_low"},
        {"establishment_source": None},
    ],
    ids=["refusal-without-reason", "admission-with-reason", "establishment-without-source"],
)
def test_an_inconsistent_decision_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"reason|source"):
        admitted(datetime.now(UTC), **fields)


def test_a_record_cannot_be_changed_or_removed_on_sqlite(audit_app: Flask, clock: MovableClock) -> None:
    append(admitted(clock()), admitted(clock()))
    with pytest.raises(IntegrityError, match="cannot be changed"):
        sql("UPDATE audit_record SET content = '{}' WHERE seq = 1")
    db.session.rollback()
    with pytest.raises(IntegrityError, match="only behind the retention anchor"):
        sql("DELETE FROM audit_record WHERE seq = 2")
    db.session.rollback()
    with pytest.raises(IntegrityError, match="appended at the head"):
        sql(
            "INSERT INTO audit_record VALUES (7, :at, 'x', 'change', '{}', :h, :h)",
            at=clock().replace(tzinfo=None),
            h="0" * 64,
        )
    db.session.rollback()
    assert audit.verify().flaw is None


def tamper(statement: str, trigger: str, **parameters: object) -> None:
    """Change the trail behind the triggers' back, as someone with the database file could."""
    sql(f"DROP TRIGGER {trigger}")
    sql(statement, **parameters)


def test_verify_names_a_record_whose_content_was_changed(audit_app: Flask, clock: MovableClock) -> None:
    references = append(*(admitted(clock()) for _ in range(4)))
    content = db.session.execute(text("SELECT content FROM audit_record WHERE seq = 3")).scalar_one()
    forged = content.replace('"admitted"', '"refused"')
    tamper(
        "UPDATE audit_record SET content = :forged WHERE seq = 3", "audit_record_refuse_update", forged=forged
    )
    code, output = invoke(audit_app, "audit", "verify")
    assert code == 1
    assert f"record seq 3 (reference {references[2]}): its content does not fit its content_hash" in output
    assert "(2 records from genesis fit)" in output


def test_verify_names_a_record_whose_hash_was_recomputed(audit_app: Flask, clock: MovableClock) -> None:
    references = append(*(admitted(clock()) for _ in range(3)))
    content = db.session.execute(text("SELECT content FROM audit_record WHERE seq = 2")).scalar_one()
    forged = content.replace('"admitted"', '"refused"')
    tamper(
        "UPDATE audit_record SET content = :forged, content_hash = :digest WHERE seq = 2",
        "audit_record_refuse_update",
        forged=forged,
        digest=store.content_hash(forged),
    )
    code, output = invoke(audit_app, "audit", "verify")
    assert code == 1
    assert f"record seq 2 (reference {references[1]}): its chain_hash does not follow" in output


def test_verify_names_the_record_after_one_that_was_removed(audit_app: Flask, clock: MovableClock) -> None:
    references = append(*(admitted(clock()) for _ in range(4)))
    tamper("DELETE FROM audit_record WHERE seq = 2", "audit_record_retention")
    code, output = invoke(audit_app, "audit", "verify")
    assert code == 1
    assert f"record seq 3 (reference {references[2]}): the records seq 2 to 2 before it are missing" in output


def test_verify_notices_the_last_records_removed(audit_app: Flask, clock: MovableClock) -> None:
    append(*(admitted(clock()) for _ in range(3)))
    tamper("DELETE FROM audit_record WHERE seq = 3", "audit_record_retention")
    code, output = invoke(audit_app, "audit", "verify")
    assert code == 1
    assert "record seq 3: the chain's head is here" in output
    assert "but the last record is seq 2" in output


def test_verify_notices_a_record_moved_to_another_day(audit_app: Flask, clock: MovableClock) -> None:
    references = append(admitted(clock()), admitted(clock()))
    tamper(
        "UPDATE audit_record SET at = '2020-01-01 00:00:00.000000' WHERE seq = 1",
        "audit_record_refuse_update",
    )
    code, output = invoke(audit_app, "audit", "verify")
    assert code == 1
    assert f"record seq 1 (reference {references[0]}): its kind, reference or time differ" in output


def test_export_writes_the_records_of_those_days(
    audit_app: Flask, clock: MovableClock, tmp_path: Path
) -> None:
    days = [datetime(2026, 5, day, 23, 59, 59, tzinfo=UTC) for day in (1, 2, 3, 4)]
    references = append(*(admitted(day) for day in days), change(datetime(2026, 5, 3, 0, 0, tzinfo=UTC)))
    out = tmp_path / "may.jsonl"
    code, output = invoke(
        audit_app, "audit", "export", "--from", "2026-05-02", "--to", "2026-05-03", "--out", str(out)
    )
    assert (code, output) == (0, f"3 records written to {out}\n")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["reference"] for line in lines] == [references[1], references[2], references[4]]
    assert [line["seq"] for line in lines] == [2, 3, 5]
    assert lines[2]["kind"] == "change"
    code, output = invoke(audit_app, "audit", "export", "--from", "2026-05-04", "--to", "2026-05-04")
    assert code == 0
    assert [json.loads(line)["reference"] for line in output.splitlines()] == [references[3]]


def test_export_refuses_a_range_that_ends_before_it_starts(audit_app: Flask) -> None:
    code, output = invoke(audit_app, "audit", "export", "--from", "2026-05-02", "--to", "2026-05-01")
    assert code == 1
    assert "--to 2026-05-01 is before --from 2026-05-02" in output


def test_show_prints_one_record(audit_app: Flask, clock: MovableClock) -> None:
    references = append(admitted(clock()), change(clock()))
    code, output = invoke(audit_app, "audit", "show", references[1].upper())
    assert code == 0, output
    shown = json.loads(output)
    assert (shown["seq"], shown["reference"], shown["what"], shown["who"]) == (
        2,
        references[1],
        "sponsors add",
        "admin",
    )
    code, output = invoke(audit_app, "audit", "show", "0123456789abcdef")
    assert code == 1
    assert "no audit record '0123456789abcdef'" in output


def test_purge_removes_only_records_past_the_retention_and_the_chain_still_verifies(
    audit_app: Flask, clock: MovableClock
) -> None:
    now = clock()
    old = [now - timedelta(days=500), now - timedelta(days=450), now - timedelta(days=401)]
    young = [now - timedelta(days=399), now]
    references = append(*(admitted(at) for at in old + young))
    code, output = invoke(audit_app, "audit", "purge")
    assert code == 0, output
    assert output.startswith("removed 3 records older than 400 days; the chain now starts after seq 3 (")
    assert [audit.find(r) is None for r in references] == [True, True, True, False, False]
    head = store.chain()
    assert (head.seq, head.anchor_seq, head.anchor_at) == (6, 3, old[2])
    run = audit.find(
        json.loads(
            invoke(audit_app, "audit", "export", "--from", f"{now:%Y-%m-%d}", "--to", f"{now:%Y-%m-%d}")[
                1
            ].splitlines()[-1]
        )["reference"]
    )
    assert run is not None
    assert (run["what"], run["before"]["seq"], run["after"]["seq"], run["after"]["removed"]) == (
        "audit purge",
        0,
        3,
        3,
    )
    code, output = invoke(audit_app, "audit", "verify")
    assert code == 0, output
    assert output.startswith("ok: 3 records, chain from seq 3 (")
    assert invoke(audit_app, "audit", "purge")[1].startswith(
        "nothing older than 400 days; the chain starts at seq 3"
    )


def test_purge_keeps_a_record_made_before_the_cutoff_behind_a_younger_one(
    audit_app: Flask, clock: MovableClock
) -> None:
    """Workers' clocks differ a little: the chain is cut before the first young record, so no gap."""
    now = clock()
    append(
        admitted(now - timedelta(days=500)),
        admitted(now - timedelta(days=10)),
        admitted(now - timedelta(days=401)),
    )
    retained = audit.retain(now, timedelta(days=400), "admin")
    assert (retained.removed, retained.after.seq) == (1, 1)
    assert audit.verify().flaw is None


def test_purge_removes_a_long_backlog_in_steps_each_recorded(audit_app: Flask, clock: MovableClock) -> None:
    now = clock()
    append(*(admitted(now - timedelta(days=500 - day)) for day in range(5)), admitted(now))
    retained = audit.retain(now, timedelta(days=400), "admin", step=2)
    assert (retained.removed, retained.before.seq, retained.after.seq) == (5, 0, 5)
    with closing(store.records_up_to(store.chain().seq)) as records:
        steps = [audit.exported(r) for r in records if r.kind == "change"]
    assert [(s["before"]["seq"], s["after"]["seq"], s["after"]["removed"]) for s in steps] == [
        (0, 2, 2),
        (2, 4, 2),
        (4, 5, 1),
    ]
    verified = audit.verify()
    assert (verified.flaw, verified.records, verified.anchor.seq) == (None, 4, 5)


def test_the_retention_setting(tmp_path: Path) -> None:
    assert load_settings(broker_environ(tmp_path)).audit_retention == timedelta(days=400)
    assert load_settings(
        broker_environ(tmp_path, BROKER_AUDIT_RETENTION_DAYS="730")
    ).audit_retention == timedelta(days=730)
    for refused in ("89", "3651", "a year"):
        with pytest.raises(
            ConfigError, match="BROKER_AUDIT_RETENTION_DAYS must be a whole number from 90 to 3650"
        ):
            load_settings(broker_environ(tmp_path, BROKER_AUDIT_RETENTION_DAYS=refused))


def test_purge_keeps_what_the_setting_says(tmp_path: Path, clock: MovableClock) -> None:
    app = migrated_app(tmp_path, clock, BROKER_AUDIT_RETENTION_DAYS="100")
    now = clock()
    with app.app_context():
        references = append(admitted(now - timedelta(days=101)), admitted(now - timedelta(days=99)))
    code, output = invoke(app, "audit", "purge")
    assert code == 0, output
    assert output.startswith("removed 1 records older than 100 days")
    with app.app_context():
        assert [audit.find(r) is None for r in references] == [True, False]
