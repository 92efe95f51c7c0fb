"""The broker's signed SAML service-provider metadata, in the shape eHerkenning HMs accept."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from lxml import etree
from lxml.builder import ElementMaker

from config import KeyPair, SamlSettings, Service
from saml import signature
from saml.keys import certificate_base64, key_name
from saml.xml import NS, format_instant, new_id

_MD = ElementMaker(namespace=NS["md"], nsmap={"md": NS["md"], "ds": NS["ds"]})
_DS = ElementMaker(namespace=NS["ds"])
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
VALIDITY = timedelta(days=14)


def sp_metadata(settings: SamlSettings, services: Iterable[Service], now: datetime) -> bytes:
    """Signed metadata: the ACS of our response binding, an AttributeConsumingService per service.

    No identifying attributes are requested: HMs refuse metadata that asks for KvKnr, RSIN or
    BSN. During a rollover the next certificate is published beside the current one.
    """
    keys = settings.keys_at(now)
    spsso = _MD.SPSSODescriptor(
        *(_key_descriptor(pair) for pair in keys),
        # The one binding the ACS accepts: the one our AuthnRequests ask for.
        _MD.AssertionConsumerService(
            Binding=settings.response_binding, Location=settings.acs_url, index="0", isDefault="true"
        ),
        *(
            _MD.AttributeConsumingService(
                _service_name("nl", service.name_nl),
                _service_name("en", service.name_en),
                _MD.RequestedAttribute(Name=settings.service_id(service), isRequired="false"),
                index=str(service.index),
            )
            for service in sorted(services, key=lambda s: s.index)
        ),
        AuthnRequestsSigned="true",
        WantAssertionsSigned="true",
        protocolSupportEnumeration=NS["samlp"],
    )
    entity = _MD.EntityDescriptor(
        spsso,
        ID=new_id(),
        entityID=settings.entity_id,
        validUntil=format_instant(now + VALIDITY),
    )
    entity.append(
        _MD.Organization(
            _organisation_field("OrganizationName", settings.organisation_name),
            _organisation_field("OrganizationDisplayName", settings.organisation_name),
            _organisation_field("OrganizationURL", settings.organisation_url),
        )
    )
    if settings.contact_email:
        entity.append(
            _MD.ContactPerson(_MD.EmailAddress(f"mailto:{settings.contact_email}"), contactType="technical")
        )
    signature.sign(entity, keys[0])
    return etree.tostring(entity, xml_declaration=True, encoding="UTF-8")


def _key_descriptor(pair: KeyPair) -> etree._Element:
    # No `use`: the same key signs our requests and decrypts what HMs encrypt for us.
    return _MD.KeyDescriptor(
        _DS.KeyInfo(
            _DS.KeyName(key_name(pair.cert_pem)),
            _DS.X509Data(_DS.X509Certificate(certificate_base64(pair.cert_pem))),
        )
    )


def _service_name(lang: str, name: str) -> etree._Element:
    element = _MD.ServiceName(name)
    element.set(_XML_LANG, lang)
    return element


def _organisation_field(tag: str, value: str) -> etree._Element:
    element = _MD(tag, value)
    element.set(_XML_LANG, "nl")
    return element
