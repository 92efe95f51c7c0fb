"""The version of our service catalogue, per HM environment: it goes up whenever the content changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Executable, Integer, String, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from broker.extensions import db
from broker.models.statements import run
from broker.models.types import UtcDateTime


class CatalogueVersion(db.Model):
    """The last catalogue made for an environment: its content's digest and its sequence number."""

    __tablename__ = "catalogue_version"

    environment: Mapped[str] = mapped_column(String(16), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class Numbered:
    """The sequence number a catalogue's content has, and whether this content got a new one."""

    sequence: int
    changed: bool


@dataclass(frozen=True)
class Published:
    """The last content an environment's catalogue had: its digest, number, and since when."""

    content_hash: str
    sequence: int
    changed_at: datetime


_versions = CatalogueVersion.__table__
_FIND = select(_versions.c.content_hash, _versions.c.sequence, _versions.c.changed_at).where(
    _versions.c.environment == bindparam("env")
)
# The row is locked by the update: a worker numbering the same new content at the same moment
# waits, then finds the digest already stored and changes nothing.
_NEXT = (
    update(_versions)
    .where(_versions.c.environment == bindparam("env"), _versions.c.content_hash != bindparam("digest"))
    .values(sequence=_versions.c.sequence + 1, content_hash=bindparam("digest"), changed_at=bindparam("now"))
    .returning(_versions.c.sequence)
)


def _first(dialect: str) -> Executable:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(_versions).on_conflict_do_nothing(index_elements=[_versions.c.environment])


_FIRST = {dialect: _first(dialect) for dialect in ("postgresql", "sqlite")}


def number_catalogue(environment: str, digest: str, now: datetime) -> Numbered:
    """The sequence number of the catalogue whose content has `digest`: the stored one when the
    content is unchanged, else one more (the first catalogue is 1). The caller commits."""
    dialect = db.session.connection().dialect.name
    values = {"environment": environment, "content_hash": digest, "sequence": 1, "changed_at": now}
    if run(_FIRST[dialect], **values).rowcount == 1:
        return Numbered(1, changed=True)
    sequence = run(_NEXT, env=environment, digest=digest, now=now).scalar()
    if sequence is not None:
        return Numbered(sequence, changed=True)
    published = last_catalogue(environment)
    assert published is not None  # inserted or found above, in this transaction
    return Numbered(published.sequence, changed=False)


def last_catalogue(environment: str) -> Published | None:
    """What the environment's catalogue was when it was last made; None before the first."""
    row = run(_FIND, env=environment).first()
    return None if row is None else Published(row.content_hash, row.sequence, row.changed_at)
