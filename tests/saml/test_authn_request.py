"""Our AuthnRequest, read back as an HM reads it: what eHerkenning asks for, signed as it asks."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from flask import Flask
from lxml import etree

from broker.runtime import BrokerRuntime
from config import Registry, Settings
from saml.authn_request import outgoing_request
from saml.signature import register_ids, verify
from saml.xml import NS, new_id, parse

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def request_xml(settings: Settings, registry: Registry, app: Flask) -> etree._Element:
    runtime: BrokerRuntime = app.extensions["broker"]
    service = registry.services[0]
    outgoing = outgoing_request(settings.saml, runtime.upstream.idp, service, "ref", NOW)
    return parse(base64.b64decode(outgoing.fields["SAMLRequest"]))


def test_the_request_asks_what_eherkenning_expects(
    request_xml: etree._Element, settings: Settings, registry: Registry
) -> None:
    assert request_xml.get("ForceAuthn") == "true"
    assert request_xml.get("AttributeConsumingServiceIndex") == str(registry.services[0].index)
    assert request_xml.get("ProtocolBinding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
    assert request_xml.get("AssertionConsumerServiceURL") == settings.saml.acs_url
    assert request_xml.findtext("saml:Issuer", namespaces=NS) == settings.saml.entity_id
    assert request_xml.find("samlp:NameIDPolicy", NS) is None
    assert request_xml.find("samlp:Scoping", NS) is None


def test_the_request_is_signed_rsa_sha256_with_exclusive_c14n(
    request_xml: etree._Element, settings: Settings
) -> None:
    signed_info = request_xml.find("ds:Signature/ds:SignedInfo", NS)
    algorithms = {e.tag.split("}")[1]: e.get("Algorithm") for e in signed_info.iter() if e.get("Algorithm")}
    assert algorithms["CanonicalizationMethod"] == "http://www.w3.org/2001/10/xml-exc-c14n#"
    assert algorithms["SignatureMethod"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert algorithms["DigestMethod"] == "http://www.w3.org/2001/04/xmlenc#sha256"
    assert signed_info.find("ds:Reference", NS).get("URI") == f"#{request_xml.get('ID')}"
    register_ids(request_xml)
    verify(request_xml, [settings.saml.key.cert_pem])


def test_request_ids_are_unique_xs_ids() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i[0] == "_" and len(i) == 33 for i in ids)
