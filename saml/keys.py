"""Certificate helpers: the names and encodings under which our keys are published."""

from __future__ import annotations

import base64
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization


@functools.lru_cache(maxsize=64)
def certificate_der(cert_pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)


def certificate_base64(cert_pem: bytes) -> str:
    """The certificate as it appears in ds:X509Certificate."""
    return base64.b64encode(certificate_der(cert_pem)).decode("ascii")


@functools.lru_cache(maxsize=64)
def key_name(cert_pem: bytes) -> str:
    """The ds:KeyName we publish for a certificate: its SHA-256 fingerprint in hex.

    HMs address an EncryptedKey to us by this name when one value has several recipients.
    """
    return x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256()).hex()


def pem_from_base64(value: str) -> bytes:
    """A ds:X509Certificate value as PEM; refuses anything that is not a certificate."""
    der = base64.b64decode("".join(value.split()), validate=True)
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
