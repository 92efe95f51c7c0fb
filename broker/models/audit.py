"""The audit trail's tables: records in chain order, and the one row that holds the chain's head
and where it starts.

A record is appended by ONE statement. On PostgreSQL a trigger (the migration's) locks the head
row, gives the record the next `seq` and its `chain_hash`, and moves the head: workers appending
at the same moment queue on that row and never fork the chain. On SQLite (one writer at a time)
the statement reads the head itself and computes the hash with `eh_audit_chain`, a function each
connection registers (`sqlite_functions`); a trigger moves the head. Both databases refuse to
change a record, and remove one only behind the anchor a retention run has moved (on
PostgreSQL, only in a transaction that says it is one, and only records over 90 days old).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    FetchedValue,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from broker.extensions import db
from broker.models.statements import Row, run, stream
from broker.models.types import UtcDateTime

# The chain hash before the first record: 32 zero bytes.
GENESIS = "0" * 64
# Records are read this many at a time when the whole trail is walked or exported.
_BATCH = 1000


def content_hash(content: str) -> str:
    """SHA-256 of a record's content (ASCII, canonical JSON), in hex."""
    return hashlib.sha256(content.encode("ascii")).hexdigest()


def chain_hash(previous: str, content_hash: str) -> str:
    """SHA-256 over the previous record's chain hash and this record's content hash, both as their
    32 bytes, in hex: what the PostgreSQL trigger computes with `sha256(decode(…) || decode(…))`."""
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(content_hash)).hexdigest()


class AuditRecord(db.Model):
    """One record of the trail; `content` is what `content_hash` covers."""

    __tablename__ = "audit_record"

    # Given by the database as the record is appended (on PostgreSQL by its trigger).
    seq: Mapped[int] = mapped_column(
        BigInteger(), primary_key=True, autoincrement=False, server_default=FetchedValue()
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text())
    content_hash: Mapped[str] = mapped_column(String(64))
    chain_hash: Mapped[str] = mapped_column(String(64), server_default=FetchedValue())


class AuditChain(db.Model):
    """The head of the chain (its last record) and its anchor: where the remaining records start,
    genesis until a retention run removes the oldest."""

    __tablename__ = "audit_chain"
    __table_args__ = (CheckConstraint("id = 1", name="audit_chain_one_row"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger())
    chain_hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(BigInteger())
    anchor_hash: Mapped[str] = mapped_column(String(64))
    # When the anchor's record was made, and when a retention run moved the anchor there.
    anchor_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    anchored_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


@dataclass(frozen=True)
class StoredRecord:
    seq: int
    at: datetime
    reference: str
    kind: str
    content: str
    content_hash: str
    chain_hash: str


@dataclass(frozen=True)
class Chain:
    """The head row as it stands."""

    seq: int
    chain_hash: str
    anchor_seq: int
    anchor_hash: str
    anchor_at: datetime | None
    anchored_at: datetime | None


_records = AuditRecord.__table__
_chain = AuditChain.__table__
_r, _h = _records.c, _chain.c
_NEW = {
    "at": bindparam("at", type_=UtcDateTime()),
    "reference": bindparam("reference"),
    "kind": bindparam("kind"),
    "content": bindparam("content"),
    "content_hash": bindparam("content_hash"),
}
# PostgreSQL: the trigger fills in seq and chain_hash.
_APPEND = insert(_records).values(_NEW)
# SQLite: the statement reads the head itself.
_APPEND_SQLITE = insert(_records).from_select(
    ["seq", *_NEW, "chain_hash"],
    select(
        _h.seq + 1,
        *_NEW.values(),
        func.eh_audit_chain(_h.chain_hash, bindparam("content_hash")),
    ).where(_h.id == 1),
)
_CHAIN = select(_chain).where(_h.id == 1)
_BY_REFERENCE = select(_records).where(_r.reference == bindparam("reference"))
_BETWEEN = (
    select(_records)
    .where(_r.at >= bindparam("start", type_=UtcDateTime()), _r.at < bindparam("end", type_=UtcDateTime()))
    .order_by(_r.seq)
)
_UP_TO = select(_records).where(_r.seq <= bindparam("last")).order_by(_r.seq)
# Walks the primary key from the anchor: the rows it passes are the ones about to go.
_FIRST_YOUNG = (
    select(_r.seq)
    .where(
        _r.seq > bindparam("anchor"),
        _r.seq <= bindparam("last"),
        _r.at >= bindparam("cutoff", type_=UtcDateTime()),
    )
    .order_by(_r.seq)
    .limit(1)
)
_BY_SEQ = select(_records).where(_r.seq == bindparam("seq"))
_MOVE_ANCHOR = (
    _chain.update()
    .where(_h.id == 1)
    .values(
        anchor_seq=bindparam("anchor_seq"),
        anchor_hash=bindparam("anchor_hash"),
        anchor_at=bindparam("anchor_at", type_=UtcDateTime()),
        anchored_at=bindparam("anchored_at", type_=UtcDateTime()),
    )
)
_REMOVE_THROUGH = delete(_records).where(_r.seq <= bindparam("last"))
# PostgreSQL: SET LOCAL, for this transaction only.
_DECLARE_RETENTION = select(func.set_config("eh_broker.audit_retention", "on", True))


def sqlite_functions(connection: sqlite3.Connection, _record: object = None) -> None:
    """Give a SQLite connection the chain's hash as `eh_audit_chain(previous, content_hash)`."""
    connection.create_function("eh_audit_chain", 2, chain_hash, deterministic=True)


def append(at: datetime, reference: str, kind: str, content: str, digest: str) -> None:
    """Append a record to the chain: one INSERT in the current transaction; the caller commits."""
    run(
        _APPEND if _postgresql() else _APPEND_SQLITE,
        at=at,
        reference=reference,
        kind=kind,
        content=content,
        content_hash=digest,
    )


def read_one_snapshot() -> None:
    """On PostgreSQL, make the transaction about to start read one snapshot of the trail, however
    many statements it takes (within a transaction already begun, its own isolation holds). On
    SQLite, readers see every record up to the head they read first, whatever is appended meanwhile."""
    if _postgresql() and not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def chain() -> Chain:
    row = run(_CHAIN).one()
    return Chain(row.seq, row.chain_hash, row.anchor_seq, row.anchor_hash, row.anchor_at, row.anchored_at)


def find(reference: str) -> StoredRecord | None:
    row = run(_BY_REFERENCE, reference=reference).one_or_none()
    return None if row is None else _stored(row)


def records_up_to(last: int) -> Iterator[StoredRecord]:
    """Every record up to seq `last`, in chain order, read in batches (close the iterator when
    leaving it early)."""
    return _streamed(_UP_TO, last=last)


def records_between(start: datetime, end: datetime) -> Iterator[StoredRecord]:
    """The records made from `start` up to (not including) `end`, in chain order, read in batches."""
    return _streamed(_BETWEEN, start=start, end=end)


def last_before(cutoff: datetime, head: Chain, at_most: int) -> StoredRecord | None:
    """The newest record that, with every record before it, was made before `cutoff`, at most
    `at_most` records past the anchor; None when there is none."""
    last = min(head.seq, head.anchor_seq + at_most)
    first_young = run(_FIRST_YOUNG, anchor=head.anchor_seq, last=last, cutoff=cutoff).scalar()
    if first_young is not None:
        last = first_young - 1
    if last <= head.anchor_seq:
        return None
    return _stored(run(_BY_SEQ, seq=last).one())


def remove_through(anchor: StoredRecord, now: datetime) -> int:
    """Make `anchor` where the chain starts and remove it and every record before it; returns how
    many went. On PostgreSQL the transaction first declares itself a retention run, the one case
    its triggers let through. The caller commits."""
    if _postgresql():
        run(_DECLARE_RETENTION)
    run(
        _MOVE_ANCHOR,
        anchor_seq=anchor.seq,
        anchor_hash=anchor.chain_hash,
        anchor_at=anchor.at,
        anchored_at=now,
    )
    return run(_REMOVE_THROUGH, last=anchor.seq).rowcount


def _postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def _streamed(statement: Select[Any], **parameters: Any) -> Iterator[StoredRecord]:
    # Closed as the iterator is, read to the end or not: on PostgreSQL a server-side cursor.
    with stream(statement, _BATCH, **parameters) as rows:
        for row in rows:
            yield _stored(row)


def _stored(row: Row) -> StoredRecord:
    return StoredRecord(
        row.seq, row.at, row.reference, row.kind, row.content, row.content_hash, row.chain_hash
    )
