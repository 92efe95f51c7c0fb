"""Self-signed key pairs for development and tests, written once into the instance folder.

Production never comes here: `config.env` refuses to start without configured keys.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from config.settings import KeyPair


def generate_key_pair(common_name: str, days: int = 3650) -> KeyPair:
    """A fresh RSA-2048 key with a self-signed certificate, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
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
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyPair(key_pem=key_pem, cert_pem=cert.public_bytes(serialization.Encoding.PEM))


def ensure_key_pair(folder: Path, stem: str, common_name: str) -> KeyPair:
    """Load `<stem>-key.pem`/`<stem>-cert.pem` from `folder`, generating them when absent."""
    key_path, cert_path = folder / f"{stem}-key.pem", folder / f"{stem}-cert.pem"
    if not (key_path.exists() and cert_path.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        pair = generate_key_pair(common_name)
        # The key file is created private from the start, not chmod-ed afterwards.
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pair.key_pem)
        cert_path.write_bytes(pair.cert_pem)
    return KeyPair(
        key_pem=key_path.read_bytes(),
        cert_pem=cert_path.read_bytes(),
        key_path=key_path,
        cert_path=cert_path,
    )


def ensure_signing_key(path: Path, alg: str) -> bytes:
    """A PEM private key for `alg` (RS256: RSA-2048, ES256: P-256) at `path`, generated when absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = (
            rsa.generate_private_key(65537, 2048)
            if alg == "RS256"
            else ec.generate_private_key(ec.SECP256R1())
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    return path.read_bytes()
