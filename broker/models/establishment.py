"""Sign-ins waiting for their establishment: the user picks one, or the KvK register must answer first.

Kept between the return from the HM and the picker's answer, so neither a second eHerkenning
login nor any state in the browser is needed; used once, then gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, String, bindparam, delete, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from broker.decide import RegisteredEstablishment, RegisterLookup
from broker.extensions import db
from broker.models.statements import run
from broker.models.types import UtcDateTime


class PendingChoice(db.Model):
    """A decided sign-in whose establishment is still to be settled."""

    __tablename__ = "pending_choice"

    # Unguessable: the picker's form carries it, and nothing else identifies the sign-in.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    # The authorization request's parameters, replayed into authlib when the code is issued.
    parameters: Mapped[dict[str, str]] = mapped_column(JSON)
    # The claims decided at the return from the HM, before the establishment is added.
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)
    kvk_number: Mapped[str] = mapped_column(String(8))
    restriction: Mapped[str | None] = mapped_column(String(12), nullable=True)
    # The establishments offered; None while the register has not answered.
    options: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # The sign-in's reference (its SAML request's ID), for the picker's log lines.
    sign_in: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The entityID of the HM that answered, for the audit trail.
    hm: Mapped[str | None] = mapped_column(String(1000), nullable=True)


@dataclass(frozen=True)
class WaitingChoice:
    """What the picker needs of a pending choice."""

    id: str
    client_id: str
    parameters: dict[str, str]
    claims: dict[str, Any]
    lookup: RegisterLookup
    options: tuple[RegisteredEstablishment, ...] | None
    sign_in: str | None = None
    hm: str | None = None


_choices = PendingChoice.__table__
_ADD_CHOICE = insert(_choices)
_FIND_CHOICE = select(_choices).where(
    _choices.c.id == bindparam("id"), _choices.c.expires_at > bindparam("now")
)
_OFFER = update(_choices).where(_choices.c.id == bindparam("choice")).values(options=bindparam("offered"))
_TAKE_CHOICE = (
    delete(_choices)
    .where(_choices.c.id == bindparam("id"), _choices.c.expires_at > bindparam("now"))
    .returning(_choices.c.id)
)


def add_choice(choice: WaitingChoice, now: datetime, lifetime: timedelta) -> None:
    """Keep a sign-in until its establishment is settled; the caller commits."""
    run(
        _ADD_CHOICE,
        id=choice.id,
        client_id=choice.client_id,
        parameters=choice.parameters,
        claims=choice.claims,
        kvk_number=choice.lookup.kvk_number,
        restriction=choice.lookup.restriction,
        options=_stored(choice.options),
        sign_in=choice.sign_in,
        hm=choice.hm,
        created_at=now,
        expires_at=now + lifetime,
    )


def find_choice(choice_id: str, now: datetime) -> WaitingChoice | None:
    """The unexpired, unused pending choice `choice_id`."""
    row = run(_FIND_CHOICE, id=choice_id, now=now).first()
    if row is None:
        return None
    lookup = RegisterLookup(row.kvk_number, row.restriction)
    options = None if row.options is None else tuple(_option(o, row.kvk_number) for o in row.options)
    return WaitingChoice(
        row.id, row.client_id, dict(row.parameters), dict(row.claims), lookup, options, row.sign_in, row.hm
    )


def offer(choice_id: str, options: tuple[RegisteredEstablishment, ...]) -> None:
    """Record the establishments the register offered, once it answered; the caller commits."""
    run(_OFFER, choice=choice_id, offered=_stored(options))


def take_choice(choice_id: str, now: datetime) -> bool:
    """Use the pending choice up: True once, for the one request that may finish the sign-in."""
    return run(_TAKE_CHOICE, id=choice_id, now=now).first() is not None


def _stored(options: tuple[RegisteredEstablishment, ...] | None) -> list[dict[str, Any]] | None:
    if options is None:
        return None
    return [
        {"number": o.number, "trade_name": o.trade_name, "main": o.main, "address": o.address}
        for o in options
    ]


def _option(stored: dict[str, Any], kvk_number: str) -> RegisteredEstablishment:
    # Offered from the company's list of current establishments, which gives no end dates.
    return RegisteredEstablishment(
        stored["number"], kvk_number, stored["trade_name"], stored["main"], stored["address"]
    )
