"""Self-signed key pairs, token keys and secrets for development and tests, written once into the
instance folder.

Several workers may start at once on a fresh folder: every file is created whole and only once
(`write_once`), so they all end up with the first one's key, never each with its own.
Production never comes here: `config.env` refuses to start without configured keys.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from config.settings import KeyPair


def write_once(path: Path, content: bytes, mode: int = 0o600) -> bytes:
    """`path`'s content: `content`, written now, unless the file exists; then what is there.

    Written whole to a temporary file beside `path`, then linked into place: the link fails when
    another process got there first, and its file, already whole, is read instead.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file private (0600) from the start.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        # Another worker's file, linked first, stays: it is read below.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes()


def generate_key_pair(common_name: str, days: int = 3650) -> KeyPair:
    """A fresh RSA-2048 key with a self-signed certificate, both PEM."""
    key_pem = _new_rsa_key_pem()
    return KeyPair(key_pem=key_pem, cert_pem=_self_signed(key_pem, common_name, days))


def ensure_key_pair(folder: Path, stem: str, common_name: str) -> KeyPair:
    """Load `<stem>-key.pem`/`<stem>-cert.pem` from `folder`, generating what is absent.

    The certificate is made for the key on file, so a key another worker wrote first still gets
    its own certificate.
    """
    key_path, cert_path = folder / f"{stem}-key.pem", folder / f"{stem}-cert.pem"
    key_pem = key_path.read_bytes() if key_path.exists() else write_once(key_path, _new_rsa_key_pem())
    cert_pem = (
        cert_path.read_bytes()
        if cert_path.exists()
        else write_once(cert_path, _self_signed(key_pem, common_name), 0o644)
    )
    return KeyPair(key_pem=key_pem, cert_pem=cert_pem, key_path=key_path, cert_path=cert_path)


def ensure_signing_key(path: Path, alg: str) -> bytes:
    """A PEM private key for `alg` (RS256: RSA-2048, ES256: P-256) at `path`, generated when absent."""
    if path.exists():
        return path.read_bytes()
    return write_once(path, new_signing_key(alg))


def new_signing_key(alg: str) -> bytes:
    """A fresh PEM private key for `alg`: RSA-2048 for RS256, P-256 for ES256."""
    if alg == "RS256":
        return _new_rsa_key_pem()
    return _private_key_pem(ec.generate_private_key(ec.SECP256R1()))


def _new_rsa_key_pem() -> bytes:
    return _private_key_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _private_key_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _self_signed(key_pem: bytes, common_name: str, days: int = 3650) -> bytes:
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("a SAML key pair is RSA")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)
