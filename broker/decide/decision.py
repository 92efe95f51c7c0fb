"""Who gets into a service, at which level, under which mandate, for which establishment.

Admits what the SAML checks already guarantee (the level suffices, the assertion is for this
service) under a mandate kind the service admits, and says what the establishment is or what is
still needed to settle it (`broker.decide.establishment`). Recognised sponsors come with their
register.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from broker.decide.establishment import (
    Establishment,
    EstablishmentPolicy,
    EstablishmentSource,
    RegisterLookup,
)
from broker.decide.refusal import RefusalReason, Refused
from saml.identity import EherkenningIdentity
from saml.loa import LevelOfAssurance


class MandateKind(enum.StrEnum):
    OWN_COMPANY = "own_company"
    REPRESENTATIVE = "representative"
    RECOGNISED_SPONSOR = "recognised_sponsor"


@dataclass(frozen=True)
class ServicePolicy:
    """What a service admits."""

    service_uuid: str
    service_id: str
    minimum_level: LevelOfAssurance
    mandates: frozenset[MandateKind] = frozenset({MandateKind.OWN_COMPANY, MandateKind.REPRESENTATIVE})
    establishment: EstablishmentPolicy = EstablishmentPolicy.NONE


@dataclass(frozen=True)
class Admitted:
    identity: EherkenningIdentity
    mandate: MandateKind
    establishment: Establishment | None
    # Set when the Handelsregister must still settle (or confirm) the establishment.
    lookup: RegisterLookup | None = None


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
    return _with_establishment(Admitted(identity, mandate, None), policy.establishment)


def _for_service(identity: EherkenningIdentity, policy: ServicePolicy) -> bool:
    # At least one of the two must be present, and every one present must match.
    carried = [(identity.service_uuid, policy.service_uuid), (identity.service_id, policy.service_id)]
    present = [(got, want) for got, want in carried if got is not None]
    return bool(present) and all(got == want for got, want in present)


def _with_establishment(admitted: Admitted, policy: EstablishmentPolicy) -> Decision:
    """A restriction is always respected; a service that requires an establishment has it settled
    from the register (a restriction confirmed there) before the sign-in completes."""
    identity = admitted.identity
    restriction = identity.establishment_restriction
    if policy is EstablishmentPolicy.NONE:
        if restriction is None:
            return admitted
        return replace(admitted, establishment=Establishment(restriction, EstablishmentSource.MANDATE))
    if identity.kvk_number is None:
        return Refused(RefusalReason.NO_KVK_NUMBER, "the service needs an establishment, found by KvK number")
    if restriction is None:
        return replace(admitted, lookup=RegisterLookup(identity.kvk_number))
    return replace(
        admitted,
        establishment=Establishment(restriction, EstablishmentSource.MANDATE),
        lookup=RegisterLookup(identity.kvk_number, restriction),
    )


def with_settled(admitted: Admitted, establishment: Establishment) -> Admitted:
    """`admitted` with the establishment the register settled: nothing more to look up."""
    return replace(admitted, establishment=establishment, lookup=None)
