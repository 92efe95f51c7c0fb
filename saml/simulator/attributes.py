"""The eHerkenning AttributeStatement: service, legal and acting subject, intermediary, restriction,
and the acting person's name and date of birth."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from lxml import etree

from config import Service
from saml.attributes import (
    ACTING_SUBJECT_ID,
    ESTABLISHMENT_RESTRICTION,
    INTERMEDIARY_KVK,
    INTERMEDIARY_RSIN,
    LEGAL_SUBJECT_ID,
    PSEUDONYM,
    SERVICE_ID,
    SERVICE_UUID,
)
from saml.identifiers import IdentifierType
from saml.person import DATE_OF_BIRTH, FAMILY_NAME, FIRST_NAME, INITIALS
from saml.simulator.assertion_parts import SAML
from saml.simulator.encryption import Recipient, encrypt, encrypted_id
from saml.simulator.scenario import Mandate, PersonRelease, Scenario
from saml.xml import qname

URI_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"


def attribute_statement(
    service_id: str,
    service: Service,
    scenario: Scenario,
    pseudonym: str,
    recipients: Sequence[Recipient] | None,
) -> etree._Element:
    """The attributes of a sign-in under `scenario`.

    With `recipients`, identifiers are EncryptedIDs for them and the person's attributes
    EncryptedAttributes; with None, plain values in attributes named after the identifier type,
    and plain person attributes.
    """
    identifiers = (
        _plain(scenario, pseudonym) if recipients is None else _encrypted(scenario, pseudonym, recipients)
    )
    statement = SAML.AttributeStatement(
        attribute(SERVICE_ID, service_id),
        attribute(SERVICE_UUID, service.uuid),
        *identifiers,
    )
    if scenario.establishment is not None:
        statement.append(attribute(ESTABLISHMENT_RESTRICTION, scenario.establishment))
    for name, value in person_attributes(service, scenario):
        plain = attribute(name, value)
        statement.append(plain if recipients is None else encrypted_attribute(plain, recipients))
    return statement


def person_attributes(service: Service, scenario: Scenario) -> list[tuple[str, str]]:
    """The acting person's attributes the scenario sends for `service`: name and value."""
    typed = (
        (FIRST_NAME, scenario.first_name),
        (FAMILY_NAME, scenario.family_name),
        (INITIALS, scenario.initials),
        (DATE_OF_BIRTH, scenario.date_of_birth),
    )
    if scenario.person is PersonRelease.NONE:
        return []
    requested = {attribute.uri for attribute in service.catalogue.requested_attributes}
    return [
        (name, value)
        for name, value in typed
        if value and (scenario.person is PersonRelease.ALL or name in requested)
    ]


def encrypted_attribute(plain: etree._Element, recipients: Sequence[Recipient]) -> etree._Element:
    """A `saml:EncryptedAttribute` holding the Attribute `plain`."""
    return encrypt(etree.tostring(plain), qname("saml", "EncryptedAttribute"), recipients)


def attribute(name: str, value: str | etree._Element) -> etree._Element:
    """A URI-named Attribute with one value, text or element."""
    return SAML.Attribute(SAML.AttributeValue(value), Name=name, NameFormat=URI_FORMAT)


def _encrypted(
    scenario: Scenario, pseudonym: str, recipients: Sequence[Recipient]
) -> Iterator[etree._Element]:
    def encrypted(qualifier: str, value: str) -> etree._Element:
        return encrypted_id(SAML.NameID(value, NameQualifier=qualifier), recipients)

    yield attribute(LEGAL_SUBJECT_ID, encrypted(IdentifierType.KVK.value, scenario.kvk_number))
    yield attribute(ACTING_SUBJECT_ID, encrypted(PSEUDONYM, pseudonym))
    if scenario.mandate is Mandate.REPRESENTATIVE:
        name, kind, value = _intermediary(scenario)
        yield attribute(name, encrypted(kind.value, value))


def _plain(scenario: Scenario, pseudonym: str) -> Iterator[etree._Element]:
    yield attribute(IdentifierType.KVK.value, scenario.kvk_number)
    yield attribute(PSEUDONYM, pseudonym)
    if scenario.mandate is Mandate.REPRESENTATIVE:
        name, _, value = _intermediary(scenario)
        yield attribute(name, value)


def _intermediary(scenario: Scenario) -> tuple[str, IdentifierType, str]:
    """The intermediary's attribute, identifier type and value: by RSIN when the scenario names one."""
    if scenario.intermediary_rsin is not None:
        return INTERMEDIARY_RSIN, IdentifierType.RSIN, scenario.intermediary_rsin
    return INTERMEDIARY_KVK, IdentifierType.KVK, scenario.intermediary_kvk
