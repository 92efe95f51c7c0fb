"""Which establishment a sign-in is for: a mandate's restriction, the user's pick, or none at all.

A restriction in the mandate is always respected; a service that requires an establishment has
it settled from the company's establishments in the KvK Handelsregister. These functions only
weigh what the register answered: fetching it is the caller's business.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from broker.decide.refusal import RefusalReason, Refused

NO_ESTABLISHMENT_PREFIX = "0000"


class EstablishmentSource(enum.StrEnum):
    """Where an establishment number came from; only `mandate` limits what the person may do."""

    MANDATE = "mandate"
    SELECTED = "selected"
    NO_ESTABLISHMENT = "no_establishment"


class EstablishmentPolicy(enum.StrEnum):
    """Whether a service needs an establishment number with every sign-in (config `establishment`)."""

    NONE = "none"
    REQUIRED = "required"


@dataclass(frozen=True)
class Establishment:
    number: str
    source: EstablishmentSource


@dataclass(frozen=True)
class RegisteredEstablishment:
    """One vestiging as the Handelsregister describes it; `ended` is its `datumEinde`, if any."""

    number: str
    kvk_number: str
    trade_name: str
    main: bool
    address: str
    ended: date | None = None

    def active_on(self, day: date) -> bool:
        """Whether it still runs on `day` (a Dutch calendar day): stopped means ended on or before it.

        An end date still to come (KvK registers a planned stop ahead) leaves it active until then.
        """
        return self.ended is None or self.ended > day


@dataclass(frozen=True)
class RegisterLookup:
    """What must still be read from the Handelsregister before the establishment is settled.

    With a `restriction`, that establishment's profile (is it the company's, still active?);
    without one, the company's establishments, to settle one from.
    """

    kvk_number: str
    restriction: str | None = None


@dataclass(frozen=True)
class EstablishmentChoice:
    """The user must pick one of these active establishments of the company."""

    options: tuple[RegisteredEstablishment, ...]

    @property
    def numbers(self) -> tuple[str, ...]:
        return tuple(option.number for option in self.options)


Settled = Establishment | EstablishmentChoice | Refused


def no_establishment(kvk_number: str) -> Establishment:
    """What portals such as OLO expect of an organisation without establishments: `0000` + KvK."""
    return Establishment(NO_ESTABLISHMENT_PREFIX + kvk_number, EstablishmentSource.NO_ESTABLISHMENT)


def settle(kvk_number: str, establishments: Sequence[RegisteredEstablishment], day: date) -> Settled:
    """Settle the establishment of `kvk_number` from its establishments in the register, on `day`.

    None active: `0000` + KvK. Exactly one: that one, without asking. Several: the user picks
    among the active ones (the main establishment first).
    """
    active = [e for e in establishments if e.active_on(day) and e.kvk_number == kvk_number]
    if not active:
        return no_establishment(kvk_number)
    if len(active) == 1:
        return Establishment(active[0].number, EstablishmentSource.SELECTED)
    return EstablishmentChoice(tuple(sorted(active, key=lambda e: (not e.main, e.trade_name, e.number))))


def check_restriction(lookup: RegisterLookup, profile: RegisteredEstablishment | None, day: date) -> Settled:
    """A mandate's restriction against the register: an establishment of the company, active on `day`.

    `profile` is the register's vestigingsprofiel of the restriction, None when it knows none.
    """
    restriction = lookup.restriction
    assert restriction is not None  # only asked for a restriction
    if profile is None or profile.number != restriction or profile.kvk_number != lookup.kvk_number:
        return Refused(
            RefusalReason.ESTABLISHMENT_NOT_OF_COMPANY,
            f"establishment {restriction} is not one of KvK number {lookup.kvk_number}",
        )
    if not profile.active_on(day):
        return Refused(RefusalReason.ESTABLISHMENT_STOPPED, f"establishment {restriction} has stopped")
    return Establishment(restriction, EstablishmentSource.MANDATE)


def picked(allowed: Collection[str], number: str) -> Establishment | None:
    """The user's pick, if it is one of the establishments offered; None otherwise."""
    return Establishment(number, EstablishmentSource.SELECTED) if number in allowed else None
