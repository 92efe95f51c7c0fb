"""Building, tampering with and validating HM responses for the attack tests.

Everything goes through the simulator's own builders with real keys: assertions are really
signed, values really encrypted. A response "arrives" as the ACS gets it over HTTP-POST:
serialized, base64-encoded and parsed again by `decode_post_response`.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.padding import PKCS7
from lxml import etree

from config import KeyPair, SamlSettings, Service
from saml import signature
from saml.hm_metadata import IdentityProvider
from saml.loa import LevelOfAssurance
from saml.response import Expected, ValidatedResponse, decode_post_response, validate_response
from saml.simulator import (
    SUCCESS,
    ReceivedRequest,
    Scenario,
    ServiceProvider,
    Shape,
    SimulatorHm,
    Status,
    build_assertion,
    build_response,
)
from saml.xml import NS, new_id, qname

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
RSA_1_5 = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
TRIPLE_DES = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"
# The simulator's key transport, rsa-oaep-mgf1p: SHA-1 for OAEP's digest and mask.
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
# An assertion edit made before signing, so the signature covers it.
Edit = Callable[[etree._Element], None]


@dataclass(frozen=True)
class World:
    """One pending sign-in: our settings, the simulated HM as metadata describes it, our request."""

    saml: SamlSettings
    hm: SimulatorHm
    idp: IdentityProvider
    sp: ServiceProvider
    service: Service
    request: ReceivedRequest

    def expected(self, minimum: LevelOfAssurance | None = None) -> Expected:
        level = minimum or LevelOfAssurance(self.service.minimum_loa)
        # The request was sent at NOW, as every answer crafted here is made.
        return Expected(self.request.id, self.service, level, NOW)


def received_request(sp: ServiceProvider, service: Service) -> ReceivedRequest:
    """Our AuthnRequest for `service` as the HM has read it (fresh ID every time)."""
    return ReceivedRequest(
        id=new_id(),
        issuer=sp.entity_id,
        acs_url=sp.acs_url,
        protocol_binding=None,
        attribute_consuming_service_index=service.index,
        force_authn=True,
    )


def assertion(
    world: World,
    scenario: Scenario | None = None,
    shape: Shape | None = None,
    edit: Edit | None = None,
    key: KeyPair | None = None,
    sp: ServiceProvider | None = None,
) -> etree._Element:
    """The assertion the HM issues, changed by `edit`, then signed with `key` (default: the HM's)."""
    element = build_assertion(
        world.hm, sp or world.sp, world.request, scenario or Scenario(), NOW, shape or Shape()
    )
    if edit is not None:
        edit(element)
    signature.sign(element, key or world.hm.key)
    return element


def unsigned_assertion(world: World, scenario: Scenario | None = None) -> etree._Element:
    """An assertion anyone can build: our request ID and entityID are no secret, nor our certificate."""
    return build_assertion(world.hm, world.sp, world.request, scenario or Scenario(), NOW)


def response(
    world: World,
    content: etree._Element | None,
    signed: bool = False,
    status: Status = SUCCESS,
    key: KeyPair | None = None,
) -> etree._Element:
    """A Response carrying `content` (an assertion, plain or encrypted), signed when asked."""
    element = build_response(world.hm, world.request, NOW, status, content)
    if signed:
        signature.sign(element, key or world.hm.key)
    return element


def post_value(element: etree._Element) -> str:
    """The SAMLResponse form field carrying `element`."""
    return base64.b64encode(etree.tostring(element, xml_declaration=True, encoding="UTF-8")).decode()


def arrive(world: World, element: etree._Element) -> etree._Element:
    """`element` as our ACS parses it out of an HTTP-POST."""
    return decode_post_response(post_value(element), world.saml.max_message_bytes)


def validate(
    world: World,
    element: etree._Element,
    now: datetime = NOW,
    expected: Expected | None = None,
    saml: SamlSettings | None = None,
) -> ValidatedResponse:
    """Validate `element` the way the ACS does, after it travelled over HTTP-POST."""
    return validate_response(
        arrive(world, element), saml or world.saml, world.idp, expected or world.expected(), now
    )


# --- finding and moving parts -------------------------------------------------------------------


def only(element: etree._Element, path: str) -> etree._Element:
    """The one element `path` (XPath with the usual prefixes) finds under `element`."""
    found = element.xpath(path, namespaces=NS)
    assert len(found) == 1, f"{path} found {len(found)} elements"
    return found[0]


def attribute_value(assertion: etree._Element, name: str) -> etree._Element:
    """The single AttributeValue of the top-level attribute `name`."""
    return only(assertion, f"saml:AttributeStatement/saml:Attribute[@Name='{name}']/saml:AttributeValue")


def class_ref(assertion: etree._Element) -> etree._Element:
    return only(assertion, "saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef")


def take_signature(element: etree._Element) -> etree._Element:
    """Detach and return `element`'s enveloped signature."""
    found = only(element, "ds:Signature")
    element.remove(found)
    return found


def put_signature(element: etree._Element, signature_element: etree._Element) -> None:
    """Put a signature where `saml.signature.sign` does: right after the Issuer."""
    only(element, "saml:Issuer").addnext(signature_element)


def extensions(response: etree._Element) -> etree._Element:
    """A `samlp:Extensions` in `response`, after the Issuer (where the schema allows one)."""
    element = etree.Element(qname("samlp", "Extensions"))
    only(response, "saml:Issuer").addnext(element)
    return element


def advice(assertion: etree._Element) -> etree._Element:
    """The assertion's `saml:Advice`, created after Conditions when it has none."""
    found = assertion.find(qname("saml", "Advice"))
    if found is None:
        found = etree.Element(qname("saml", "Advice"))
        only(assertion, "saml:Conditions").addnext(found)
    return found


def split_with_comment(element: etree._Element, at: int) -> None:
    """`<x>1234<!---->5678</x>`: exclusive c14n drops the comment, so the digest is unchanged."""
    value = element.text or ""
    comment = etree.Comment("")
    comment.tail = value[at:]
    element.text = value[:at]
    element.append(comment)


# --- key transport ------------------------------------------------------------------------------


def to_pkcs1_v15(encrypted_key: etree._Element, key: KeyPair) -> None:
    """Re-wrap an RSA-OAEP EncryptedKey's session key with RSA PKCS#1 v1.5, which we refuse.

    A genuine v1.5 key transport, not merely a renamed algorithm: opened with `key`, the
    recipient's, then encrypted again for the same public key.
    """
    private, session_key = _open_session_key(encrypted_key, key)
    wrapped = private.public_key().encrypt(session_key, padding.PKCS1v15())
    only(encrypted_key, "xenc:CipherData/xenc:CipherValue").text = base64.b64encode(wrapped).decode()
    only(encrypted_key, "xenc:EncryptionMethod").set("Algorithm", RSA_1_5)


def to_triple_des(container: etree._Element, key: KeyPair) -> None:
    """Re-encrypt the AES-GCM EncryptedData in `container` (its one EncryptedKey for `key`) with
    3DES-CBC under a new 192-bit key, wrapped for the same recipient with RSA-OAEP as before.

    A genuine 3DES message that xmlsec would decrypt, not merely a renamed algorithm."""
    encrypted_key = only(container, "xenc:EncryptedKey")
    private, session_key = _open_session_key(encrypted_key, key)
    data_value = only(container, "xenc:EncryptedData/xenc:CipherData/xenc:CipherValue")
    sealed = base64.b64decode(data_value.text or "")
    plaintext = AESGCM(session_key).decrypt(sealed[:12], sealed[12:], None)
    des_key, iv = os.urandom(24), os.urandom(8)
    padder = PKCS7(64).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(TripleDES(des_key), modes.CBC(iv)).encryptor()
    data_value.text = base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()
    only(container, "xenc:EncryptedData/xenc:EncryptionMethod").set("Algorithm", TRIPLE_DES)
    wrapped = private.public_key().encrypt(des_key, _OAEP)
    only(encrypted_key, "xenc:CipherData/xenc:CipherValue").text = base64.b64encode(wrapped).decode()


def _open_session_key(encrypted_key: etree._Element, key: KeyPair) -> tuple[rsa.RSAPrivateKey, bytes]:
    private = serialization.load_pem_private_key(key.key_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    cipher_value = only(encrypted_key, "xenc:CipherData/xenc:CipherValue")
    return private, private.decrypt(base64.b64decode(cipher_value.text or ""), _OAEP)
