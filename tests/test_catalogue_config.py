"""A service's catalogue fields in the configuration file: read, checked as the file loads, and
what the catalogue cannot do without named by file, service and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, ConfigFile, Registry
from config.catalogue_entry import DEFAULT_ENTITY_TYPES, CatalogueEntry, RequestedAttribute
from config.services import catalogue_gaps

PATH = Path("/etc/broker.yaml")
HM = "00000003244440010000"
COMPLETE = """
services:
  - slug: portal
    uuid: 6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01
    index: 1
    minimum_loa: loa3
    name: {nl: Portaal, en: Portal}
    description: {nl: Zaken doen namens uw organisatie, en: Doing business for your organisation}
    service_url: https://portal.example.nl/
    privacy_policy_url: https://portal.example.nl/privacy
    instance_uuid: 0c5e2a7d-4f1b-4e8a-9d36-5b7c1e2f3a11
    requested_attributes:
      - name: FirstName
        purpose: {nl: Om u aan te spreken, en: To address you}
    entity_types: [[KvKnr, RSIN], [KvKnr], [RSIN]]
    establishment_restrictions: false
    public: false
    hm_ids: ["00000003244440010000", "00000001823288444000"]
"""
BARE = """
services:
  - slug: portal
    uuid: 6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01
    index: 1
    minimum_loa: loa3
    name: {nl: Portaal, en: Portal}
"""


def load(text: str) -> Registry:
    return ConfigFile(PATH, {}, production=False).parse(text)


def with_fields(extra: str, base: str = BARE) -> str:
    return base + "".join(f"    {line}\n" for line in extra.strip("\n").split("\n"))


def test_the_fields_are_read() -> None:
    (service,) = load(COMPLETE).services
    assert service.catalogue == CatalogueEntry(
        description_nl="Zaken doen namens uw organisatie",
        description_en="Doing business for your organisation",
        service_url="https://portal.example.nl/",
        privacy_policy_url="https://portal.example.nl/privacy",
        instance_uuid="0c5e2a7d-4f1b-4e8a-9d36-5b7c1e2f3a11",
        requested_attributes=(RequestedAttribute("FirstName", "Om u aan te spreken", "To address you"),),
        entity_types=(("KvKnr", "RSIN"), ("KvKnr",), ("RSIN",)),
        establishment_restrictions=False,
        public=False,
        hm_ids=(HM, "00000001823288444000"),
    )
    assert catalogue_gaps(PATH, load(COMPLETE).services, ()) == ()


def test_a_file_without_them_still_loads_with_the_defaults() -> None:
    (service,) = load(BARE).services
    assert service.catalogue == CatalogueEntry()
    assert service.catalogue.entity_types == DEFAULT_ENTITY_TYPES
    assert service.catalogue.establishment_restrictions and service.catalogue.public


def test_what_the_catalogue_cannot_do_without_is_named_by_file_service_and_field() -> None:
    long_name = "N" * 65
    text = BARE.replace("name: {nl: Portaal, en: Portal}", f"name: {{nl: Portaal, en: {long_name}}}")
    where = f"{PATH}: services[0] (portal)"
    assert catalogue_gaps(PATH, load(text).services, ()) == (
        f"{where}: field 'name' (en) has 65 characters; the catalogue allows 64",
        f"{where}: field 'description' is missing: the service catalogue needs it",
        f"{where}: field 'service_url' is missing: the service catalogue needs it",
        f"{where}: field 'privacy_policy_url' is missing: the service catalogue needs it",
        f"{where}: field 'instance_uuid' is missing: the service catalogue needs it",
        f"{where}: field 'hm_ids' is missing and BROKER_HM_ID is not set: the HM's OIN is needed",
    )
    # BROKER_HM_ID stands in for a service's own hm_ids.
    assert not any("hm_ids" in gap for gap in catalogue_gaps(PATH, load(text).services, (HM,)))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("description: {nl: Beschrijving}", "field 'description' must give both 'nl' and 'en'"),
        (f"description: {{nl: '{'x' * 1025}', en: y}}", "field 'description' (nl) has 1025 characters"),
        ("service_url: http://portal.example.nl/", "field 'service_url' must be an https:// URL"),
        ("privacy_policy_url: https://", "field 'privacy_policy_url' must be an https:// URL"),
        ("instance_uuid: not-a-uuid", "field 'instance_uuid' is not a UUID"),
        (
            "instance_uuid: 6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01",
            "field 'instance_uuid' must differ from the service's 'uuid'",
        ),
        (
            "requested_attributes: [{name: FirstName}]",
            "field 'requested_attributes[0]' (FirstName): 'purpose' is missing",
        ),
        (
            "requested_attributes: [{name: FirstName, purpose: {nl: Aanspreken}}]",
            "field 'requested_attributes[0]' (FirstName): 'purpose' must give both 'nl' and 'en'",
        ),
        (
            "requested_attributes: [{name: KvKnr, purpose: {nl: a, en: b}}]",
            "'name' must be one of FirstName, FamilyName, Initials, DateOfBirth",
        ),
        (
            "requested_attributes: [{name: Initials, purpose: &p {nl: a, en: b}}, {name: Initials,"
            " purpose: *p}]",
            "field 'requested_attributes[1]': Initials is requested twice",
        ),
        (
            "entity_types: [[KvKnr, BSN]]",
            "field 'entity_types' must list one or more sets, each of KvKnr, RSIN",
        ),
        ("entity_types: [[KvKnr], [KvKnr]]", "field 'entity_types' repeats a type in a set, or a set"),
        ("establishment_restrictions: 'no'", "field 'establishment_restrictions' must be true or false"),
        ("hm_ids: [00000003244440010000]", "field 'hm_ids' must list OINs: 20 digits each, in quotes"),
    ],
)
def test_a_field_that_is_given_is_checked_as_the_file_loads(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(with_fields(extra))
    assert str(raised.value).startswith(f"{PATH}: services[0] (portal): ")
    assert message in str(raised.value)


def test_an_instance_uuid_is_used_once_and_never_as_a_service_uuid() -> None:
    second = """
  - slug: other
    uuid: 2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02
    index: 2
    minimum_loa: loa3
    name: {nl: Ander, en: Other}
"""
    text = with_fields("instance_uuid: 0c5e2a7d-4f1b-4e8a-9d36-5b7c1e2f3a11") + with_fields(
        "instance_uuid: 0c5e2a7d-4f1b-4e8a-9d36-5b7c1e2f3a11", second
    )
    with pytest.raises(ConfigError, match=r"services\[1\] \(other\): field 'instance_uuid' repeats"):
        load(text)
    # Another service's own UUID is no instance UUID either.
    text = with_fields("instance_uuid: 2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02") + second
    with pytest.raises(ConfigError, match=r"services\[0\] \(portal\): field 'instance_uuid' repeats"):
        load(text)


@pytest.mark.parametrize("profile", ["ind", "olo"])
def test_the_ind_and_olo_profiles_want_a_kvk_number_in_every_set(profile: str) -> None:
    text = with_fields(f"profile: {profile}\nentity_types: [[KvKnr], [RSIN]]").replace(
        "    minimum_loa: loa3\n",
        "    minimum_loa: loa3\n" if profile == "ind" else "    minimum_loa: loa2plus\n",
    )
    with pytest.raises(ConfigError, match="field 'entity_types' must include KvKnr in every set for profile"):
        load(text)
    assert load(with_fields(f"profile: {profile}\nentity_types: [[KvKnr, RSIN], [KvKnr]]")).services
