"""A certificate authority made for a test run, and the TLS server certificates it issues.

The certificates pass strict verification (OpenSSL's X509_STRICT, RFC 5280), which Python 3.13's
default context and urllib3 on Python 3.13 apply: a CA carries key usage and a subject key
identifier, an issued certificate the authority key identifier. Files are written as
`config.dev_keys` writes key pairs: `<stem>-key.pem` and `<stem>-cert.pem`.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from config import KeyPair

LIFETIME = timedelta(days=1)
# Valid from a little before now, so a clock running slightly behind accepts it too.
BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class Authority:
    """A CA: its key issues certificates; a client that trusts it loads `cert_path`."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    cert_path: Path


def certificate_authority(folder: Path, stem: str, name: str) -> Authority:
    """A CA named `name`, its certificate written to `<stem>-cert.pem` in `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        _builder(_name(name), key.public_key())
        .issuer_name(_name(name))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_signs_certificates(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = folder / f"{stem}-cert.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Authority(key, certificate, cert_path)


def server_certificate(folder: Path, stem: str, issuer: Authority, hosts: tuple[str, ...]) -> KeyPair:
    """A TLS server certificate from `issuer` for `hosts` (IP addresses or DNS names), as files too."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        _builder(_name(hosts[0]), key.public_key())
        .issuer_name(issuer.certificate.subject)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([_host(host) for host in hosts]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
        .sign(issuer.key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_path, cert_path = folder / f"{stem}-key.pem", folder / f"{stem}-cert.pem"
    key_path.write_bytes(key_pem)
    cert_path.write_bytes(cert_pem)
    return KeyPair(key_pem, cert_pem, key_path, cert_path)


def client_certificate(common_name: str) -> tuple[x509.Certificate, str]:
    """A self-signed TLS client certificate (tls_client_auth: the proxy verified it), and its PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test portal"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    certificate = _builder(name, key.public_key()).issuer_name(name).sign(key, hashes.SHA256())
    return certificate, certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def server_context(certificate: KeyPair) -> ssl.SSLContext:
    """A TLS server context presenting `certificate`, loaded from its files (ssl reads no PEM bytes)."""
    if certificate.key_path is None or certificate.cert_path is None:
        raise ValueError("the server certificate must be written to files")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert_path, certificate.key_path)
    return context


def _builder(subject: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + LIFETIME)
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _host(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _signs_certificates() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
