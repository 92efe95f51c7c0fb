"""The establishment policy and its settling from the Handelsregister: tables of cases, pure values."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from broker.decide import (
    Admitted,
    Establishment,
    EstablishmentChoice,
    EstablishmentPolicy,
    EstablishmentSource,
    MandateKind,
    RefusalReason,
    Refused,
    RegisteredEstablishment,
    RegisterLookup,
    check_restriction,
    decide,
    picked,
    settle,
)
from saml.identifiers import IdentifierType
from saml.identity import Identifier
from tests.decide.test_decision import IDENTITY, POLICY

KVK = "12345678"
RESTRICTION = "000012345678"
MANDATE = EstablishmentSource.MANDATE
SELECTED = EstablishmentSource.SELECTED
# The day of the sign-in (Dutch calendar), and an end date long gone by.
TODAY = date(2026, 11, 23)
STOPPED = date(2024, 6, 30)


def registered(
    number: str, *, main: bool = False, ended: date | None = None, kvk: str = KVK
) -> RegisteredEstablishment:
    address = "Straat 1, 1234AB Plaats"
    return RegisteredEstablishment(number, kvk, f"Shop {number[-2:]}", main, address, ended)


@pytest.mark.parametrize(
    ("restriction", "policy", "establishment", "lookup"),
    [
        (None, EstablishmentPolicy.NONE, None, None),
        (RESTRICTION, EstablishmentPolicy.NONE, Establishment(RESTRICTION, MANDATE), None),
        (None, EstablishmentPolicy.REQUIRED, None, RegisterLookup(KVK)),
        (
            RESTRICTION,
            EstablishmentPolicy.REQUIRED,
            Establishment(RESTRICTION, MANDATE),
            RegisterLookup(KVK, RESTRICTION),
        ),
    ],
    ids=["none-free", "none-restricted", "required-free", "required-restricted"],
)
def test_the_policy_says_what_is_settled_and_what_is_still_needed(
    restriction: str | None,
    policy: EstablishmentPolicy,
    establishment: Establishment | None,
    lookup: RegisterLookup | None,
) -> None:
    identity = dataclasses.replace(IDENTITY, establishment_restriction=restriction)
    decision = decide(identity, dataclasses.replace(POLICY, establishment=policy))
    assert decision == Admitted(identity, MandateKind.OWN_COMPANY, establishment, lookup)


def test_a_required_establishment_needs_a_kvk_number() -> None:
    by_rsin = dataclasses.replace(IDENTITY, legal_subject=Identifier(IdentifierType.RSIN, "111222333"))
    policy = dataclasses.replace(POLICY, establishment=EstablishmentPolicy.REQUIRED)
    decision = decide(by_rsin, policy)
    assert isinstance(decision, Refused)
    assert decision.reason is RefusalReason.NO_KVK_NUMBER


MAIN, SECOND, THIRD = "000011110001", "000011110002", "000011110003"


@pytest.mark.parametrize(
    ("register", "settled"),
    [
        ([], Establishment("0000" + KVK, EstablishmentSource.NO_ESTABLISHMENT)),
        (
            [registered(MAIN, ended=STOPPED)],
            Establishment("0000" + KVK, EstablishmentSource.NO_ESTABLISHMENT),
        ),
        ([registered(MAIN, main=True)], Establishment(MAIN, SELECTED)),
        ([registered(MAIN, main=True), registered(SECOND, ended=STOPPED)], Establishment(MAIN, SELECTED)),
        ([registered(MAIN), registered(SECOND, kvk="87654321")], Establishment(MAIN, SELECTED)),
        (
            [registered(THIRD), registered(SECOND, ended=STOPPED), registered(MAIN, main=True)],
            EstablishmentChoice((registered(MAIN, main=True), registered(THIRD))),
        ),
        ([registered(MAIN, main=True), registered(SECOND, ended=TODAY)], Establishment(MAIN, SELECTED)),
        (
            [registered(MAIN, main=True), registered(SECOND, ended=TODAY + timedelta(days=1))],
            EstablishmentChoice(
                (registered(MAIN, main=True), registered(SECOND, ended=TODAY + timedelta(days=1)))
            ),
        ),
    ],
    ids=[
        "none",
        "none-active",
        "one",
        "one-active",
        "one-of-this-company",
        "several-main-first",
        "one-ends-today",
        "one-ends-tomorrow",
    ],
)
def test_settling_from_the_companys_establishments(
    register: list[RegisteredEstablishment], settled: object
) -> None:
    assert settle(KVK, register, TODAY) == settled


@pytest.mark.parametrize(
    ("profile", "settled"),
    [
        (registered(RESTRICTION), Establishment(RESTRICTION, MANDATE)),
        (registered(RESTRICTION, ended=STOPPED), RefusalReason.ESTABLISHMENT_STOPPED),
        (registered(RESTRICTION, ended=TODAY - timedelta(days=1)), RefusalReason.ESTABLISHMENT_STOPPED),
        (registered(RESTRICTION, ended=TODAY), RefusalReason.ESTABLISHMENT_STOPPED),
        (registered(RESTRICTION, ended=TODAY + timedelta(days=1)), Establishment(RESTRICTION, MANDATE)),
        (registered(RESTRICTION, kvk="87654321"), RefusalReason.ESTABLISHMENT_NOT_OF_COMPANY),
        (registered(SECOND), RefusalReason.ESTABLISHMENT_NOT_OF_COMPANY),
        (None, RefusalReason.ESTABLISHMENT_NOT_OF_COMPANY),
    ],
    ids=[
        "active",
        "stopped",
        "ended-yesterday",
        "ends-today",
        "ends-tomorrow",
        "other-company",
        "other-number",
        "unknown",
    ],
)
def test_a_restriction_is_checked_against_the_register(
    profile: RegisteredEstablishment | None, settled: object
) -> None:
    outcome = check_restriction(RegisterLookup(KVK, RESTRICTION), profile, TODAY)
    if isinstance(outcome, Refused):
        assert outcome.reason is settled
        assert RESTRICTION in outcome.detail
    else:
        assert outcome == settled


@pytest.mark.parametrize(
    ("number", "outcome"),
    [(MAIN, Establishment(MAIN, SELECTED)), (THIRD, None), ("", None), ("0000" + KVK, None)],
    ids=["offered", "not-offered", "empty", "no-establishment"],
)
def test_only_an_offered_establishment_can_be_picked(number: str, outcome: Establishment | None) -> None:
    assert picked((MAIN, SECOND), number) == outcome
