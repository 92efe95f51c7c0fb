"""Recognised sponsors: a representative is admitted on the register's answer, or refused saying why."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from broker.decide import (
    Admitted,
    MandateKind,
    RefusalReason,
    Refused,
    ServicePolicy,
    SponsorCategory,
    SponsorRegistration,
    decide,
    needs_sponsor_register,
)
from saml.identifiers import IdentifierType
from saml.identity import Identifier
from tests.decide.test_decision import IDENTITY, POLICY, REPRESENTATIVE

OWN, REP, SPONSOR = MandateKind.OWN_COMPANY, MandateKind.REPRESENTATIVE, MandateKind.RECOGNISED_SPONSOR
LABOUR, STUDY, RESEARCH = SponsorCategory.LABOUR, SponsorCategory.STUDY, SponsorCategory.RESEARCH
# REPRESENTATIVE signs in on 2026-11-23 (UTC midnight: 01:00 in Amsterdam, the same day).
DAY = date(2026, 11, 23)
IND = dataclasses.replace(POLICY, mandates=frozenset({OWN, SPONSOR}))
IND_LABOUR = dataclasses.replace(IND, sponsor_categories=frozenset({LABOUR}))
OWN_ONLY = dataclasses.replace(IND, mandates=frozenset({OWN}))
NOT_ADMITTED = "does not admit representative"


def registered(category: SponsorCategory = LABOUR, start: date = date(2020, 1, 1), end: date | None = None):
    return SponsorRegistration(category, start, end)


@pytest.mark.parametrize(
    ("policy", "sponsor", "expected"),
    [
        (IND, [registered()], SPONSOR),
        (IND, [registered(start=DAY, end=DAY)], SPONSOR),
        (IND, [registered(STUDY), registered(end=date(2025, 6, 30))], SPONSOR),
        (IND_LABOUR, [registered(STUDY), registered(LABOUR)], SPONSOR),
        (dataclasses.replace(IND, mandates=frozenset({OWN, REP, SPONSOR})), None, REP),
        (IND, [], "is not in the register of recognised sponsors"),
        (IND, [registered(end=date(2026, 11, 22))], "recognition ended on 2026-11-22"),
        (IND, [registered(start=date(2026, 11, 24))], "recognition starts on 2026-11-24"),
        (IND_LABOUR, [registered(STUDY), registered(RESEARCH)], "for research, study, not for labour"),
        (IND, None, "the register of recognised sponsors was not consulted"),
        (OWN_ONLY, [registered()], NOT_ADMITTED),
    ],
    ids=[
        "registered",
        "valid-that-day-only",
        "one-category-valid",
        "in-the-service-category",
        "representatives-admitted-anyway",
        "not-registered",
        "expired",
        "not-yet-valid",
        "other-categories",
        "register-not-read",
        "sponsors-not-admitted",
    ],
)
def test_a_representative_at_a_service_for_recognised_sponsors(
    policy: ServicePolicy, sponsor: list[SponsorRegistration] | None, expected: MandateKind | str
) -> None:
    decision = decide(REPRESENTATIVE, policy, sponsor)
    if isinstance(expected, MandateKind):
        assert decision == Admitted(REPRESENTATIVE, expected, None)
        return
    assert isinstance(decision, Refused)
    assert expected in decision.detail
    if expected != NOT_ADMITTED:
        assert decision.reason is RefusalReason.NOT_A_RECOGNISED_SPONSOR
        assert decision.detail.startswith("this service admits a representative only for a recognised")


def test_the_day_is_the_dutch_calendar_day() -> None:
    # 23:30 UTC on the 22nd is 00:30 on the 23rd in Amsterdam: a registration from the 23rd counts.
    late = dataclasses.replace(REPRESENTATIVE, authn_instant=datetime(2026, 11, 22, 23, 30, tzinfo=UTC))
    assert isinstance(decide(late, IND, [registered(start=DAY)]), Admitted)


def test_a_company_without_a_kvk_number_is_refused() -> None:
    by_rsin = dataclasses.replace(REPRESENTATIVE, legal_subject=Identifier(IdentifierType.RSIN, "123456782"))
    decision = decide(by_rsin, IND, [registered()])
    assert isinstance(decision, Refused)
    assert decision.reason is RefusalReason.NOT_A_RECOGNISED_SPONSOR


@pytest.mark.parametrize(
    ("identity", "policy", "needed"),
    [
        (REPRESENTATIVE, IND, True),
        (IDENTITY, IND, False),
        (REPRESENTATIVE, POLICY, False),
        (REPRESENTATIVE, dataclasses.replace(POLICY, mandates=frozenset({OWN, REP, SPONSOR})), False),
        (REPRESENTATIVE, OWN_ONLY, False),
    ],
    ids=["sponsor-only", "own-company", "representatives-admitted", "both-admitted", "own-only"],
)
def test_the_register_is_read_only_where_it_can_matter(identity, policy: ServicePolicy, needed: bool) -> None:
    assert needs_sponsor_register(identity, policy) is needed


@pytest.mark.parametrize("sponsor", [None, []], ids=["not-read", "not-registered"])
def test_own_company_sign_ins_are_unaffected(sponsor: list[SponsorRegistration] | None) -> None:
    assert decide(IDENTITY, IND, sponsor) == Admitted(IDENTITY, OWN, None)
