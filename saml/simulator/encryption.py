"""Encryption of identifiers, attributes and assertions the way eHerkenning does it (xmlenc-core).

One `xenc:EncryptedData` (AES-256-GCM) whose `ds:KeyInfo` names its key by `ds:KeyName`, followed
by one sibling `xenc:EncryptedKey` (RSA-OAEP) per recipient, each naming the recipient's
certificate, its entityID, the data it unlocks and the carried key name.
"""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree
from lxml.builder import ElementMaker

from config import DataEncryption
from saml.keys import key_name
from saml.xml import NS, new_id, qname

_NSMAP = {"saml": NS["saml"], "xenc": NS["xenc"], "ds": NS["ds"]}
_XENC = ElementMaker(namespace=NS["xenc"], nsmap=_NSMAP)
_DS = ElementMaker(namespace=NS["ds"], nsmap=_NSMAP)
RSA_OAEP_MGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
ELEMENT = "http://www.w3.org/2001/04/xmlenc#Element"
# rsa-oaep-mgf1p fixes SHA-1 for OAEP's digest and mask (xmlenc-core §5.4.2), as HMs send it; OAEP
# needs no collision resistance from it.
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303


@dataclass(frozen=True)
class Recipient:
    """A party an encrypted value is addressed to: its entityID and encryption certificate."""

    entity_id: str
    cert_pem: bytes


def encrypt(plaintext: bytes, container: str, recipients: Sequence[Recipient]) -> etree._Element:
    """`plaintext` (one serialized element) encrypted for `recipients`, wrapped in `container`.

    `container` is the Clark name of the wrapper: `saml:EncryptedID`, `saml:EncryptedAttribute` or
    `saml:EncryptedAssertion`.
    Built with `cryptography`, in less than half xmlsec's time for the same; the broker decrypts
    with xmlsec, so every sign-in through the simulator checks this against that library.
    """
    if not recipients:
        raise ValueError("an encrypted value needs at least one recipient")
    session_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    data_id, carried_name = new_id(), new_id()
    wrapper = etree.Element(container, nsmap=_NSMAP)
    wrapper.append(
        _XENC.EncryptedData(
            # AES-256-GCM: one of the ciphers the broker accepts by default.
            _XENC.EncryptionMethod(Algorithm=DataEncryption.AES256_GCM.value),
            _DS.KeyInfo(_DS.KeyName(carried_name)),
            _cipher_data(nonce + AESGCM(session_key).encrypt(nonce, plaintext, None)),
            Id=data_id,
            Type=ELEMENT,
        )
    )
    for recipient in recipients:
        wrapped = _public_key(recipient.cert_pem).encrypt(session_key, _OAEP)
        wrapper.append(
            _XENC.EncryptedKey(
                _XENC.EncryptionMethod(Algorithm=RSA_OAEP_MGF1P),
                _DS.KeyInfo(_DS.KeyName(key_name(recipient.cert_pem))),
                _cipher_data(wrapped),
                _XENC.ReferenceList(_XENC.DataReference(URI=f"#{data_id}")),
                _XENC.CarriedKeyName(carried_name),
                Recipient=recipient.entity_id,
            )
        )
    return wrapper


def encrypted_id(name_id: etree._Element, recipients: Sequence[Recipient]) -> etree._Element:
    """A `saml:EncryptedID` holding `name_id`."""
    return encrypt(etree.tostring(name_id), qname("saml", "EncryptedID"), recipients)


def _cipher_data(value: bytes) -> etree._Element:
    return _XENC.CipherData(_XENC.CipherValue(base64.b64encode(value).decode("ascii")))


@functools.lru_cache(maxsize=16)
def _public_key(cert_pem: bytes) -> rsa.RSAPublicKey:
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("eHerkenning encrypts keys for RSA certificates")
    return key
