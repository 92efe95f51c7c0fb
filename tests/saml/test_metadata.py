"""Our SP metadata: schema-valid, signed by our key, in the shape eHerkenning HMs accept."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from lxml import etree

from config import Binding, NextKey, Registry, SamlSettings, Service, Settings
from config.dev_keys import generate_key_pair
from saml.keys import key_name
from saml.metadata import ROLLOVER_NS, sp_metadata
from saml.signature import register_ids, verify
from saml.xml import NS, parse

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def schema(shared: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(shared / "xsd" / "saml-schema-metadata-2.0.xsd")))


@pytest.fixture(scope="module")
def rollover(settings: Settings) -> SamlSettings:
    """Settings during a rollover: the next key is published, activating in a week."""
    next_pair = generate_key_pair("eh-broker next")
    return dataclasses.replace(settings.saml, next_key=NextKey(next_pair, NOW + timedelta(days=7)))


def _metadata(saml: SamlSettings, services: tuple[Service, ...], now: datetime = NOW) -> etree._Element:
    return parse(sp_metadata(saml, services, now))


def _all(root: etree._Element, path: str) -> list[etree._Element]:
    return root.findall(path, NS)


def test_metadata_is_schema_valid(
    settings: Settings, registry: Registry, rollover: SamlSettings, schema: etree.XMLSchema
) -> None:
    for saml in (settings.saml, rollover):
        root = _metadata(saml, registry.services)
        assert schema.validate(root), schema.error_log


def test_metadata_is_signed_by_our_current_key(settings: Settings, registry: Registry) -> None:
    root = _metadata(settings.saml, registry.services)
    register_ids(root)
    verify(root, [settings.saml.key.cert_pem])


@pytest.mark.parametrize("binding", [Binding.ARTIFACT, Binding.POST])
def test_metadata_has_the_flags_and_the_one_acs_of_our_response_binding(
    settings: Settings, registry: Registry, binding: Binding
) -> None:
    saml = dataclasses.replace(settings.saml, response_binding=binding)
    sp = _metadata(saml, registry.services).find("md:SPSSODescriptor", NS)
    assert sp.get("AuthnRequestsSigned") == "true"
    assert sp.get("WantAssertionsSigned") == "true"
    acs = [
        (e.get("Binding"), e.get("index"), e.get("Location")) for e in _all(sp, "md:AssertionConsumerService")
    ]
    assert acs == [(binding.value, "0", settings.saml.acs_url)]


def test_one_attribute_consuming_service_per_service_requesting_no_identifiers(
    settings: Settings, registry: Registry
) -> None:
    sp = _metadata(settings.saml, registry.services).find("md:SPSSODescriptor", NS)
    services = _all(sp, "md:AttributeConsumingService")
    assert sorted(int(s.get("index")) for s in services) == sorted(s.index for s in registry.services)
    for element in services:
        index = int(element.get("index"))
        (requested,) = _all(element, "md:RequestedAttribute")
        assert requested.get("Name") == f"urn:etoegang:DV:{settings.saml.oin}:services:{index}"
        assert {n.get(XML_LANG) for n in _all(element, "md:ServiceName")} == {"nl", "en"}
    names = " ".join(r.get("Name") for r in _all(sp, ".//md:RequestedAttribute"))
    for identifier in ("KvKnr", "RSIN", "BSN"):
        assert identifier not in names
    # The person's attributes a service requests are the catalogue's to declare, never the metadata's.
    assert any(service.catalogue.requested_attributes for service in registry.services)
    assert "urn:etoegang:1.9:attribute:" not in names


def test_one_key_descriptor_without_use_outside_a_rollover(settings: Settings, registry: Registry) -> None:
    (descriptor,) = _all(_metadata(settings.saml, registry.services), ".//md:KeyDescriptor")
    assert descriptor.get("use") is None
    assert descriptor.findtext("ds:KeyInfo/ds:KeyName", namespaces=NS) == key_name(settings.saml.key.cert_pem)


def test_the_next_key_is_published_during_a_rollover_and_takes_over_signing(
    rollover: SamlSettings, registry: Registry
) -> None:
    assert rollover.next_key is not None
    current, upcoming = rollover.key, rollover.next_key.pair
    before = _metadata(rollover, registry.services)
    names = [d.findtext("ds:KeyInfo/ds:KeyName", namespaces=NS) for d in _all(before, ".//md:KeyDescriptor")]
    assert names == [key_name(current.cert_pem), key_name(upcoming.cert_pem)]
    register_ids(before)
    verify(before, [current.cert_pem])

    after = _metadata(rollover, registry.services, NOW + timedelta(days=8))
    register_ids(after)
    verify(after, [upcoming.cert_pem])


def test_the_metadata_endpoint_serves_it(client: FlaskClient, settings: Settings) -> None:
    answer = client.get("/saml/metadata")
    assert answer.status_code == 200
    assert answer.mimetype == "application/samlmetadata+xml"
    assert parse(answer.data).get("entityID") == settings.saml.entity_id


def test_valid_for_four_weeks_and_cached_for_six_hours(settings: Settings, registry: Registry) -> None:
    root = _metadata(settings.saml, registry.services)
    assert root.get("validUntil") == "2026-12-21T12:00:00.000Z"
    assert root.get("cacheDuration") == "PT6H"


def test_the_next_key_is_announced_with_its_activation(
    settings: Settings, rollover: SamlSettings, registry: Registry
) -> None:
    assert rollover.next_key is not None
    path = "md:SPSSODescriptor/md:Extensions/rollover:NextKey"
    namespaces = {**NS, "rollover": ROLLOVER_NS}
    (announced,) = _metadata(rollover, registry.services).findall(path, namespaces)
    assert announced.get("KeyName") == key_name(rollover.next_key.pair.cert_pem)
    assert announced.get("activates") == "2026-11-30T12:00:00.000Z"
    assert _metadata(settings.saml, registry.services).find("md:SPSSODescriptor/md:Extensions", NS) is None
