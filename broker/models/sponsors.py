"""The register of recognised sponsors (*erkende referenten*): one row per company and category.

Kept by admins (`flask sponsors`), added one by one or imported per category from the public
register's export. A sign-in reads one company's rows only when they can matter.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, String, bindparam, delete, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from broker.decide import SponsorCategory, SponsorRegistration
from broker.extensions import db
from broker.models.statements import run, run_many
from broker.models.types import UtcDateTime


class Origin(enum.StrEnum):
    """How a row came into the register."""

    IMPORTED = "imported"
    ADDED = "added"


class RecognisedSponsor(db.Model):
    """A company recognised as a sponsor in one category, from `valid_from` to `valid_to` (both days
    included; no `valid_to`: open-ended)."""

    __tablename__ = "recognised_sponsor"

    # The primary key's index, KvK number first, serves a sign-in's lookup.
    kvk_number: Mapped[str] = mapped_column(String(8), primary_key=True)
    category: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    valid_from: Mapped[date] = mapped_column(Date())
    valid_to: Mapped[date | None] = mapped_column(Date(), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    origin: Mapped[str] = mapped_column(String(16))


@dataclass(frozen=True)
class Sponsor:
    """One row of the register."""

    kvk_number: str
    category: SponsorCategory
    name: str
    valid_from: date
    valid_to: date | None
    recorded_at: datetime
    origin: Origin


@dataclass(frozen=True)
class Listed:
    """A company as the public register's export lists it."""

    kvk_number: str
    name: str


@dataclass(frozen=True)
class Replaced:
    """What an import changed in its category."""

    added: int
    removed: int
    kept: int


_sponsors = RecognisedSponsor.__table__
_c = _sponsors.c
_REGISTRATIONS = select(_c.category, _c.valid_from, _c.valid_to).where(_c.kvk_number == bindparam("kvk"))
_ADD = insert(_sponsors)
_REMOVE = delete(_sponsors).where(_c.kvk_number == bindparam("kvk"), _c.category == bindparam("cat"))
_REMOVE_ALL = delete(_sponsors).where(_c.kvk_number == bindparam("kvk"))
_IN_CATEGORY = select(_c.kvk_number).where(_c.category == bindparam("cat"))
# A company the export still lists keeps the day its recognition began, and is open-ended again.
_RELISTED = (
    update(_sponsors)
    .where(_c.kvk_number == bindparam("kvk"), _c.category == bindparam("cat"))
    .values(name=bindparam("listed_name"), valid_to=None)
)


def registrations(kvk_number: str) -> tuple[SponsorRegistration, ...]:
    """What the register holds for `kvk_number`, every category and period: one indexed read."""
    rows = run(_REGISTRATIONS, kvk=kvk_number)
    return tuple(SponsorRegistration(SponsorCategory(r.category), r.valid_from, r.valid_to) for r in rows)


def sponsors(category: SponsorCategory | None = None) -> list[Sponsor]:
    """The register, by KvK number and category; only `category`'s rows when given."""
    statement = select(_sponsors).order_by(_c.kvk_number, _c.category)
    if category is not None:
        statement = statement.where(_c.category == category.value)
    return [
        Sponsor(
            r.kvk_number,
            SponsorCategory(r.category),
            r.name,
            r.valid_from,
            r.valid_to,
            r.recorded_at,
            Origin(r.origin),
        )
        for r in run(statement)
    ]


def add_sponsor(sponsor: Sponsor) -> None:
    """Add one row; a company already in that category raises IntegrityError. The caller commits."""
    run(_ADD, **_row(sponsor))


def remove_sponsor(kvk_number: str, category: SponsorCategory | None = None) -> int:
    """Remove a company from one category, or from all; how many rows went. The caller commits."""
    if category is None:
        return run(_REMOVE_ALL, kvk=kvk_number).rowcount
    return run(_REMOVE, kvk=kvk_number, cat=category.value).rowcount


def replace_category(
    category: SponsorCategory, listed: Sequence[Listed], valid_from: date, now: datetime
) -> Replaced:
    """Make `category` hold exactly the companies `listed` (KvK numbers unique): new ones from
    `valid_from`, the others kept (their start unchanged, their end cleared), the rest removed.
    The caller commits: the whole import is one transaction."""
    before = set(run(_IN_CATEGORY, cat=category.value).scalars())
    by_number = {entry.kvk_number: entry for entry in listed}
    gone = sorted(before - by_number.keys())
    kept = [entry for entry in listed if entry.kvk_number in before]
    new = [entry for entry in listed if entry.kvk_number not in before]
    run_many(_REMOVE, ({"kvk": number, "cat": category.value} for number in gone))
    run_many(_RELISTED, ({"kvk": e.kvk_number, "cat": category.value, "listed_name": e.name} for e in kept))
    run_many(
        _ADD,
        (_row(Sponsor(e.kvk_number, category, e.name, valid_from, None, now, Origin.IMPORTED)) for e in new),
    )
    return Replaced(added=len(new), removed=len(gone), kept=len(kept))


def _row(sponsor: Sponsor) -> dict[str, object]:
    return {
        "kvk_number": sponsor.kvk_number,
        "category": sponsor.category.value,
        "name": sponsor.name,
        "valid_from": sponsor.valid_from,
        "valid_to": sponsor.valid_to,
        "recorded_at": sponsor.recorded_at,
        "origin": sponsor.origin.value,
    }
