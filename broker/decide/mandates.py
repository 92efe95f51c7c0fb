"""Local mandates: what a service's administrators record beside eHerkenning about a representative.

eHerkenning says that one company may act for another at a service, perhaps for one
establishment only. A service can ask more of a representative: a local mandate for that pair
of companies, recorded by its administrators (`flask mandates`), current at the sign-in, perhaps
naming one establishment. A service that requires one admits a representative only with it; a
service that narrows by them takes a current one's establishment as a further restriction. A
local mandate never widens what the assertion allows: its establishment must be the assertion's
restriction, when the assertion has one. These functions only weigh the register's rows for the
pair and the service: reading them is the caller's business.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from broker.decide.refusal import RefusalReason, Refused
from broker.decide.sponsor import register_day

# What a refusal for want of a local mandate says first: the portal passes it on to the user.
LOCAL_ONLY = "this service admits a representative only with a local mandate recorded by its administrators"


class LocalMandatePolicy(enum.StrEnum):
    """Whether a service consults the register of local mandates for a representative (config
    `local_mandate`)."""

    NONE = "none"
    NARROW = "narrow"
    REQUIRED = "required"


@dataclass(frozen=True)
class LocalMandate:
    """One local mandate for a pair of companies at a service: from `valid_from` to `valid_to` (Dutch
    calendar days, both included; None: open-ended), for `establishment` only (None: all of them),
    until `revoked_at` (None: not revoked)."""

    valid_from: date
    valid_to: date | None = None
    establishment: str | None = None
    revoked_at: datetime | None = None

    def in_period(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def revoked_by(self, moment: datetime) -> bool:
        return self.revoked_at is not None and self.revoked_at <= moment

    def current_at(self, moment: datetime) -> bool:
        """Whether it holds at the aware `moment`: in its period and not revoked."""
        return self.in_period(register_day(moment)) and not self.revoked_by(moment)

    def overlaps(self, other: LocalMandate) -> bool:
        """Whether the two periods share a day."""
        ends_first = self.valid_to is not None and self.valid_to < other.valid_from
        starts_after = other.valid_to is not None and other.valid_to < self.valid_from
        return not ends_first and not starts_after


@dataclass(frozen=True)
class Applied:
    """A current local mandate holds for the sign-in; `establishment` is the one it restricts to
    (None: it leaves the establishment as the assertion has it)."""

    establishment: str | None


def check_local_mandates(
    mandates: Collection[LocalMandate], moment: datetime, policy: LocalMandatePolicy, restriction: str | None
) -> Applied | Refused | None:
    """What the register's `mandates` for a representative's pair of companies at a service say at
    `moment`, where the assertion restricts to `restriction` (None: no restriction).

    Applied when one is current (and agrees with the restriction); None when none is and the
    `policy` only narrows; otherwise the refusal, saying why.
    """
    current = [m for m in mandates if m.current_at(moment)]
    if not current:
        if policy is LocalMandatePolicy.REQUIRED:
            return Refused(RefusalReason.NO_LOCAL_MANDATE, f"{LOCAL_ONLY}: {_why_none(mandates, moment)}")
        return None
    named = {m.establishment for m in current}
    if None in named:
        # One of them is for every establishment: the assertion's restriction, if any, stands.
        return Applied(None)
    if restriction is not None:
        if restriction in named:
            return Applied(restriction)
        recorded = ", ".join(sorted(e for e in named if e is not None))
        why = (
            f"the local mandate is for establishment {recorded}, the mandate in eHerkenning for {restriction}"
        )
        return Refused(RefusalReason.LOCAL_MANDATE_CONFLICT, why)
    if len(named) > 1:
        # The register allows one current local mandate per pair and service; never guess between two.
        return Refused(
            RefusalReason.LOCAL_MANDATE_CONFLICT,
            "several current local mandates name different establishments",
        )
    (establishment,) = named
    return Applied(establishment)


def _why_none(mandates: Collection[LocalMandate], moment: datetime) -> str:
    if not mandates:
        return "none is recorded for the represented company and the representative"
    day = register_day(moment)
    standing = [m for m in mandates if not m.revoked_by(moment)]
    if not standing:
        revoked = max(m.revoked_at for m in mandates if m.revoked_at is not None)
        return f"the local mandate was revoked on {register_day(revoked).isoformat()}"
    if all(m.valid_from > day for m in standing):
        return f"the local mandate starts on {min(m.valid_from for m in standing).isoformat()}"
    ended = max(m.valid_to for m in standing if m.valid_to is not None and m.valid_to < day)
    return f"the local mandate ended on {ended.isoformat()}"
