"""The claims a sign-in releases, and which scope releases which.

Claim names are a versioned contract with the portals (README, "Claims"): never rename one.
A sign-in's claims also keep what only other claim sets release (`broker.oidc.profiles`), under
names no scope here lists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from broker.decide import Admitted, Establishment
from saml.identifiers import IdentifierType
from saml.person import Person

# Which claims each scope releases; `openid` always gives the subject, level and time.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub", "acr", "auth_time"),
    "kvk": ("kvk_number", "rsin", "establishment_number", "establishment_source"),
    "mandate": ("mandate", "eherkenning_service_id"),
    "acting_subject": ("acting_subject",),
    # From the broker's own registers, read only for a client that asks for the scope.
    "organisation": ("organisation_group",),
    "department": ("department",),
    # The acting person's name and date of birth, only where the service requested them.
    "profile": ("given_name", "family_name", "initials", "birthdate"),
}
# The person's attributes a service can request (`config.catalogue_entry.REQUESTABLE`), and the
# claim each is released as: OpenID Connect's standard claims, and `initials`, which has none.
PERSON_CLAIMS = {
    "FirstName": "given_name",
    "FamilyName": "family_name",
    "Initials": "initials",
    "DateOfBirth": "birthdate",
}


def pairwise_subject(admitted: Admitted, client_id: str, salt: bytes) -> str:
    """A `sub` for this client only, stable across sign-ins of the same person for the same company."""
    identity = admitted.identity
    material = "\0".join(
        (client_id, identity.legal_subject.type.value, identity.legal_subject.value, identity.acting_subject)
    )
    digest = hmac.new(salt, material.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def company_pseudonym(admitted: Admitted, client_id: str, salt: bytes) -> str:
    """A name for the company acted for, for this client only: for a company the assertion knows
    by neither KvK number nor RSIN, whose identifier (a BSN) is never released."""
    legal_subject = admitted.identity.legal_subject
    material = "\0".join(("company", client_id, legal_subject.type.value, legal_subject.value))
    digest = hmac.new(salt, material.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign_in_claims(
    admitted: Admitted, client_id: str, salt: bytes, requested: Iterable[str] = ()
) -> dict[str, Any]:
    """Every claim this sign-in can release to `client_id`, before any scope filter; of the
    person's attributes only those the service `requested` (catalogue names, e.g. "FirstName")."""
    identity = admitted.identity
    intermediary = identity.intermediary
    claims: dict[str, Any] = {
        "sub": pairwise_subject(admitted, client_id, salt),
        "acr": identity.level.uri,
        "auth_time": int(identity.authn_instant.timestamp()),
        "kvk_number": identity.kvk_number,
        "rsin": identity.rsin
        or (identity.legal_subject.value if identity.legal_subject.type is IdentifierType.RSIN else None),
        "mandate": {
            "kind": admitted.mandate.value,
            "service_uuid": identity.service_uuid,
            # The intermediary by KvK number or, for one identified by RSIN only, by RSIN.
            "intermediary_kvk_number": intermediary.value
            if intermediary and intermediary.type is IdentifierType.KVK
            else None,
            "intermediary_rsin": intermediary.value
            if intermediary and intermediary.type is IdentifierType.RSIN
            else None,
            # A current local mandate from the broker's register holds for this representative.
            "local_mandate": True if admitted.local_mandate else None,
        },
        "acting_subject": identity.acting_subject,
        "eherkenning_service_id": identity.service_id,
        # For other claim sets only: the company's trade name, when the HM sends it.
        "company_name": identity.company_name,
        **person_claims(identity.person, requested),
    }
    if claims["kvk_number"] is None and claims["rsin"] is None:
        claims["company_pseudonym"] = company_pseudonym(admitted, client_id, salt)
    if admitted.establishment is not None:
        claims = with_establishment(claims, admitted.establishment)
    return _without_nulls(claims)


def person_claims(person: Person, requested: Iterable[str]) -> dict[str, str]:
    """The claims of the person's attributes the service `requested` and the HM sent readably."""
    values = {
        "FirstName": person.first_name,
        "FamilyName": person.family_name,
        "Initials": person.initials,
        "DateOfBirth": None if person.date_of_birth is None else person.date_of_birth.isoformat(),
    }
    return {PERSON_CLAIMS[name]: value for name in requested if (value := values.get(name)) is not None}


def with_establishment(claims: dict[str, Any], establishment: Establishment) -> dict[str, Any]:
    """`claims` with the establishment settled for the sign-in, and where it came from."""
    return claims | {
        "establishment_number": establishment.number,
        "establishment_source": establishment.source.value,
    }


def with_registers(
    claims: dict[str, Any], group: dict[str, str] | None, department: str | None
) -> dict[str, Any]:
    """`claims` with what the broker's registers hold for the sign-in: the organisation group of the
    company acted for (`{"id", "name"}`), and the person's label at this client; each only when found."""
    found = {"organisation_group": group, "department": department}
    return claims | {name: value for name, value in found.items() if value is not None}


def released(claims: dict[str, Any], scopes: Iterable[str]) -> dict[str, Any]:
    """The part of `claims` the granted `scopes` release."""
    names = {name for scope in scopes for name in SCOPE_CLAIMS.get(scope, ())}
    return {name: value for name, value in claims.items() if name in names}


def _without_nulls(claims: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in claims.items():
        if isinstance(value, dict):
            value = _without_nulls(value)
        if value is not None:
            clean[name] = value
    return clean
