"""Our entries in the eHerkenning service catalogue (dienstencatalogus), signed and versioned.

One ServiceProvider (our OIN and name) holds, per service, a ServiceDefinition (what the service
is: its UUID, names and descriptions, level, HM, the identifier types and the restriction it
accepts, the person's attributes it asks for and why) and a ServiceInstance (how we run it: its
ServiceID, the instance's UUID, URLs, our encryption certificates). `content` builds what a version
stands for; `signed` wraps it in the ServiceCatalogue with its version, issue instant and our
signature. The settings and services must be complete: `config.services.catalogue_gaps` says what
is missing before anything is built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime

from lxml import etree
from lxml.builder import ElementMaker

from config import SamlSettings, Service
from config.catalogue_entry import CATALOGUE_ENVIRONMENTS, ENTITY_TYPES
from saml import signature
from saml.loa import LevelOfAssurance
from saml.metadata import key_descriptor
from saml.xml import NS, format_instant, new_id, qname

# The afsprakenstelsel version the catalogue follows: its namespace's, urn:etoegang:1.13:service-catalog.
SCHEME_VERSION = "1.13"
VESTIGINGSNR = "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"
_ESC = ElementMaker(
    namespace=NS["esc"], nsmap={"esc": NS["esc"], "md": NS["md"], "ds": NS["ds"], "saml": NS["saml"]}
)
_SAML = ElementMaker(namespace=NS["saml"])
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_IS_PUBLIC = qname("esc", "IsPublic")


def version(environment: str, sequence: int) -> str:
    """The catalogue's Version: urn:etoegang:<scheme version>:service-catalogue:<omgeving>:<sequence>."""
    return f"urn:etoegang:{SCHEME_VERSION}:service-catalogue:{CATALOGUE_ENVIRONMENTS[environment]}:{sequence}"


def content(settings: SamlSettings, services: Iterable[Service], now: datetime) -> etree._Element:
    """Our ServiceProvider element: a definition and an instance per service, by index.

    The encryption certificates are those of `now`: the current one, and during a rollover the
    next, the one that signs at `now` first.
    """
    ordered = sorted(services, key=lambda service: service.index)
    names = {"nl": settings.organisation_name, "en": settings.organisation_name_en}
    provider = _ESC.ServiceProvider(
        _ESC.ServiceProviderID(settings.oin),
        *_localized("OrganizationDisplayName", names),
        *(_definition(settings, service) for service in ordered),
        *(_instance(settings, service, now) for service in ordered),
    )
    provider.set(_IS_PUBLIC, "true")
    return provider


def digest(provider: etree._Element) -> str:
    """SHA-256 (hex) of the content's exclusive canonical form: the same content, the same digest."""
    canonical = etree.tostring(provider, method="c14n", exclusive=True, with_comments=False)
    return hashlib.sha256(canonical).hexdigest()


def signed(provider: etree._Element, catalogue_version: str, settings: SamlSettings, now: datetime) -> bytes:
    """The ServiceCatalogue around `provider`, issued at `now`, signed with the key that signs at `now`."""
    catalogue = _ESC.ServiceCatalogue(provider, ID=new_id())
    catalogue.set(qname("esc", "IssueInstant"), format_instant(now))
    catalogue.set(qname("esc", "Version"), catalogue_version)
    # The signature goes first, where the schema wants it.
    signature.sign(catalogue, settings.keys_at(now)[0])
    return etree.tostring(catalogue, xml_declaration=True, encoding="UTF-8")


def hm_ids(settings: SamlSettings, service: Service) -> tuple[str, ...]:
    """The HMs listing `service`: its own `hm_ids`, else BROKER_HM_ID's; the first provides the entry."""
    return service.catalogue.hm_ids or settings.hm_ids


def _definition(settings: SamlSettings, service: Service) -> etree._Element:
    entry = service.catalogue
    definition = _ESC.ServiceDefinition(
        _ESC.ServiceUUID(service.uuid),
        *_localized("ServiceName", {"nl": service.name_nl, "en": service.name_en}),
        *_localized("ServiceDescription", {"nl": entry.description_nl, "en": entry.description_en}),
        _SAML.AuthnContextClassRef(LevelOfAssurance(service.minimum_loa).uri),
        _ESC.HerkenningsmakelaarId(hm_ids(settings, service)[0]),
        *(
            _ESC.EntityConcernedTypesAllowed(ENTITY_TYPES[kind], setNumber=str(number))
            for number, types in enumerate(entry.entity_types, start=1)
            for kind in types
        ),
        *([_ESC.ServiceRestrictionsAllowed(VESTIGINGSNR)] if entry.establishment_restrictions else []),
        *(
            _ESC.RequestedAttribute(
                *_localized("PurposeStatement", {"nl": attribute.purpose_nl, "en": attribute.purpose_en}),
                Name=attribute.uri,
            )
            for attribute in entry.requested_attributes
        ),
    )
    definition.set(_IS_PUBLIC, "true" if entry.public else "false")
    return definition


def _instance(settings: SamlSettings, service: Service, now: datetime) -> etree._Element:
    entry = service.catalogue
    first, *additional = hm_ids(settings, service)
    instance = _ESC.ServiceInstance(
        _ESC.ServiceID(settings.service_id(service)),
        _ESC.ServiceUUID(entry.instance_uuid),
        _ESC.InstanceOfService(service.uuid),
        *_localized("ServiceURL", {"nl": entry.service_url}),
        *_localized("PrivacyPolicyURL", {"nl": entry.privacy_policy_url}),
        _ESC.HerkenningsmakelaarId(first),
        *(_ESC.AdditionalHerkenningsmakelaarId(oin) for oin in additional),
        # Every AuthnRequest we send forces authentication: no single sign-on.
        _ESC.SSOSupport("false"),
        *(_ESC.ServiceCertificate(key_descriptor(pair, "encryption")) for pair in settings.keys_at(now)),
    )
    instance.set(_IS_PUBLIC, "true" if entry.public else "false")
    return instance


def _localized(tag: str, texts: Mapping[str, str]) -> list[etree._Element]:
    """One `esc:<tag>` per language that has a text, with its xml:lang."""
    elements = []
    for lang, text in texts.items():
        if text:
            element = _ESC(tag, text)
            element.set(_XML_LANG, lang)
            elements.append(element)
    return elements
