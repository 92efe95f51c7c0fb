"""Recognised sponsors (*erkend referent*): whether the register admits a representative's company.

A service that admits representatives only for recognised sponsors (the IND) lets a company act
for another only while the represented company is registered as a sponsor, in one of the
service's categories when it names any. These functions only weigh what the register holds for
that company: reading it is the caller's business.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from broker.decide.refusal import RefusalReason, Refused

# The register's dates are Dutch calendar days.
_REGISTER_ZONE = ZoneInfo("Europe/Amsterdam")

# What every refusal says first: the portal passes it on to the user.
SPONSORS_ONLY = "this service admits a representative only for a recognised sponsor (erkend referent)"


class SponsorCategory(enum.StrEnum):
    """The IND's categories of recognition (arbeid, kennismigrant, onderzoek, studie, uitwisseling)."""

    LABOUR = "labour"
    KNOWLEDGE_MIGRANT = "knowledge_migrant"
    RESEARCH = "research"
    STUDY = "study"
    EXCHANGE = "exchange"


@dataclass(frozen=True)
class SponsorRegistration:
    """One category a company is registered in, from `valid_from` to `valid_to` (both days included;
    None: open-ended)."""

    category: SponsorCategory
    valid_from: date
    valid_to: date | None = None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def register_day(moment: datetime) -> date:
    """The day in the register's calendar (Dutch) that an aware `moment` falls on."""
    return moment.astimezone(_REGISTER_ZONE).date()


def check_sponsor(
    registrations: Collection[SponsorRegistration], day: date, categories: Collection[SponsorCategory]
) -> Refused | None:
    """None when the register's `registrations` of a company make it a recognised sponsor on `day`
    in one of `categories` (any category when empty); otherwise the refusal, saying why."""
    relevant = [r for r in registrations if not categories or r.category in categories]
    if any(r.valid_on(day) for r in relevant):
        return None
    return Refused(RefusalReason.NOT_A_RECOGNISED_SPONSOR, _why_not(registrations, relevant, day, categories))


def _why_not(
    registrations: Collection[SponsorRegistration],
    relevant: list[SponsorRegistration],
    day: date,
    categories: Collection[SponsorCategory],
) -> str:
    if not registrations:
        return f"{SPONSORS_ONLY}: the represented company is not in the register of recognised sponsors"
    if not relevant:
        held = ", ".join(sorted(r.category.value for r in registrations))
        wanted = ", ".join(sorted(c.value for c in categories))
        return f"{SPONSORS_ONLY}: the represented company is recognised for {held}, not for {wanted}"
    if all(r.valid_from > day for r in relevant):
        starts = min(r.valid_from for r in relevant)
        return f"{SPONSORS_ONLY}: the represented company's recognition starts on {starts.isoformat()}"
    ended = max(r.valid_to for r in relevant if r.valid_to is not None)
    return f"{SPONSORS_ONLY}: the represented company's recognition ended on {ended.isoformat()}"
