"""The register of local mandates: what a service's administrators record beside eHerkenning.

One row per local mandate: a represented company, the representative acting for it, the
service, perhaps one establishment, a period, when it was revoked, and why it was recorded. Kept
by admins (`flask mandates`), one by one or imported from a CSV file; never deleted, only
revoked, so the register keeps its history. A sign-in reads one pair's rows at one service only
when they can matter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, String, bindparam, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from broker.decide import LocalMandate
from broker.extensions import db
from broker.models.statements import Row, run
from broker.models.types import UtcDateTime

# The register's column widths.
MAX_WHY = 255
MAX_SERVICE = 63


class MandateOrigin(enum.StrEnum):
    """How a local mandate came into the register."""

    ADDED = "added"
    IMPORTED = "imported"


class LocalMandateRow(db.Model):
    """A local mandate: `representative_kvk` acts for `represented_kvk` at `service` (a slug), for
    `establishment` only when set, from `valid_from` to `valid_to` (both days included; none:
    open-ended), until `revoked_at`."""

    __tablename__ = "local_mandate"
    # A sign-in's lookup: one pair at one service.
    __table_args__ = (Index("ix_local_mandate_pair", "represented_kvk", "representative_kvk", "service"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    represented_kvk: Mapped[str] = mapped_column(String(8))
    representative_kvk: Mapped[str] = mapped_column(String(8))
    service: Mapped[str] = mapped_column(String(MAX_SERVICE))
    establishment: Mapped[str | None] = mapped_column(String(12), nullable=True)
    valid_from: Mapped[date] = mapped_column(Date())
    valid_to: Mapped[date | None] = mapped_column(Date(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    why: Mapped[str] = mapped_column(String(MAX_WHY))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    origin: Mapped[str] = mapped_column(String(16))


@dataclass(frozen=True)
class NewMandate:
    """A local mandate to record."""

    represented_kvk: str
    representative_kvk: str
    service: str
    establishment: str | None
    valid_from: date
    valid_to: date | None
    why: str

    @property
    def period(self) -> LocalMandate:
        return LocalMandate(self.valid_from, self.valid_to, self.establishment)


@dataclass(frozen=True)
class RecordedMandate:
    """A row of the register."""

    id: int
    mandate: NewMandate
    revoked_at: datetime | None
    recorded_at: datetime
    origin: MandateOrigin

    def entry(self) -> dict[str, object]:
        """The local mandate as the audit trail keeps it."""
        mandate = self.mandate
        return {
            "represented_kvk": mandate.represented_kvk,
            "representative_kvk": mandate.representative_kvk,
            "service": mandate.service,
            "establishment": mandate.establishment,
            "valid_from": mandate.valid_from.isoformat(),
            "valid_to": mandate.valid_to and mandate.valid_to.isoformat(),
            "revoked_at": self.revoked_at and self.revoked_at.isoformat(),
            "why": mandate.why,
        }


_mandates = LocalMandateRow.__table__
_c = _mandates.c
_PAIR = (
    _c.represented_kvk == bindparam("represented"),
    _c.representative_kvk == bindparam("representative"),
    _c.service == bindparam("service"),
)
_FOR_PAIR = select(_c.valid_from, _c.valid_to, _c.establishment, _c.revoked_at).where(*_PAIR)
_STANDING = select(_mandates).where(*_PAIR, _c.revoked_at.is_(None)).order_by(_c.id)
_BY_ID = select(_mandates).where(_c.id == bindparam("mandate_id"))
_ADD = insert(_mandates).returning(_c.id)
_REVOKE = (
    update(_mandates)
    .where(_c.id == bindparam("mandate_id"), _c.revoked_at.is_(None))
    .values(revoked_at=bindparam("at"))
)


def local_mandates(represented_kvk: str, representative_kvk: str, service: str) -> tuple[LocalMandate, ...]:
    """What the register holds for the pair at `service`, revoked ones too: one indexed read."""
    rows = run(_FOR_PAIR, represented=represented_kvk, representative=representative_kvk, service=service)
    return tuple(LocalMandate(r.valid_from, r.valid_to, r.establishment, r.revoked_at) for r in rows)


def recorded_mandates(service: str | None = None, kvk_number: str | None = None) -> list[RecordedMandate]:
    """The register in the order of recording; only `service`'s, or those naming `kvk_number` on
    either side, when given."""
    statement = select(_mandates).order_by(_c.id)
    if service is not None:
        statement = statement.where(_c.service == service)
    if kvk_number is not None:
        statement = statement.where(
            (_c.represented_kvk == kvk_number) | (_c.representative_kvk == kvk_number)
        )
    return [_recorded(r) for r in run(statement)]


def recorded_mandate(mandate_id: int) -> RecordedMandate | None:
    row = run(_BY_ID, mandate_id=mandate_id).first()
    return None if row is None else _recorded(row)


def standing_overlap(mandate: NewMandate) -> RecordedMandate | None:
    """A local mandate not revoked for the same pair and service whose period shares a day with
    `mandate`'s, if the register holds one: at most one stands for a pair on any day."""
    rows = run(
        _STANDING,
        represented=mandate.represented_kvk,
        representative=mandate.representative_kvk,
        service=mandate.service,
    )
    return next((r for r in map(_recorded, rows) if r.mandate.period.overlaps(mandate.period)), None)


def add_mandate(mandate: NewMandate, now: datetime, origin: MandateOrigin) -> int:
    """Record `mandate`; its id. The caller commits."""
    result = run(
        _ADD,
        represented_kvk=mandate.represented_kvk,
        representative_kvk=mandate.representative_kvk,
        service=mandate.service,
        establishment=mandate.establishment,
        valid_from=mandate.valid_from,
        valid_to=mandate.valid_to,
        revoked_at=None,
        why=mandate.why,
        recorded_at=now,
        origin=origin.value,
    )
    return int(result.scalar())


def revoke_mandate(mandate_id: int, at: datetime) -> bool:
    """Revoke a local mandate from `at` on; False when there is none by that id not yet revoked.
    The caller commits."""
    return run(_REVOKE, mandate_id=mandate_id, at=at).rowcount == 1


def _recorded(r: Row) -> RecordedMandate:
    mandate = NewMandate(
        r.represented_kvk, r.representative_kvk, r.service, r.establishment, r.valid_from, r.valid_to, r.why
    )
    return RecordedMandate(r.id, mandate, r.revoked_at, r.recorded_at, MandateOrigin(r.origin))
