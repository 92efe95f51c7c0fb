"""Local mandates in the pure decision: required, or narrowing; never widening what eHerkenning says."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from broker.decide import (
    Admitted,
    Applied,
    Establishment,
    EstablishmentPolicy,
    EstablishmentSource,
    LocalMandate,
    LocalMandatePolicy,
    MandateKind,
    RefusalReason,
    Refused,
    RegisterLookup,
    SponsorCategory,
    SponsorRegistration,
    check_local_mandates,
    decide,
    needs_local_mandates,
)
from saml.identifiers import IdentifierType
from saml.identity import Identifier
from saml.loa import LevelOfAssurance
from tests.decide.test_decision import IDENTITY, POLICY, REPRESENTATIVE

REQUIRED = dataclasses.replace(POLICY, local_mandate=LocalMandatePolicy.REQUIRED)
NARROW = dataclasses.replace(POLICY, local_mandate=LocalMandatePolicy.NARROW)
# IDENTITY's authn_instant is 2026-11-23 00:00 UTC: 01:00 that day in the Netherlands.
MOMENT = IDENTITY.authn_instant
OPEN = LocalMandate(date(2026, 1, 1))
BRANCH, OTHER_BRANCH = "000012345678", "000087654321"
AT_BRANCH = LocalMandate(date(2026, 1, 1), establishment=BRANCH)
LOA3 = LevelOfAssurance.LOA3


def refusal(decision: object) -> tuple[RefusalReason, str]:
    assert isinstance(decision, Refused), decision
    return decision.reason, decision.detail


def test_a_required_local_mandate_admits_the_representative() -> None:
    decision = decide(REPRESENTATIVE, REQUIRED, local=[OPEN])
    assert decision == Admitted(REPRESENTATIVE, MandateKind.REPRESENTATIVE, None, local_mandate=True)


@pytest.mark.parametrize(
    ("recorded", "why"),
    [
        ([], "none is recorded for the represented company and the representative"),
        ([LocalMandate(date(2025, 1, 1), date(2026, 11, 22))], "the local mandate ended on 2026-11-22"),
        ([LocalMandate(date(2026, 11, 24))], "the local mandate starts on 2026-11-24"),
        (
            [LocalMandate(date(2026, 1, 1), revoked_at=datetime(2026, 6, 30, 23, 30, tzinfo=UTC))],
            # 01:30 on 1 July in the Netherlands.
            "the local mandate was revoked on 2026-07-01",
        ),
        (
            [LocalMandate(date(2026, 12, 1)), LocalMandate(date(2025, 1, 1), date(2025, 12, 31))],
            "the local mandate ended on 2025-12-31",
        ),
    ],
    ids=["none", "ended", "not-yet", "revoked", "ended-and-not-yet"],
)
def test_without_a_current_local_mandate_a_required_one_refuses_saying_why(
    recorded: list[LocalMandate], why: str
) -> None:
    assert refusal(decide(REPRESENTATIVE, REQUIRED, local=recorded)) == (
        RefusalReason.NO_LOCAL_MANDATE,
        "this service admits a representative only with a local mandate recorded by its administrators: "
        + why,
    )


def test_the_period_counts_in_dutch_days_and_both_ends_are_included() -> None:
    # 23:30 UTC on 22 November is already the 23rd in the Netherlands.
    late = dataclasses.replace(REPRESENTATIVE, authn_instant=datetime(2026, 11, 22, 23, 30, tzinfo=UTC))
    for mandate in (LocalMandate(date(2026, 11, 23)), LocalMandate(date(2026, 1, 1), date(2026, 11, 23))):
        assert isinstance(decide(late, REQUIRED, local=[mandate]), Admitted)
    assert isinstance(
        decide(late, REQUIRED, local=[LocalMandate(date(2026, 1, 1), date(2026, 11, 22))]), Refused
    )


def test_a_revocation_counts_from_its_moment() -> None:
    later = LocalMandate(date(2026, 1, 1), revoked_at=datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC))
    assert isinstance(decide(REPRESENTATIVE, REQUIRED, local=[later]), Admitted)
    at_once = LocalMandate(date(2026, 1, 1), revoked_at=MOMENT)
    assert refusal(decide(REPRESENTATIVE, REQUIRED, local=[at_once]))[0] is RefusalReason.NO_LOCAL_MANDATE


def test_own_company_needs_no_local_mandate() -> None:
    assert not needs_local_mandates(IDENTITY, REQUIRED)
    assert decide(IDENTITY, REQUIRED) == Admitted(IDENTITY, MandateKind.OWN_COMPANY, None)


def test_the_register_not_read_refuses_even_where_it_only_narrows() -> None:
    for policy in (REQUIRED, NARROW):
        assert needs_local_mandates(REPRESENTATIVE, policy)
        reason, why = refusal(decide(REPRESENTATIVE, policy))
        assert (reason, why.endswith("the register of local mandates was not consulted")) == (
            RefusalReason.NO_LOCAL_MANDATE,
            True,
        )


def test_the_register_is_needed_only_for_a_representative_by_kvk_number_where_the_service_consults_it() -> (
    None
):
    assert not needs_local_mandates(REPRESENTATIVE, POLICY)
    by_rsin = dataclasses.replace(REPRESENTATIVE, intermediary=Identifier(IdentifierType.RSIN, "123456782"))
    assert not needs_local_mandates(by_rsin, REQUIRED)
    # A required local mandate cannot be found by an RSIN: refused; narrowing has nothing to narrow by.
    assert refusal(decide(by_rsin, REQUIRED))[0] is RefusalReason.NO_LOCAL_MANDATE
    assert decide(by_rsin, NARROW) == Admitted(by_rsin, MandateKind.REPRESENTATIVE, None)


def test_a_local_mandate_never_admits_what_the_service_does_not() -> None:
    own_only = dataclasses.replace(REQUIRED, mandates=frozenset({MandateKind.OWN_COMPANY}))
    assert not needs_local_mandates(REPRESENTATIVE, own_only)
    assert refusal(decide(REPRESENTATIVE, own_only, local=[OPEN]))[0] is RefusalReason.MANDATE_NOT_ADMITTED
    other = dataclasses.replace(REPRESENTATIVE, service_uuid="another")
    assert refusal(decide(other, REQUIRED, local=[OPEN]))[0] is RefusalReason.OTHER_SERVICE


def test_a_recognised_sponsor_needs_the_local_mandate_too() -> None:
    sponsors = dataclasses.replace(
        REQUIRED, mandates=frozenset({MandateKind.OWN_COMPANY, MandateKind.RECOGNISED_SPONSOR})
    )
    assert needs_local_mandates(REPRESENTATIVE, sponsors)
    registered = [SponsorRegistration(SponsorCategory.LABOUR, date(2020, 1, 1))]
    admitted = decide(REPRESENTATIVE, sponsors, registered, [OPEN])
    assert isinstance(admitted, Admitted) and admitted.mandate is MandateKind.RECOGNISED_SPONSOR
    assert refusal(decide(REPRESENTATIVE, sponsors, registered, []))[0] is RefusalReason.NO_LOCAL_MANDATE


def test_narrowing_without_a_local_mandate_admits_as_before() -> None:
    assert decide(REPRESENTATIVE, NARROW, local=[]) == Admitted(
        REPRESENTATIVE, MandateKind.REPRESENTATIVE, None
    )


@pytest.mark.parametrize("policy", [REQUIRED, NARROW], ids=["required", "narrow"])
def test_a_local_mandate_s_establishment_restricts_a_mandate_for_every_establishment(policy: object) -> None:
    decision = decide(REPRESENTATIVE, policy, local=[AT_BRANCH])
    assert isinstance(decision, Admitted)
    # A restriction like the assertion's: `mandate`, it limits what the person may do.
    assert decision.establishment == Establishment(BRANCH, EstablishmentSource.MANDATE)
    assert decision.local_mandate


def test_a_local_mandate_s_establishment_is_confirmed_in_the_handelsregister_where_one_is_required() -> None:
    policy = dataclasses.replace(NARROW, establishment=EstablishmentPolicy.REQUIRED)
    decision = decide(REPRESENTATIVE, policy, local=[AT_BRANCH])
    assert isinstance(decision, Admitted)
    assert decision.lookup == RegisterLookup("12345678", BRANCH)


def test_the_assertion_s_restriction_stands_when_the_local_mandate_agrees_or_names_none() -> None:
    restricted = dataclasses.replace(REPRESENTATIVE, establishment_restriction=BRANCH)
    for recorded in ([AT_BRANCH], [OPEN]):
        decision = decide(restricted, NARROW, local=recorded)
        assert isinstance(decision, Admitted)
        assert decision.establishment == Establishment(BRANCH, EstablishmentSource.MANDATE)


@pytest.mark.parametrize("policy", [REQUIRED, NARROW], ids=["required", "narrow"])
def test_a_local_mandate_for_another_establishment_than_the_assertion_s_refuses(policy: object) -> None:
    restricted = dataclasses.replace(REPRESENTATIVE, establishment_restriction=OTHER_BRANCH)
    assert refusal(decide(restricted, policy, local=[AT_BRANCH])) == (
        RefusalReason.LOCAL_MANDATE_CONFLICT,
        f"the local mandate is for establishment {BRANCH}, the mandate in eHerkenning for {OTHER_BRANCH}",
    )


def test_two_current_local_mandates_for_different_establishments_are_never_guessed_between() -> None:
    two = [AT_BRANCH, LocalMandate(date(2026, 1, 1), establishment=OTHER_BRANCH)]
    assert refusal(decide(REPRESENTATIVE, NARROW, local=two))[0] is RefusalReason.LOCAL_MANDATE_CONFLICT
    # The assertion's restriction, one of them, settles it; one for every establishment leaves it open.
    assert check_local_mandates(two, MOMENT, LocalMandatePolicy.NARROW, OTHER_BRANCH) == Applied(OTHER_BRANCH)
    assert check_local_mandates([*two, OPEN], MOMENT, LocalMandatePolicy.NARROW, None) == Applied(None)


def test_overlapping_periods() -> None:
    first = LocalMandate(date(2026, 1, 1), date(2026, 6, 30))
    assert first.overlaps(LocalMandate(date(2026, 6, 30)))
    assert not first.overlaps(LocalMandate(date(2026, 7, 1)))
    assert not LocalMandate(date(2026, 7, 1)).overlaps(first)
    assert OPEN.overlaps(LocalMandate(date(2030, 1, 1), date(2030, 1, 2)))
