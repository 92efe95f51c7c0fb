"""Decryption of EncryptedAssertion and EncryptedID values (xmlenc-core), on xmlsec.

eHerkenning encrypts attribute values (LegalSubjectID, ActingSubjectID, IntermediateEntityID)
as well as whole assertions, sometimes for several recipients at once: one EncryptedData with a
sibling EncryptedKey per recipient, each named by KeyName.

The algorithms are checked before anything is decrypted: the data's cipher must be one the
settings name (AES-GCM unless the operator adds CBC), the key transport RSA-OAEP.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import xmlsec
from lxml import etree

from config import DataEncryption, KeyPair, SamlSettings
from saml.errors import Reason, SamlError
from saml.keys import key_name
from saml.signature import private_key
from saml.xml import NS, qname, required_child

# RSA PKCS#1 v1.5 key transport is refused: it is open to padding-oracle attacks.
_KEY_TRANSPORT = frozenset(
    {"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", "http://www.w3.org/2009/xmlenc11#rsa-oaep"}
)
# Bounded: a message naming many keys must not make us try RSA decryptions without end.
_MAX_KEY_ATTEMPTS = 4
_KEY_NAMES = etree.XPath("ds:KeyInfo/ds:KeyName/text()", namespaces=NS)


def decrypt(container: etree._Element, settings: SamlSettings, now: datetime) -> etree._Element:
    """Decrypt the EncryptedData inside `container` (an EncryptedAssertion or EncryptedID).

    The decrypted element replaces the EncryptedData in the tree and is returned. Tries the
    EncryptedKeys addressed to us (by KeyName or Recipient), with each of our keys at `now`.
    A cipher the settings do not name, or a key transport other than RSA-OAEP, is refused
    (`encryption_algorithm`) before any key is used.
    """
    encrypted_data = required_child(container, "xenc", "EncryptedData")
    cipher = _cipher(encrypted_data, settings.data_encryption)
    keys = settings.decryption_keys_at(now)
    ours = _keys_for_us(container, encrypted_data, keys, settings.entity_id)
    for encrypted_key in ours[:_MAX_KEY_ATTEMPTS]:
        session_key = _session_key(encrypted_key, keys, cipher.key_bytes)
        if session_key is None:
            continue
        context = xmlsec.EncryptionContext()
        # xmlsec reads the cipher from the same EncryptionMethod checked above; an AES key opens AES only.
        context.key = xmlsec.Key.from_binary_data(xmlsec.KeyData.AES, session_key)
        try:
            result = context.decrypt(encrypted_data)
        except xmlsec.Error:
            break
        if not isinstance(result, etree._Element):
            break
        return result
    raise SamlError(Reason.DECRYPTION_FAILED, f"cannot decrypt {etree.QName(container).localname}")


def _cipher(encrypted_data: etree._Element, allowed: frozenset[DataEncryption]) -> DataEncryption:
    """The EncryptedData's cipher, when it is one of the `allowed`; else `encryption_algorithm`."""
    method = _method(encrypted_data)
    for cipher in allowed:
        if cipher.value == method:
            return cipher
    named = (method or "none")[:100]
    raise SamlError(Reason.ENCRYPTION_ALGORITHM, f"data cipher {named!r} is not allowed")


def _keys_for_us(
    container: etree._Element, encrypted_data: etree._Element, keys: Sequence[KeyPair], entity_id: str
) -> list[etree._Element]:
    candidates = container.findall(qname("xenc", "EncryptedKey")) + encrypted_data.findall(
        f"{qname('ds', 'KeyInfo')}/{qname('xenc', 'EncryptedKey')}"
    )
    our_names = {key_name(pair.cert_pem) for pair in keys}
    named = [k for k in candidates if _names(k) & our_names or k.get("Recipient") == entity_id]
    # Keys that name nobody may be ours; keys that name someone else are not.
    ours = named or [k for k in candidates if not _names(k) and not k.get("Recipient")]
    if any(_method(k) not in _KEY_TRANSPORT for k in ours):
        raise SamlError(Reason.ENCRYPTION_ALGORITHM, "a key for us is transported by other than RSA-OAEP")
    return ours


def _method(element: etree._Element) -> str | None:
    """The Algorithm of the one EncryptionMethod of an EncryptedData or EncryptedKey."""
    methods = element.findall(qname("xenc", "EncryptionMethod"))
    return methods[0].get("Algorithm") if len(methods) == 1 else None


def _names(encrypted_key: etree._Element) -> set[str]:
    return {name.strip() for name in _KEY_NAMES(encrypted_key)}


def _session_key(encrypted_key: etree._Element, keys: Sequence[KeyPair], size: int) -> bytes | None:
    for pair in keys:
        context = xmlsec.EncryptionContext()
        context.key = private_key(pair.key_pem)
        try:
            session_key = context.decrypt(encrypted_key)
        except xmlsec.Error:
            continue
        # Exactly the cipher's key size: xmlsec would quietly use part of a longer key.
        if isinstance(session_key, bytes) and len(session_key) == size:
            return session_key
    return None
