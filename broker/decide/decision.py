"""Who gets into a service, at which level, under which mandate, for which establishment.

Admits what the SAML checks already guarantee (the level suffices, the assertion is for this
service) under a mandate kind the service admits, and says what the establishment is or what is
still needed to settle it (`broker.decide.establishment`). A representative is admitted as a
recognised sponsor's only on the register's answer (`broker.decide.sponsor`), which the caller
reads when `needs_sponsor_register` says it can matter; likewise a representative at a service that
consults local mandates only on the register of local mandates (`broker.decide.mandates`), read
when `needs_local_mandates` says so.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, replace

from broker.decide.establishment import (
    Establishment,
    EstablishmentPolicy,
    EstablishmentSource,
    RegisterLookup,
)
from broker.decide.mandates import LOCAL_ONLY, Applied, LocalMandate, LocalMandatePolicy, check_local_mandates
from broker.decide.refusal import RefusalReason, Refused
from broker.decide.sponsor import (
    SPONSORS_ONLY,
    SponsorCategory,
    SponsorRegistration,
    check_sponsor,
    register_day,
)
from saml.identifiers import IdentifierType
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
    # The recognised-sponsor categories that count; empty: any category.
    sponsor_categories: frozenset[SponsorCategory] = frozenset()
    # Whether a representative needs (required) or is narrowed by (narrow) a local mandate.
    local_mandate: LocalMandatePolicy = LocalMandatePolicy.NONE


@dataclass(frozen=True)
class Admitted:
    identity: EherkenningIdentity
    mandate: MandateKind
    establishment: Establishment | None
    # Set when the Handelsregister must still settle (or confirm) the establishment.
    lookup: RegisterLookup | None = None
    # Whether a current local mandate holds for the sign-in (and restricts, when it names an establishment).
    local_mandate: bool = False


Decision = Admitted | Refused


def needs_sponsor_register(identity: EherkenningIdentity, policy: ServicePolicy) -> bool:
    """Whether the decision depends on the register of recognised sponsors: a representative, at a
    service that admits them only for recognised sponsors."""
    return (
        identity.intermediary is not None
        and MandateKind.REPRESENTATIVE not in policy.mandates
        and MandateKind.RECOGNISED_SPONSOR in policy.mandates
    )


def needs_local_mandates(identity: EherkenningIdentity, policy: ServicePolicy) -> bool:
    """Whether the decision depends on the register of local mandates: a representative, both
    companies known by KvK number, at a service that admits representatives and consults it."""
    intermediary = identity.intermediary
    return (
        policy.local_mandate is not LocalMandatePolicy.NONE
        and intermediary is not None
        and intermediary.type is IdentifierType.KVK
        and identity.kvk_number is not None
        and bool(policy.mandates & {MandateKind.REPRESENTATIVE, MandateKind.RECOGNISED_SPONSOR})
    )


def decide(
    identity: EherkenningIdentity,
    policy: ServicePolicy,
    sponsor: Collection[SponsorRegistration] | None = None,
    local: Collection[LocalMandate] | None = None,
) -> Decision:
    """Admit `identity` to the service `policy` describes, at its level or above, or say why not.

    `sponsor`: what the register of recognised sponsors holds for the represented company, read
    when `needs_sponsor_register`; `local`: the local mandates of the representative's pair of
    companies at this service, read when `needs_local_mandates`. Without them such a sign-in is
    refused.
    """
    if identity.level < policy.minimum_level:
        return Refused(
            RefusalReason.LEVEL_TOO_LOW, f"{identity.level.label} is below {policy.minimum_level.label}"
        )
    if not _for_service(identity, policy):
        return Refused(RefusalReason.OTHER_SERVICE, "the mandate is for another service")
    mandate = _mandate(identity, policy, sponsor)
    if isinstance(mandate, Refused):
        return mandate
    applied = _local_mandate(identity, policy, mandate, local)
    if isinstance(applied, Refused):
        return applied
    restriction = identity.establishment_restriction
    if restriction is None and applied is not None:
        # The local mandate's establishment restricts where the assertion does not (else they agree).
        restriction = applied.establishment
    admitted = Admitted(identity, mandate, None, local_mandate=applied is not None)
    return _with_establishment(admitted, policy.establishment, restriction)


def _mandate(
    identity: EherkenningIdentity, policy: ServicePolicy, sponsor: Collection[SponsorRegistration] | None
) -> MandateKind | Refused:
    if identity.intermediary is None:
        if MandateKind.OWN_COMPANY in policy.mandates:
            return MandateKind.OWN_COMPANY
        return Refused(RefusalReason.MANDATE_NOT_ADMITTED, "the service does not admit own_company")
    if MandateKind.REPRESENTATIVE in policy.mandates:
        return MandateKind.REPRESENTATIVE
    if MandateKind.RECOGNISED_SPONSOR not in policy.mandates:
        return Refused(RefusalReason.MANDATE_NOT_ADMITTED, "the service does not admit representative")
    if identity.kvk_number is None:
        why = "the represented company has no KvK number to find it in the register by"
        return Refused(RefusalReason.NOT_A_RECOGNISED_SPONSOR, f"{SPONSORS_ONLY}: {why}")
    if sponsor is None:
        # Fail closed: the caller did not read the register.
        why = "the register of recognised sponsors was not consulted"
        return Refused(RefusalReason.NOT_A_RECOGNISED_SPONSOR, f"{SPONSORS_ONLY}: {why}")
    refused = check_sponsor(sponsor, register_day(identity.authn_instant), policy.sponsor_categories)
    return MandateKind.RECOGNISED_SPONSOR if refused is None else refused


def _local_mandate(
    identity: EherkenningIdentity,
    policy: ServicePolicy,
    mandate: MandateKind,
    local: Collection[LocalMandate] | None,
) -> Applied | Refused | None:
    if mandate is MandateKind.OWN_COMPANY or policy.local_mandate is LocalMandatePolicy.NONE:
        return None
    if not needs_local_mandates(identity, policy):
        # No local mandate can name a company known otherwise than by KvK number.
        if policy.local_mandate is LocalMandatePolicy.REQUIRED:
            why = "a company acting or acted for has no KvK number to find a local mandate by"
            return Refused(RefusalReason.NO_LOCAL_MANDATE, f"{LOCAL_ONLY}: {why}")
        return None
    if local is None:
        # Fail closed: the caller did not read the register (a narrowing would be missed).
        why = "the register of local mandates was not consulted"
        return Refused(RefusalReason.NO_LOCAL_MANDATE, f"{LOCAL_ONLY}: {why}")
    return check_local_mandates(
        local, identity.authn_instant, policy.local_mandate, identity.establishment_restriction
    )


def _for_service(identity: EherkenningIdentity, policy: ServicePolicy) -> bool:
    # At least one of the two must be present, and every one present must match.
    carried = [(identity.service_uuid, policy.service_uuid), (identity.service_id, policy.service_id)]
    present = [(got, want) for got, want in carried if got is not None]
    return bool(present) and all(got == want for got, want in present)


def _with_establishment(admitted: Admitted, policy: EstablishmentPolicy, restriction: str | None) -> Decision:
    """A restriction (the assertion's, or a local mandate's) is always respected; a service that
    requires an establishment has it settled from the register (a restriction confirmed there)
    before the sign-in completes."""
    identity = admitted.identity
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
