"""What the eHerkenning service catalogue says of a service beyond what a sign-in needs.

`config.services` reads these fields from the service's entry in the configuration file.
"""

from __future__ import annotations

from dataclasses import dataclass

# The acting person's attributes a service may request, with a purpose statement (the attribute
# catalogue's natural-person attributes). Identifying numbers (KvK number, RSIN, BSN) are never
# requested: the HM sends the legal subject's as the mandate says.
REQUESTABLE = {
    "FirstName": "urn:etoegang:1.9:attribute:FirstName",
    "FamilyName": "urn:etoegang:1.9:attribute:FamilyName",
    "Initials": "urn:etoegang:1.9:attribute:Initials",
    "DateOfBirth": "urn:etoegang:1.9:attribute:DateOfBirth",
}
# The identifier types of the company acted for that a service may accept (EntityConcernedTypesAllowed).
ENTITY_TYPES = {
    "KvKnr": "urn:etoegang:1.9:EntityConcernedID:KvKnr",
    "RSIN": "urn:etoegang:1.9:EntityConcernedID:RSIN",
}
# Set 1: the KvK number and the RSIN where the company has one; set 2: the KvK number alone.
DEFAULT_ENTITY_TYPES: tuple[tuple[str, ...], ...] = (("KvKnr", "RSIN"), ("KvKnr",))
# The HM environments a catalogue is made for, and the <omgeving> each has in its version.
CATALOGUE_ENVIRONMENTS = {"preprod": "T", "prod": "P"}
# Lengths the afsprakenstelsel and the catalogue's schema allow, in characters.
NAME_LIMIT = 64
DESCRIPTION_LIMIT = 1024
PURPOSE_LIMIT = 1024
URL_LIMIT = 512


@dataclass(frozen=True)
class RequestedAttribute:
    """An attribute of the acting person the service asks for, and why (Dutch and English)."""

    name: str
    purpose_nl: str
    purpose_en: str

    @property
    def uri(self) -> str:
        return REQUESTABLE[self.name]


@dataclass(frozen=True)
class CatalogueEntry:
    """The service's ServiceDefinition and ServiceInstance fields that sign-ins do not use."""

    description_nl: str = ""
    description_en: str = ""
    # Where the service is used, and its privacy statement (https://).
    service_url: str = ""
    privacy_policy_url: str = ""
    # The ServiceInstance's own UUID, beside the service's.
    instance_uuid: str = ""
    requested_attributes: tuple[RequestedAttribute, ...] = ()
    # Sets of identifier types of the company acted for, in order of preference.
    entity_types: tuple[tuple[str, ...], ...] = DEFAULT_ENTITY_TYPES
    # Whether mandates restricted to one establishment are admitted (ServiceRestrictionsAllowed).
    establishment_restrictions: bool = True
    # IsPublic: whether the service uses eHerkenning in public.
    public: bool = True
    # The OINs of the HMs listing the service, the first providing its entry; none: BROKER_HM_ID.
    hm_ids: tuple[str, ...] = ()
