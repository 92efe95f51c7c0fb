"""The broker's signed SAML service-provider metadata, in the shape eHerkenning HMs accept."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from lxml import etree
from lxml.builder import ElementMaker

from config import KeyPair, NextKey, SamlSettings, Service
from saml import signature
from saml.keys import certificate_base64, key_name
from saml.xml import NS, format_instant, new_id

# Where the next key's activation is published: SAML metadata has no element for it, so it goes
# in the SPSSODescriptor's Extensions, in a namespace of the broker's own, which consumers that
# do not know it skip (saml-metadata-2.0-os §2.3.1).
ROLLOVER_NS = "urn:eh-broker:key-rollover"
_MD = ElementMaker(namespace=NS["md"], nsmap={"md": NS["md"], "ds": NS["ds"]})
_DS = ElementMaker(namespace=NS["ds"])
_ROLLOVER = ElementMaker(namespace=ROLLOVER_NS, nsmap={"rollover": ROLLOVER_NS})
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# HMs take our metadata from /saml/metadata or as a file handed over. A copy stays usable for four
# weeks, long enough for an HM that loads it by hand to be sent the next; one that fetches it looks
# again every six hours, so a new service or the next certificate reaches it the same day.
VALIDITY = timedelta(weeks=4)
CACHE_DURATION = "PT6H"


def sp_metadata(settings: SamlSettings, services: Iterable[Service], now: datetime) -> bytes:
    """Signed metadata: the ACS of our response binding, an AttributeConsumingService per service.

    No identifying attributes are requested: HMs refuse metadata that asks for KvKnr, RSIN or
    BSN. During a rollover the next certificate is published beside the current one, with the
    moment it takes over signing (`rollover:NextKey` in the Extensions).
    """
    keys = settings.keys_at(now)
    spsso = _MD.SPSSODescriptor(
        *([_MD.Extensions(_next_key(settings.next_key))] if settings.next_key else []),
        *(key_descriptor(pair) for pair in keys),
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
        cacheDuration=CACHE_DURATION,
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


def key_descriptor(pair: KeyPair, use: str | None = None) -> etree._Element:
    """The md:KeyDescriptor of a key pair's certificate, named by its fingerprint.

    No `use` in our metadata: the same key signs our requests and decrypts what HMs encrypt for us.
    """
    descriptor = _MD.KeyDescriptor(
        _DS.KeyInfo(
            _DS.KeyName(key_name(pair.cert_pem)),
            _DS.X509Data(_DS.X509Certificate(certificate_base64(pair.cert_pem))),
        )
    )
    if use is not None:
        descriptor.set("use", use)
    return descriptor


def _next_key(next_key: NextKey) -> etree._Element:
    return _ROLLOVER.NextKey(
        KeyName=key_name(next_key.pair.cert_pem), activates=format_instant(next_key.activates_at)
    )


def _service_name(lang: str, name: str) -> etree._Element:
    element = _MD.ServiceName(name)
    element.set(_XML_LANG, lang)
    return element


def _organisation_field(tag: str, value: str) -> etree._Element:
    element = _MD(tag, value)
    element.set(_XML_LANG, "nl")
    return element
