"""Encryption of identifiers and assertions the way eHerkenning does it (xmlenc-core, on xmlsec).

One `xenc:EncryptedData` (AES-256-GCM) whose `ds:KeyInfo` names its key by `ds:KeyName`, followed
by one sibling `xenc:EncryptedKey` (RSA-OAEP) per recipient, each naming the recipient's
certificate, its entityID, the data it unlocks and the carried key name.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import xmlsec
from lxml import etree
from lxml.builder import ElementMaker

from saml.keys import key_name
from saml.xml import NS, new_id, qname

_XENC = ElementMaker(namespace=NS["xenc"])
_NSMAP = {"saml": NS["saml"], "xenc": NS["xenc"], "ds": NS["ds"]}


@dataclass(frozen=True)
class Recipient:
    """A party an encrypted value is addressed to: its entityID and encryption certificate."""

    entity_id: str
    cert_pem: bytes


def encrypt(plaintext: bytes, container: str, recipients: Sequence[Recipient]) -> etree._Element:
    """`plaintext` (one serialized element) encrypted for `recipients`, wrapped in `container`.

    `container` is the Clark name of the wrapper, `saml:EncryptedID` or `saml:EncryptedAssertion`.
    """
    if not recipients:
        raise ValueError("an encrypted value needs at least one recipient")
    wrapper = etree.Element(container, nsmap=_NSMAP)
    data_id = new_id()
    data = xmlsec.template.encrypted_data_create(
        wrapper, xmlsec.Transform.AES256_GCM, id=data_id, type=xmlsec.EncryptionType.ELEMENT, ns="xenc"
    )
    wrapper.append(data)
    xmlsec.template.encrypted_data_ensure_cipher_value(data)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(data, ns="ds")
    encrypted_keys = [_encrypted_key_template(key_info, recipient) for recipient in recipients]
    context = xmlsec.EncryptionContext(_keys_manager(tuple(recipients)))
    context.key = xmlsec.Key.generate(xmlsec.KeyData.AES, 256, xmlsec.KeyDataType.SESSION)
    # xmlsec encrypts the session key into every EncryptedKey under KeyInfo; they move out after.
    context.encrypt_binary(data, plaintext)
    carried_name = new_id()
    for encrypted_key in encrypted_keys:
        wrapper.append(encrypted_key)
        encrypted_key.append(_XENC.ReferenceList(_XENC.DataReference(URI=f"#{data_id}")))
        encrypted_key.append(_XENC.CarriedKeyName(carried_name))
    xmlsec.template.add_key_name(key_info, carried_name)
    return wrapper


def encrypted_id(name_id: etree._Element, recipients: Sequence[Recipient]) -> etree._Element:
    """A `saml:EncryptedID` holding `name_id`."""
    return encrypt(etree.tostring(name_id), qname("saml", "EncryptedID"), recipients)


def _encrypted_key_template(key_info: etree._Element, recipient: Recipient) -> etree._Element:
    encrypted_key = xmlsec.template.add_encrypted_key(
        key_info, xmlsec.Transform.RSA_OAEP, recipient=recipient.entity_id
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    xmlsec.template.add_key_name(
        xmlsec.template.encrypted_data_ensure_key_info(encrypted_key), key_name(recipient.cert_pem)
    )
    return encrypted_key


@functools.lru_cache(maxsize=16)
def _keys_manager(recipients: tuple[Recipient, ...]) -> xmlsec.KeysManager:
    # xmlsec finds each EncryptedKey's RSA key in the manager by the KeyName in its template.
    manager = xmlsec.KeysManager()
    for recipient in recipients:
        key = xmlsec.Key.from_memory(recipient.cert_pem, xmlsec.KeyFormat.CERT_PEM)
        key.name = key_name(recipient.cert_pem)
        manager.add_key(key)
    return manager
