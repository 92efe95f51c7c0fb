"""Our service catalogue: schema-valid, signed by our key, every service with its definition and
instance, and a digest that changes with the content and only with it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from config import NextKey, SamlSettings, Service, Settings
from config.catalogue_entry import CatalogueEntry, RequestedAttribute
from config.dev_keys import generate_key_pair
from saml import catalogue
from saml.keys import certificate_base64
from saml.signature import register_ids, verify
from saml.xml import NS, parse

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
HM = "00000003244440010000"
OTHER_HM = "00000001823288444000"
ENTRY = CatalogueEntry(
    description_nl="Zaken doen met de IND namens uw organisatie",
    description_en="Doing business with the IND for your organisation",
    service_url="https://portaal.example.nl/",
    privacy_policy_url="https://portaal.example.nl/privacy",
    instance_uuid="0c5e2a7d-4f1b-4e8a-9d36-5b7c1e2f3a11",
    requested_attributes=(
        RequestedAttribute("FamilyName", "Het portaal toont uw naam", "The portal shows your name"),
        RequestedAttribute("DateOfBirth", "Om u te herkennen", "To recognise you"),
    ),
)
IND = Service(
    "ind",
    "6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01",
    1,
    "loa3",
    "IND Portaal Zakelijk",
    "IND business portal",
    catalogue=ENTRY,
)
OLO = Service(
    "olo",
    "2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02",
    2,
    "loa2plus",
    "Omgevingsloket",
    "Environment desk",
    catalogue=dataclasses.replace(
        ENTRY,
        instance_uuid="7a1d3e5f-2b4c-4d6e-8f90-1a2b3c4d5e22",
        requested_attributes=(),
        entity_types=(("KvKnr",),),
        establishment_restrictions=False,
        hm_ids=(HM, OTHER_HM),
    ),
)


@pytest.fixture(scope="module")
def schema(shared: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(shared / "xsd" / "eherkenning-dc.xml")))


@pytest.fixture(scope="module")
def saml(settings: Settings) -> SamlSettings:
    return dataclasses.replace(settings.saml, hm_ids=(HM,), organisation_name_en="The organisation")


@pytest.fixture(scope="module")
def rollover(saml: SamlSettings) -> SamlSettings:
    """During a rollover: the next key is published, activating in a week."""
    return dataclasses.replace(
        saml, next_key=NextKey(generate_key_pair("eh-broker next"), NOW + timedelta(days=7))
    )


def _catalogue(saml: SamlSettings, services: tuple[Service, ...] = (IND, OLO), now: datetime = NOW) -> bytes:
    content = catalogue.content(saml, services, now)
    return catalogue.signed(content, catalogue.version("preprod", 7), saml, now)


def _one(root: etree._Element, path: str) -> etree._Element:
    (found,) = root.findall(path, NS)
    return found


def _texts(root: etree._Element, path: str) -> list[str]:
    return [element.text for element in root.findall(path, NS)]


def _by_lang(root: etree._Element, path: str) -> dict[str, str]:
    return {element.get(XML_LANG): element.text for element in root.findall(path, NS)}


def test_the_catalogue_is_schema_valid(
    saml: SamlSettings, rollover: SamlSettings, schema: etree.XMLSchema
) -> None:
    for settings in (saml, rollover):
        root = parse(_catalogue(settings))
        assert schema.validate(root), schema.error_log


def test_it_is_signed_by_the_key_that_signs_now(rollover: SamlSettings) -> None:
    assert rollover.next_key is not None
    before = parse(_catalogue(rollover))
    register_ids(before)
    verify(before, [rollover.key.cert_pem])
    after = parse(_catalogue(rollover, now=NOW + timedelta(days=8)))
    register_ids(after)
    verify(after, [rollover.next_key.pair.cert_pem])


def test_version_and_issue_instant(saml: SamlSettings) -> None:
    root = parse(_catalogue(saml))
    assert root.get(f"{{{NS['esc']}}}Version") == "urn:etoegang:1.13:service-catalogue:T:7"
    assert root.get(f"{{{NS['esc']}}}IssueInstant") == "2026-11-23T12:00:00.000Z"
    assert catalogue.version("prod", 12) == "urn:etoegang:1.13:service-catalogue:P:12"


def test_our_service_provider_with_a_definition_and_an_instance_per_service(saml: SamlSettings) -> None:
    provider = _one(parse(_catalogue(saml)), "esc:ServiceProvider")
    assert provider.findtext("esc:ServiceProviderID", namespaces=NS) == saml.oin
    assert _by_lang(provider, "esc:OrganizationDisplayName") == {
        "nl": saml.organisation_name,
        "en": "The organisation",
    }
    assert _texts(provider, "esc:ServiceDefinition/esc:ServiceUUID") == [IND.uuid, OLO.uuid]
    assert _texts(provider, "esc:ServiceInstance/esc:ServiceID") == [
        f"urn:etoegang:DV:{saml.oin}:services:1",
        f"urn:etoegang:DV:{saml.oin}:services:2",
    ]


def test_a_definition_says_what_the_service_is(saml: SamlSettings) -> None:
    provider = _one(parse(_catalogue(saml)), "esc:ServiceProvider")
    ind, olo = provider.findall("esc:ServiceDefinition", NS)
    assert ind.get(f"{{{NS['esc']}}}IsPublic") == "true"
    assert _by_lang(ind, "esc:ServiceName") == {"nl": "IND Portaal Zakelijk", "en": "IND business portal"}
    assert _by_lang(ind, "esc:ServiceDescription") == {"nl": ENTRY.description_nl, "en": ENTRY.description_en}
    assert (
        ind.findtext("saml:AuthnContextClassRef", namespaces=NS) == "urn:etoegang:core:assurance-class:loa3"
    )
    assert (
        olo.findtext("saml:AuthnContextClassRef", namespaces=NS)
        == "urn:etoegang:core:assurance-class:loa2plus"
    )
    assert ind.findtext("esc:HerkenningsmakelaarId", namespaces=NS) == HM
    sets = [(e.get("setNumber"), e.text) for e in ind.findall("esc:EntityConcernedTypesAllowed", NS)]
    assert sets == [
        ("1", "urn:etoegang:1.9:EntityConcernedID:KvKnr"),
        ("1", "urn:etoegang:1.9:EntityConcernedID:RSIN"),
        ("2", "urn:etoegang:1.9:EntityConcernedID:KvKnr"),
    ]
    assert _texts(ind, "esc:ServiceRestrictionsAllowed") == [
        "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"
    ]
    assert _texts(olo, "esc:ServiceRestrictionsAllowed") == []
    family, birth = ind.findall("esc:RequestedAttribute", NS)
    assert family.get("Name") == "urn:etoegang:1.9:attribute:FamilyName"
    assert _by_lang(family, "esc:PurposeStatement") == {
        "nl": "Het portaal toont uw naam",
        "en": "The portal shows your name",
    }
    assert birth.get("Name") == "urn:etoegang:1.9:attribute:DateOfBirth"
    assert olo.findall("esc:RequestedAttribute", NS) == []


def test_an_instance_says_how_we_run_it(saml: SamlSettings) -> None:
    provider = _one(parse(_catalogue(saml)), "esc:ServiceProvider")
    ind, olo = provider.findall("esc:ServiceInstance", NS)
    assert ind.findtext("esc:ServiceUUID", namespaces=NS) == ENTRY.instance_uuid
    assert ind.findtext("esc:InstanceOfService", namespaces=NS) == IND.uuid
    assert _texts(ind, "esc:ServiceURL") == ["https://portaal.example.nl/"]
    assert _texts(ind, "esc:PrivacyPolicyURL") == ["https://portaal.example.nl/privacy"]
    assert ind.findtext("esc:SSOSupport", namespaces=NS) == "false"
    assert ind.findtext("esc:HerkenningsmakelaarId", namespaces=NS) == HM
    assert _texts(ind, "esc:AdditionalHerkenningsmakelaarId") == []
    # A service's own hm_ids stand before BROKER_HM_ID's: the first provides, the rest are additional.
    assert olo.findtext("esc:HerkenningsmakelaarId", namespaces=NS) == HM
    assert _texts(olo, "esc:AdditionalHerkenningsmakelaarId") == [OTHER_HM]
    (descriptor,) = ind.findall("esc:ServiceCertificate/md:KeyDescriptor", NS)
    assert descriptor.get("use") == "encryption"
    assert descriptor.findtext(
        "ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS
    ) == certificate_base64(saml.key.cert_pem)


def test_during_a_rollover_both_certificates_the_one_in_use_first(rollover: SamlSettings) -> None:
    assert rollover.next_key is not None
    current, upcoming = (certificate_base64(p.cert_pem) for p in (rollover.key, rollover.next_key.pair))
    path = "esc:ServiceProvider/esc:ServiceInstance/esc:ServiceCertificate//ds:X509Certificate"
    before = parse(_catalogue(rollover, (IND,)))
    assert _texts(before, path) == [current, upcoming]
    after = parse(_catalogue(rollover, (IND,), NOW + timedelta(days=8)))
    assert _texts(after, path) == [upcoming, current]


def test_the_digest_follows_the_content_not_the_moment(saml: SamlSettings, rollover: SamlSettings) -> None:
    def digest(
        settings: SamlSettings, services: tuple[Service, ...] = (IND, OLO), now: datetime = NOW
    ) -> str:
        return catalogue.digest(catalogue.content(settings, services, now))

    assert digest(saml) == digest(saml, now=NOW + timedelta(days=30))
    renamed = dataclasses.replace(IND, name_en="IND portal for business")
    assert digest(saml, (renamed, OLO)) != digest(saml)
    assert digest(dataclasses.replace(saml, hm_ids=(OTHER_HM,))) != digest(saml)
    # Publishing the next key is a change, and so is its taking over.
    assert digest(rollover) != digest(saml)
    assert digest(rollover, now=NOW + timedelta(days=8)) != digest(rollover)
