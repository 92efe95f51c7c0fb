"""The intermediary of a chain mandate, by KvK number or by RSIN, plain or encrypted: its attribute
says which, and the identifier inside must be of that type."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from saml.attributes import INTERMEDIARY_KVK, INTERMEDIARY_RSIN, PSEUDONYM, AssertionFacts, read_identity
from saml.errors import Reason, SamlError
from saml.identifiers import IdentifierType
from saml.identity import EherkenningIdentity, Identifier
from saml.loa import LevelOfAssurance
from saml.xml import NS, qname

RSIN, KVK = "123456782", "87654321"
FACTS = AssertionFacts(None, LevelOfAssurance.LOA3, datetime(2026, 3, 2, tzinfo=UTC), "https://hm.test")


def _identity(name: str, value: str, qualifier: IdentifierType | None) -> EherkenningIdentity:
    """An assertion naming the intermediary in attribute `name`: `value` as plain text, or (with a
    `qualifier`) as an EncryptedID holding a NameID of that type, which `decrypt` hands back."""
    assertion = etree.Element(qname("saml", "Assertion"), nsmap={"saml": NS["saml"]})
    statement = etree.SubElement(assertion, qname("saml", "AttributeStatement"))
    for attribute_name, text in (
        (IdentifierType.KVK.value, "12345678"),
        (PSEUDONYM, "pseudonym"),
        (name, value),
    ):
        attribute = etree.SubElement(statement, qname("saml", "Attribute"), Name=attribute_name)
        etree.SubElement(attribute, qname("saml", "AttributeValue")).text = text
    hidden = statement[-1][0]
    if qualifier is not None:
        hidden.text = None
        etree.SubElement(hidden, qname("saml", "EncryptedID"))

    def decrypt(encrypted: etree._Element) -> etree._Element:
        name_id = etree.Element(qname("saml", "NameID"), NameQualifier=qualifier.value if qualifier else "")
        name_id.text = value
        return name_id

    return read_identity(assertion, FACTS, decrypt)


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
@pytest.mark.parametrize(
    ("name", "kind", "value"),
    [(INTERMEDIARY_KVK, IdentifierType.KVK, KVK), (INTERMEDIARY_RSIN, IdentifierType.RSIN, RSIN)],
    ids=["kvk", "rsin"],
)
def test_the_intermediary_is_read_by_its_type(
    name: str, kind: IdentifierType, value: str, encrypted: bool
) -> None:
    identity = _identity(name, value, kind if encrypted else None)
    assert identity.intermediary == Identifier(kind, value)


@pytest.mark.parametrize(
    ("name", "qualifier", "value"),
    [
        (INTERMEDIARY_RSIN, IdentifierType.KVK, KVK),
        (INTERMEDIARY_KVK, IdentifierType.RSIN, RSIN),
        (INTERMEDIARY_KVK, IdentifierType.BSN, RSIN),
    ],
    ids=["rsin-attribute-holding-kvk", "kvk-attribute-holding-rsin", "a-person"],
)
def test_an_encrypted_intermediary_of_another_type_is_refused(
    name: str, qualifier: IdentifierType, value: str
) -> None:
    with pytest.raises(SamlError) as refused:
        _identity(name, value, qualifier)
    assert refused.value.reason is Reason.ATTRIBUTE_INVALID
