"""The HM's metadata as last fetched well: one row per source (its URL or file), shared by every worker.

The row keeps the last good copy (the bytes as they arrived, with their digest, the entityID they
name, when they were fetched and until when they are valid) and the last refresh that failed (when,
and why). `checked_at` is the last attempt, good or not: a worker claims a refresh by moving it on,
so one worker of all fetches per interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Executable, LargeBinary, String, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from broker.extensions import db
from broker.models.statements import run
from broker.models.types import UtcDateTime

FAILURE_LENGTH = 500


class HmMetadataCopy(db.Model):
    __tablename__ = "hm_metadata"

    source: Mapped[str] = mapped_column(String(1000), primary_key=True)
    document: Mapped[bytes | None] = mapped_column(LargeBinary(), nullable=True)
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entity_id: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    fetched_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    failure: Mapped[str | None] = mapped_column(String(FAILURE_LENGTH), nullable=True)


@dataclass(frozen=True)
class StoredCopy:
    """A source's row: its last good copy (None before the first) and its last failure."""

    source: str
    document: bytes | None
    digest: str | None
    fetched_at: datetime | None
    checked_at: datetime
    failed_at: datetime | None
    failure: str | None


_copies = HmMetadataCopy.__table__
_c = _copies.c
_FIND = select(
    _c.source, _c.document, _c.digest, _c.fetched_at, _c.checked_at, _c.failed_at, _c.failure
).where(_c.source == bindparam("key"))
# Only a worker that finds the last attempt older than the interval moves it on, so of several
# looking at once one claims the fetch.
_CLAIM = (
    update(_copies)
    .where(_c.source == bindparam("key"), _c.checked_at <= bindparam("due"))
    .values(checked_at=bindparam("now"))
)
_KEEP = (
    update(_copies)
    .where(_c.source == bindparam("key"))
    .values(
        document=bindparam("document"),
        digest=bindparam("digest"),
        entity_id=bindparam("entity_id"),
        fetched_at=bindparam("now"),
        valid_until=bindparam("valid_until"),
        checked_at=bindparam("now"),
    )
)
_FAIL = (
    update(_copies)
    .where(_c.source == bindparam("key"))
    .values(checked_at=bindparam("now"), failed_at=bindparam("now"), failure=bindparam("failure"))
)


def _first(dialect: str) -> Executable:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(_copies).on_conflict_do_nothing(index_elements=[_c.source])


_FIRST = {dialect: _first(dialect) for dialect in ("postgresql", "sqlite")}


def stored_copy(source: str) -> StoredCopy | None:
    row = run(_FIND, key=source).first()
    if row is None:
        return None
    return StoredCopy(
        row.source, row.document, row.digest, row.fetched_at, row.checked_at, row.failed_at, row.failure
    )


def claim_refresh(source: str, now: datetime, due: datetime) -> bool:
    """Whether this caller is to fetch now: no attempt since `due` (or none ever). The caller commits."""
    if _ensure_row(source, now):
        return True
    return run(_CLAIM, key=source, due=due, now=now).rowcount == 1


def keep_copy(
    source: str, document: bytes, digest: str, entity_id: str, now: datetime, valid_until: datetime | None
) -> None:
    """A good copy, fetched `now`, replaces the one before. The caller commits."""
    _ensure_row(source, now)
    run(
        _KEEP,
        key=source,
        document=document,
        digest=digest,
        entity_id=entity_id,
        now=now,
        valid_until=valid_until,
    )


def record_failure(source: str, now: datetime, failure: str) -> None:
    """A refresh failed `now`; the good copy stays. The caller commits."""
    _ensure_row(source, now)
    run(_FAIL, key=source, now=now, failure=failure[:FAILURE_LENGTH])


def _ensure_row(source: str, now: datetime) -> bool:
    """Insert the source's row when it has none; True when this call inserted it."""
    dialect = db.session.connection().dialect.name
    return run(_FIRST[dialect], source=source, checked_at=now).rowcount == 1
