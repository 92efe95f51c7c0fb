"""Who gets into a service, at which level, under which mandate, for which establishment.

This first version admits what the SAML checks already guarantee (the level suffices, the
assertion is for this service) and reads the mandate kind and establishment from the identity.
Recognised sponsors and the establishment picker come with the mandate rules.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from saml.identity import EherkenningIdentity
from saml.loa import LevelOfAssurance


class MandateKind(enum.StrEnum):
    OWN_COMPANY = "own_company"
    REPRESENTATIVE = "representative"
    RECOGNISED_SPONSOR = "recognised_sponsor"


class EstablishmentSource(enum.StrEnum):
    """Where an establishment number came from; only `mandate` limits what the person may do."""

    MANDATE = "mandate"
    SELECTED = "selected"
    NO_ESTABLISHMENT = "no_establishment"


class RefusalReason(enum.StrEnum):
    LEVEL_TOO_LOW = "level_too_low"
    OTHER_SERVICE = "other_service"
    MANDATE_NOT_ADMITTED = "mandate_not_admitted"


@dataclass(frozen=True)
class ServicePolicy:
    """What a service admits."""

    service_uuid: str
    service_id: str
    minimum_level: LevelOfAssurance
    mandates: frozenset[MandateKind] = frozenset({MandateKind.OWN_COMPANY, MandateKind.REPRESENTATIVE})


@dataclass(frozen=True)
class Establishment:
    number: str
    source: EstablishmentSource


@dataclass(frozen=True)
class Admitted:
    identity: EherkenningIdentity
    mandate: MandateKind
    establishment: Establishment | None


@dataclass(frozen=True)
class Refused:
    reason: RefusalReason
    detail: str


Decision = Admitted | Refused


def decide(identity: EherkenningIdentity, policy: ServicePolicy, required: LevelOfAssurance) -> Decision:
    """Admit `identity` to the service `policy` describes, at `required` level or above, or say why not."""
    if identity.level < max(required, policy.minimum_level):
        return Refused(RefusalReason.LEVEL_TOO_LOW, f"{identity.level.label} is below {required.label}")
    if not _for_service(identity, policy):
        return Refused(RefusalReason.OTHER_SERVICE, "the mandate is for another service")
    mandate = MandateKind.REPRESENTATIVE if identity.intermediary else MandateKind.OWN_COMPANY
    if mandate not in policy.mandates:
        return Refused(RefusalReason.MANDATE_NOT_ADMITTED, f"the service does not admit {mandate.value}")
    return Admitted(identity, mandate, _establishment(identity))


def _for_service(identity: EherkenningIdentity, policy: ServicePolicy) -> bool:
    # At least one of the two must be present, and every one present must match.
    carried = [(identity.service_uuid, policy.service_uuid), (identity.service_id, policy.service_id)]
    present = [(got, want) for got, want in carried if got is not None]
    return bool(present) and all(got == want for got, want in present)


def _establishment(identity: EherkenningIdentity) -> Establishment | None:
    if identity.establishment_restriction:
        return Establishment(identity.establishment_restriction, EstablishmentSource.MANDATE)
    return None
