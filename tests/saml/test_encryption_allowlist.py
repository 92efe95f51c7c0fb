"""Which ciphers an encrypted assertion or identifier may use: AES-GCM by default, AES-CBC only where
the operator names it (BROKER_SAML_DATA_ENCRYPTION), key transport RSA-OAEP only; checked before
anything is decrypted.

Every message is genuine: built by the simulator (AES-256-GCM), then encrypted again with the
cipher under test, under a fresh key wrapped for our certificate, so xmlsec would open it.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.padding import PKCS7
from lxml import etree

from config import DataEncryption, KeyPair, Registry, Settings
from config.dev_keys import ensure_key_pair
from config.settings import GCM_ONLY
from saml.errors import Reason, SamlError
from saml.hm_metadata import parse_metadata
from saml.identifiers import IdentifierType
from saml.identity import Identifier
from saml.simulator import (
    Mandate,
    Scenario,
    ServiceProvider,
    Shape,
    SimulatorHm,
    encrypt_assertion,
    recipients_for,
)
from saml.xml import qname
from tests.saml.crafting import NOW, World, assertion, only, received_request, response, validate

CBC = (DataEncryption.AES128_CBC, DataEncryption.AES256_CBC)
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
REPRESENTATIVE = Scenario(mandate=Mandate.REPRESENTATIVE, intermediary_kvk="87654321")


@pytest.fixture(scope="module")
def hm(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> SimulatorHm:
    base = f"{settings.saml.base_url}/simulator"
    key = ensure_key_pair(tmp_path_factory.mktemp("simulator"), "hm", "eh-broker HM simulator")
    return SimulatorHm(entity_id=f"{base}/metadata", key=key, sso_url=f"{base}/sso", ars_url=f"{base}/ars")


@pytest.fixture
def world(settings: Settings, registry: Registry, hm: SimulatorHm) -> World:
    idp = parse_metadata(hm.metadata(NOW), NOW, (hm.key.cert_pem,))
    sp = ServiceProvider.from_settings(settings.saml, registry.services, NOW)
    service = registry.services[0]
    return World(settings.saml, hm, idp, sp, service, received_request(sp, service))


def _private(key: KeyPair) -> rsa.RSAPrivateKey:
    private = serialization.load_pem_private_key(key.key_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return private


def reencrypt(
    container: etree._Element, key: KeyPair, cipher: DataEncryption, key_bytes: int | None = None
) -> None:
    """Encrypt the AES-256-GCM EncryptedData in `container` (its one EncryptedKey for `key`) again
    with `cipher`, under a fresh key wrapped with RSA-OAEP for the same recipient.

    `key_bytes` longer than the cipher's key sends a longer key whose first bytes are the real one.
    """
    encrypted_key = only(container, "xenc:EncryptedKey")
    key_value = only(encrypted_key, "xenc:CipherData/xenc:CipherValue")
    private = _private(key)
    data_value = only(container, "xenc:EncryptedData/xenc:CipherData/xenc:CipherValue")
    sealed = base64.b64decode(data_value.text or "")
    old_key = private.decrypt(base64.b64decode(key_value.text or ""), _OAEP)
    plaintext = AESGCM(old_key).decrypt(sealed[:12], sealed[12:], None)
    new_key = os.urandom(cipher.key_bytes)
    if cipher in CBC:
        iv = os.urandom(16)
        padder = PKCS7(128).padder()
        encryptor = Cipher(algorithms.AES(new_key), modes.CBC(iv)).encryptor()
        data = iv + encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    else:
        nonce = os.urandom(12)
        data = nonce + AESGCM(new_key).encrypt(nonce, plaintext, None)
    data_value.text = base64.b64encode(data).decode()
    only(container, "xenc:EncryptedData/xenc:EncryptionMethod").set("Algorithm", cipher.value)
    carried = new_key + os.urandom((key_bytes or cipher.key_bytes) - cipher.key_bytes)
    key_value.text = base64.b64encode(private.public_key().encrypt(carried, _OAEP)).decode()


Change = Callable[[etree._Element], None]


def message(world: World, whole: bool, change: Change) -> etree._Element:
    """A representative's sign-in, its EncryptedAssertion (`whole`) or else every EncryptedID changed."""
    if whole:
        encrypted = encrypt_assertion(assertion(world, REPRESENTATIVE), recipients_for(world.sp, Shape()))
        change(encrypted)
        return response(world, encrypted)

    def every_encrypted_id(element: etree._Element) -> None:
        for encrypted_id in element.iter(qname("saml", "EncryptedID")):
            change(encrypted_id)

    return response(world, assertion(world, REPRESENTATIVE, edit=every_encrypted_id))


def allowing(world: World, *ciphers: DataEncryption) -> World:
    saml = dataclasses.replace(world.saml, data_encryption=frozenset(ciphers))
    return dataclasses.replace(world, saml=saml)


def refusal(world: World, element: etree._Element) -> Reason:
    with pytest.raises(SamlError) as refused:
        validate(world, element, saml=world.saml)
    return refused.value.reason


WHOLE = pytest.mark.parametrize("whole", [True, False], ids=["encrypted-assertion", "encrypted-ids"])


def test_the_default_is_aes_gcm_only_and_the_simulator_sends_it(world: World) -> None:
    assert world.saml.data_encryption == GCM_ONLY == {DataEncryption.AES128_GCM, DataEncryption.AES256_GCM}
    encrypted = encrypt_assertion(assertion(world), recipients_for(world.sp, Shape()))
    method = only(encrypted, "xenc:EncryptedData/xenc:EncryptionMethod").get("Algorithm")
    assert method == DataEncryption.AES256_GCM.value


@WHOLE
@pytest.mark.parametrize("cipher", CBC, ids=lambda c: c.short_name)
def test_aes_cbc_is_refused_by_default_and_opens_when_named(
    world: World, whole: bool, cipher: DataEncryption
) -> None:
    cbc = message(world, whole, lambda container: reencrypt(container, world.saml.key, cipher))
    assert refusal(world, cbc) is Reason.ENCRYPTION_ALGORITHM
    identity = validate(allowing(world, *GCM_ONLY, cipher), cbc).identity
    assert identity.kvk_number == "12345678"
    assert identity.intermediary == Identifier(IdentifierType.KVK, "87654321")


@WHOLE
def test_one_cbc_named_does_not_admit_the_other(world: World, whole: bool) -> None:
    aes256 = message(
        world, whole, lambda container: reencrypt(container, world.saml.key, DataEncryption.AES256_CBC)
    )
    assert refusal(allowing(world, DataEncryption.AES128_CBC), aes256) is Reason.ENCRYPTION_ALGORITHM


@WHOLE
def test_both_gcm_key_sizes_open_by_default(world: World, whole: bool) -> None:
    aes128 = message(
        world, whole, lambda container: reencrypt(container, world.saml.key, DataEncryption.AES128_GCM)
    )
    assert validate(world, aes128).identity.kvk_number == "12345678"
    assert refusal(allowing(world, DataEncryption.AES256_GCM), aes128) is Reason.ENCRYPTION_ALGORITHM


@WHOLE
def test_the_cipher_is_checked_before_any_key_is_used(world: World, whole: bool) -> None:
    """CBC data whose key no one can open: refused for its cipher, so nothing was decrypted first."""

    def cbc_with_a_broken_key(container: etree._Element) -> None:
        reencrypt(container, world.saml.key, DataEncryption.AES256_CBC)
        only(container, "xenc:EncryptedKey/xenc:CipherData/xenc:CipherValue").text = base64.b64encode(
            os.urandom(256)
        ).decode()

    assert refusal(world, message(world, whole, cbc_with_a_broken_key)) is Reason.ENCRYPTION_ALGORITHM


@WHOLE
def test_data_without_a_named_cipher_is_refused(world: World, whole: bool) -> None:
    def unnamed(container: etree._Element) -> None:
        method = only(container, "xenc:EncryptedData/xenc:EncryptionMethod")
        method.getparent().remove(method)

    assert refusal(world, message(world, whole, unnamed)) is Reason.ENCRYPTION_ALGORITHM


@WHOLE
def test_a_key_longer_than_the_cipher_takes_is_refused(world: World, whole: bool) -> None:
    """xmlsec would use the first 16 bytes of a 32-byte key for AES-128: the size must be exact."""

    def long_key(container: etree._Element) -> None:
        reencrypt(container, world.saml.key, DataEncryption.AES128_GCM, key_bytes=32)

    assert refusal(world, message(world, whole, long_key)) is Reason.DECRYPTION_FAILED


@WHOLE
def test_a_key_for_us_by_another_transport_is_refused(world: World, whole: bool) -> None:
    """Key transport is RSA-OAEP only: a key addressed to us by any other algorithm is refused."""

    def other_transport(container: etree._Element) -> None:
        method = only(container, "xenc:EncryptedKey/xenc:EncryptionMethod")
        method.set("Algorithm", "http://www.w3.org/2001/04/xmlenc#kw-aes256")

    assert refusal(world, message(world, whole, other_transport)) is Reason.ENCRYPTION_ALGORITHM
