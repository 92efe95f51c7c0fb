"""Reading eHerkenning attributes from a verified assertion into an `EherkenningIdentity`.

Two shapes are accepted: the specified one (LegalSubjectID, ActingSubjectID and
IntermediateEntityID as EncryptedID values whose NameQualifier names the identifier type), and
the one some HMs send instead (plain values in attributes named after the identifier type).
Any attribute may also come whole as an EncryptedAttribute (the person's name and date of birth
do): it is decrypted and read as the Attribute inside.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from saml.errors import Reason, SamlError
from saml.identifiers import IdentifierType, is_establishment_number, is_rsin
from saml.identity import EherkenningIdentity, Identifier
from saml.loa import LevelOfAssurance
from saml.person import read_person
from saml.xml import NS, child, qname, text

SERVICE_ID = "urn:etoegang:core:ServiceID"
SERVICE_UUID = "urn:etoegang:core:ServiceUUID"
LEGAL_SUBJECT_ID = "urn:etoegang:core:LegalSubjectID"
ACTING_SUBJECT_ID = "urn:etoegang:core:ActingSubjectID"
ESTABLISHMENT_RESTRICTION = "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"
INTERMEDIARY_KVK = "urn:etoegang:1.9:IntermediateEntityID:KvKnr"
INTERMEDIARY_RSIN = "urn:etoegang:1.9:IntermediateEntityID:RSIN"
PSEUDONYM = "urn:etoegang:1.13:EntityConcernedID:Pseudo"
COMPANY_NAME = "urn:etoegang:1.11:attribute-represented:CompanyName"

# Bounded: every EncryptedAttribute costs an RSA decryption.
_MAX_ENCRYPTED_ATTRIBUTES = 8

# Decrypts an EncryptedID or EncryptedAttribute in place and returns the element inside it.
Decrypter = Callable[[etree._Element], etree._Element]


@dataclass(frozen=True)
class AssertionFacts:
    """What the rest of the assertion (outside its attributes) established."""

    subject_name_id: str | None
    level: LevelOfAssurance
    authn_instant: datetime
    hm_entity_id: str


def read_identity(
    assertion: etree._Element, facts: AssertionFacts, decrypt: Decrypter
) -> EherkenningIdentity:
    """The identity the assertion's top-level AttributeStatements carry (never those in Advice)."""
    values = _attribute_values(assertion, decrypt)
    legal = _single_name_id(values, LEGAL_SUBJECT_ID, decrypt)
    legal_subject = _typed(legal) if legal is not None else _plain_legal_subject(values)
    acting = _single_name_id(values, ACTING_SUBJECT_ID, decrypt)
    acting_subject = (
        text(acting) if acting is not None else _single_text(values, PSEUDONYM) or facts.subject_name_id
    )
    if not acting_subject:
        raise SamlError(Reason.ACTING_SUBJECT_MISSING, "no ActingSubjectID, pseudonym or NameID")
    rsin = _single_text(values, IdentifierType.RSIN.value)
    if rsin is not None and not is_rsin(rsin):
        raise SamlError(Reason.ATTRIBUTE_INVALID, "malformed rsin identifier")
    return EherkenningIdentity(
        legal_subject=legal_subject,
        acting_subject=acting_subject,
        level=facts.level,
        authn_instant=facts.authn_instant,
        hm_entity_id=facts.hm_entity_id,
        service_id=_single_text(values, SERVICE_ID),
        service_uuid=_service_uuid(values),
        intermediary=_intermediary(values, decrypt),
        establishment_restriction=_establishment(values),
        rsin=rsin if rsin is not None else _rsin_of(legal_subject),
        company_name=_single_text(values, COMPANY_NAME),
        person=read_person(values),
    )


def _attribute_values(assertion: etree._Element, decrypt: Decrypter) -> dict[str, list[etree._Element]]:
    values: dict[str, list[etree._Element]] = {}
    plain = assertion.findall("saml:AttributeStatement/saml:Attribute", NS)
    for attribute in [*plain, *_decrypted_attributes(assertion, decrypt)]:
        name = attribute.get("Name", "")
        if name in values:
            raise SamlError(Reason.ATTRIBUTE_INVALID, f"attribute {name} occurs twice")
        values[name] = attribute.findall(qname("saml", "AttributeValue"))
    return values


def _decrypted_attributes(assertion: etree._Element, decrypt: Decrypter) -> list[etree._Element]:
    encrypted = assertion.findall("saml:AttributeStatement/saml:EncryptedAttribute", NS)
    if len(encrypted) > _MAX_ENCRYPTED_ATTRIBUTES:
        raise SamlError(
            Reason.ATTRIBUTE_INVALID, f"more than {_MAX_ENCRYPTED_ATTRIBUTES} EncryptedAttributes"
        )
    attributes = [decrypt(container) for container in encrypted]
    if any(attribute.tag != qname("saml", "Attribute") for attribute in attributes):
        raise SamlError(Reason.DECRYPTION_FAILED, "EncryptedAttribute does not hold an Attribute")
    return attributes


def _one(values: dict[str, list[etree._Element]], name: str) -> etree._Element | None:
    found = values.get(name)
    if found is None:
        return None
    if len(found) != 1:
        raise SamlError(Reason.ATTRIBUTE_INVALID, f"attribute {name} must have exactly one value")
    return found[0]


def _single_text(values: dict[str, list[etree._Element]], name: str) -> str | None:
    value = _one(values, name)
    return None if value is None else text(value)


def _single_name_id(
    values: dict[str, list[etree._Element]], name: str, decrypt: Decrypter
) -> etree._Element | None:
    """The NameID carried by an attribute value, decrypting an EncryptedID on the way."""
    value = _one(values, name)
    if value is None:
        return None
    encrypted = child(value, "saml", "EncryptedID")
    if encrypted is not None:
        return decrypt(encrypted)
    name_id = child(value, "saml", "NameID")
    if name_id is None:
        raise SamlError(Reason.ATTRIBUTE_INVALID, f"attribute {name} holds no NameID")
    return name_id


def _typed(name_id: etree._Element) -> Identifier:
    if name_id.tag != qname("saml", "NameID"):
        raise SamlError(Reason.ATTRIBUTE_INVALID, "encrypted value is not a NameID")
    try:
        kind = IdentifierType(name_id.get("NameQualifier", ""))
    except ValueError:
        raise SamlError(Reason.ATTRIBUTE_INVALID, "identifier of unknown type") from None
    return Identifier(kind, kind.check(text(name_id)))


def _plain_legal_subject(values: dict[str, list[etree._Element]]) -> Identifier:
    # Plain shape: the most specific identifier present names the legal subject.
    for kind in (IdentifierType.KVK, IdentifierType.BSN, IdentifierType.RSIN):
        value = _single_text(values, kind.value)
        if value is not None:
            return Identifier(kind, kind.check(value))
    raise SamlError(Reason.LEGAL_SUBJECT_MISSING, "no LegalSubjectID or identifier attribute")


def _intermediary(values: dict[str, list[etree._Element]], decrypt: Decrypter) -> Identifier | None:
    for name, kind in ((INTERMEDIARY_KVK, IdentifierType.KVK), (INTERMEDIARY_RSIN, IdentifierType.RSIN)):
        value = _one(values, name)
        if value is None:
            continue
        encrypted = child(value, "saml", "EncryptedID")
        if encrypted is None:
            return Identifier(kind, kind.check(text(value)))
        identifier = _typed(decrypt(encrypted))
        # The NameQualifier inside names the attribute's own type: an intermediary is never a BSN.
        if identifier.type is not kind:
            raise SamlError(Reason.ATTRIBUTE_INVALID, f"{name} holds a {identifier.type.short} identifier")
        return identifier
    return None


def _establishment(values: dict[str, list[etree._Element]]) -> str | None:
    value = _single_text(values, ESTABLISHMENT_RESTRICTION)
    if value is not None and not is_establishment_number(value):
        raise SamlError(Reason.ATTRIBUTE_INVALID, "malformed establishment number")
    return value


def _service_uuid(values: dict[str, list[etree._Element]]) -> str | None:
    value = _single_text(values, SERVICE_UUID)
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise SamlError(Reason.ATTRIBUTE_INVALID, "malformed ServiceUUID") from None


def _rsin_of(subject: Identifier) -> str | None:
    return subject.value if subject.type is IdentifierType.RSIN else None
