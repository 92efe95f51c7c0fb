"""Decryption of EncryptedAssertion and EncryptedID values (xmlenc-core), on xmlsec.

Stock python3-saml decrypts whole assertions only. eHerkenning also encrypts attribute values
(LegalSubjectID, ActingSubjectID, IntermediateEntityID), sometimes for several recipients at
once: one EncryptedData with a sibling EncryptedKey per recipient, each named by KeyName.
"""

from __future__ import annotations

from collections.abc import Sequence

import xmlsec
from lxml import etree

from config import KeyPair
from saml.errors import Reason, SamlError
from saml.keys import key_name
from saml.signature import private_key
from saml.xml import NS, qname, required_child

_AES_KEY_SIZES = frozenset({16, 24, 32})
# RSA PKCS#1 v1.5 key transport is refused: it is open to padding-oracle attacks.
_KEY_TRANSPORT = frozenset(
    {"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", "http://www.w3.org/2009/xmlenc11#rsa-oaep"}
)
# Bounded: a message naming many keys must not make us try RSA decryptions without end.
_MAX_KEY_ATTEMPTS = 4
_KEY_NAMES = etree.XPath("ds:KeyInfo/ds:KeyName/text()", namespaces=NS)


def decrypt(container: etree._Element, keys: Sequence[KeyPair], entity_id: str) -> etree._Element:
    """Decrypt the EncryptedData inside `container` (an EncryptedAssertion or EncryptedID).

    The decrypted element replaces the EncryptedData in the tree and is returned. Tries the
    EncryptedKeys addressed to us (by KeyName or Recipient), with each of our `keys`.
    """
    encrypted_data = required_child(container, "xenc", "EncryptedData")
    for encrypted_key in _keys_for_us(container, encrypted_data, keys, entity_id)[:_MAX_KEY_ATTEMPTS]:
        session_key = _session_key(encrypted_key, keys)
        if session_key is None:
            continue
        context = xmlsec.EncryptionContext()
        # An AES key opens AES only (GCM or CBC): data under 3DES or any other cipher is refused.
        context.key = xmlsec.Key.from_binary_data(xmlsec.KeyData.AES, session_key)
        try:
            result = context.decrypt(encrypted_data)
        except xmlsec.Error:
            break
        if not isinstance(result, etree._Element):
            break
        return result
    raise SamlError(Reason.DECRYPTION_FAILED, f"cannot decrypt {etree.QName(container).localname}")


def _keys_for_us(
    container: etree._Element, encrypted_data: etree._Element, keys: Sequence[KeyPair], entity_id: str
) -> list[etree._Element]:
    candidates = container.findall(qname("xenc", "EncryptedKey")) + encrypted_data.findall(
        f"{qname('ds', 'KeyInfo')}/{qname('xenc', 'EncryptedKey')}"
    )
    our_names = {key_name(pair.cert_pem) for pair in keys}
    candidates = [k for k in candidates if _method(k) in _KEY_TRANSPORT]
    named = [k for k in candidates if _names(k) & our_names or k.get("Recipient") == entity_id]
    if named:
        return named
    # Keys that name nobody may be ours; keys that name someone else are not.
    return [k for k in candidates if not _names(k) and not k.get("Recipient")]


def _method(encrypted_key: etree._Element) -> str | None:
    method = encrypted_key.find(qname("xenc", "EncryptionMethod"))
    return None if method is None else method.get("Algorithm")


def _names(encrypted_key: etree._Element) -> set[str]:
    return {name.strip() for name in _KEY_NAMES(encrypted_key)}


def _session_key(encrypted_key: etree._Element, keys: Sequence[KeyPair]) -> bytes | None:
    for pair in keys:
        context = xmlsec.EncryptionContext()
        context.key = private_key(pair.key_pem)
        try:
            session_key = context.decrypt(encrypted_key)
        except xmlsec.Error:
            continue
        if isinstance(session_key, bytes) and len(session_key) in _AES_KEY_SIZES:
            return session_key
    return None
