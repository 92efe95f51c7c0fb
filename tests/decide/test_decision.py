"""The pure decision core: no app, no database, just values."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from broker.decide import (
    Admitted,
    Establishment,
    EstablishmentSource,
    MandateKind,
    RefusalReason,
    Refused,
    ServicePolicy,
    decide,
)
from saml.identifiers import IdentifierType
from saml.identity import EherkenningIdentity, Identifier
from saml.loa import LevelOfAssurance

UUID = "6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01"
SERVICE_ID = "urn:etoegang:DV:00000001234567890000:services:1"
POLICY = ServicePolicy(UUID, SERVICE_ID, LevelOfAssurance.LOA3)
IDENTITY = EherkenningIdentity(
    legal_subject=Identifier(IdentifierType.KVK, "12345678"),
    acting_subject="pseudonym",
    level=LevelOfAssurance.LOA3,
    authn_instant=datetime(2026, 11, 23, tzinfo=UTC),
    hm_entity_id="https://hm.test",
    service_id=SERVICE_ID,
    service_uuid=UUID,
)
REPRESENTATIVE = dataclasses.replace(IDENTITY, intermediary=Identifier(IdentifierType.KVK, "87654321"))


def test_own_company_is_admitted_without_an_establishment() -> None:
    assert decide(IDENTITY, POLICY) == Admitted(IDENTITY, MandateKind.OWN_COMPANY, None)


def test_a_restriction_fixes_the_establishment() -> None:
    restricted = dataclasses.replace(IDENTITY, establishment_restriction="000012345678")
    decision = decide(restricted, POLICY)
    assert isinstance(decision, Admitted)
    assert decision.establishment == Establishment("000012345678", EstablishmentSource.MANDATE)


def test_a_representative_is_admitted_where_the_service_admits_them() -> None:
    decision = decide(REPRESENTATIVE, POLICY)
    assert isinstance(decision, Admitted)
    assert decision.mandate is MandateKind.REPRESENTATIVE
    own_only = dataclasses.replace(POLICY, mandates=frozenset({MandateKind.OWN_COMPANY}))
    refused = decide(REPRESENTATIVE, own_only)
    assert isinstance(refused, Refused)
    assert refused.reason is RefusalReason.MANDATE_NOT_ADMITTED


def test_the_service_level_counts() -> None:
    decision = decide(IDENTITY, dataclasses.replace(POLICY, minimum_level=LevelOfAssurance.LOA4))
    assert decision == Refused(RefusalReason.LEVEL_TOO_LOW, "EH3 is below EH4")


def test_an_identity_below_the_level_is_refused_by_the_decision_too() -> None:
    """Defence in depth: the SAML checks refuse it first (loa_too_low); the decision does not rely on it."""
    below = dataclasses.replace(IDENTITY, level=LevelOfAssurance.LOA2)
    decision = decide(below, POLICY)
    assert isinstance(decision, Refused)
    assert decision.reason is RefusalReason.LEVEL_TOO_LOW


@pytest.mark.parametrize(
    ("service_id", "service_uuid", "admitted"),
    [
        (SERVICE_ID, None, True),
        (None, UUID, True),
        (None, None, False),
        (SERVICE_ID, "2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02", False),
        ("urn:etoegang:DV:00000001234567890000:services:2", UUID, False),
    ],
    ids=["service-id-only", "uuid-only", "neither", "other-uuid", "other-service-id"],
)
def test_the_assertion_must_be_for_this_service(
    service_id: str | None, service_uuid: str | None, admitted: bool
) -> None:
    identity = dataclasses.replace(IDENTITY, service_id=service_id, service_uuid=service_uuid)
    decision = decide(identity, POLICY)
    assert isinstance(decision, Admitted) is admitted
    if not admitted:
        assert decision.reason is RefusalReason.OTHER_SERVICE
