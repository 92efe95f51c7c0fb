"""The key store (BROKER_KEYS_DIR): one folder per key, its PEM files and the moments of its life.

    <BROKER_KEYS_DIR>/saml-2027-01/key.pem, cert.pem, key.json
    <BROKER_KEYS_DIR>/oidc-rs256-2027-01/key.pem, key.json

`key.json` holds `kind` (saml, oidc-rs256, oidc-es256), `created_at`, `activates_at` (null: in use
from the start) and `retires_at` (null until it is retired), as ISO 8601 with a time zone. The keys
stay files, as operators keep secrets; `flask keys` writes the store and running workers read it
again when it changes (`broker.keys`).

A new key is written whole in a hidden folder beside the others and renamed into place, and a
changed `key.json` replaces the old one in one step: a worker reading the store meanwhile sees
the key before or after, never half of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from config.key_schedule import KeyKind, KeySchedule, ScheduledKey
from config.settings import ConfigError

KEY_FILE, CERT_FILE, STATE_FILE = "key.pem", "cert.pem", "key.json"
NAME = re.compile(r"[a-z0-9][a-z0-9.-]{0,62}")
_FIELDS = {"kind", "created_at", "activates_at", "retires_at"}
_SMALLEST_RSA = 2048
# What tells one version of the store from the next: the folder's entries and every key.json.
Signature = tuple[object, ...]


def read_store(folder: Path, saml_grace: timedelta, oidc_grace: timedelta) -> KeySchedule:
    """Every key in `folder`; ConfigError, naming the file, for anything unreadable or inconsistent."""
    try:
        entries = sorted(
            entry for entry in folder.iterdir() if entry.is_dir() and not entry.name.startswith(".")
        )
    except OSError as exc:
        raise ConfigError(f"BROKER_KEYS_DIR: cannot read {folder}: {exc.strerror}") from None
    return KeySchedule(tuple(_read_key(entry) for entry in entries), saml_grace, oidc_grace, folder)


def signature(folder: Path) -> Signature:
    """One stat per key: a key added, renamed away or given new dates shows as a new signature."""
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return ()  # gone for now: reading it says why
    found: list[object] = []
    for name in names:
        try:
            status = os.stat(folder / name / STATE_FILE)
        except OSError:
            found.append((name, None))
            continue
        found.append((name, status.st_ino, status.st_size, status.st_mtime_ns))
    return tuple(found)


def add_key(
    folder: Path,
    name: str,
    kind: KeyKind,
    key_pem: bytes,
    cert_pem: bytes,
    created_at: datetime,
    activates_at: datetime | None,
) -> None:
    """Write a new key into the store, whole: ConfigError when its name is taken or it is unfit."""
    if not NAME.fullmatch(name):
        raise ConfigError(f"{name!r} is not a key name: lower-case letters, digits, dots and dashes")
    check_key(kind, key_pem, cert_pem, name)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / name).exists():
        raise ConfigError(f"{folder / name} exists already: choose another name")
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}."))
    try:
        _write(staging / KEY_FILE, key_pem, 0o600)
        if kind is KeyKind.SAML:
            _write(staging / CERT_FILE, cert_pem, 0o644)
        state = {
            "kind": kind.value,
            "created_at": created_at,
            "activates_at": activates_at,
            "retires_at": None,
        }
        _write(staging / STATE_FILE, _state_json(state), 0o644)
        # A folder is renamed only onto a name that is free: another writer's key stays.
        os.rename(staging, folder / name)
    except OSError as exc:
        raise ConfigError(f"{folder / name}: cannot write: {exc.strerror}") from None
    finally:
        if staging.exists():
            for leftover in staging.iterdir():
                leftover.unlink()
            staging.rmdir()


def set_moments(key: ScheduledKey, activates_at: datetime | None, retires_at: datetime | None) -> None:
    """Give a stored key new moments: its key.json replaced in one step."""
    assert key.folder is not None  # keys from the environment are not in the store
    path = key.folder / STATE_FILE
    state = {
        "kind": key.kind.value,
        "created_at": key.created_at,
        "activates_at": activates_at,
        "retires_at": retires_at,
    }
    temporary = path.with_name(f".{STATE_FILE}.new")
    try:
        _write(temporary, _state_json(state), 0o644, replace=True)
        os.replace(temporary, path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror}") from None


def free_name(folder: Path, kind: KeyKind, moment: datetime) -> str:
    """`<kind>-<year>-<month>` of `moment`, with `-2`, `-3`, … when that is taken."""
    stem = f"{kind.value}-{moment:%Y-%m}"
    taken = {entry.name for entry in folder.iterdir()} if folder.is_dir() else set()
    return next(
        candidate
        for candidate in (stem if n == 1 else f"{stem}-{n}" for n in range(1, len(taken) + 2))
        if candidate not in taken
    )


def check_key(kind: KeyKind, key_pem: bytes, cert_pem: bytes, where: str) -> None:
    """The key fits its kind: RSA of 2048 bits or more (SAML, RS256) or P-256 (ES256); a SAML key's
    certificate is for that key."""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: the key is not an unencrypted PEM private key") from None
    if kind is KeyKind.OIDC_ES256:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ConfigError(f"{where}: an {kind.value} key is an EC key on P-256")
        return
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < _SMALLEST_RSA:
        raise ConfigError(f"{where}: a {kind.value} key is an RSA key of {_SMALLEST_RSA} bits or more")
    if kind is not KeyKind.SAML:
        return
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise ConfigError(f"{where}: the certificate is not a PEM certificate") from None
    if certificate.public_key() != key.public_key():
        raise ConfigError(f"{where}: the certificate is not for this key")


def _read_key(entry: Path) -> ScheduledKey:
    path = entry / STATE_FILE
    try:
        state = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"BROKER_KEYS_DIR: cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"BROKER_KEYS_DIR: {path} is not JSON") from None
    if not isinstance(state, dict) or set(state) != _FIELDS:
        raise ConfigError(f"BROKER_KEYS_DIR: {path} must have exactly {', '.join(sorted(_FIELDS))}")
    try:
        kind = KeyKind(state["kind"])
    except ValueError:
        kinds = ", ".join(k.value for k in KeyKind)
        raise ConfigError(f"BROKER_KEYS_DIR: {path}: kind must be one of {kinds}") from None
    key_path, cert_path = entry / KEY_FILE, entry / CERT_FILE
    try:
        key_pem = key_path.read_bytes()
        cert_pem = cert_path.read_bytes() if kind is KeyKind.SAML else b""
    except OSError as exc:
        raise ConfigError(f"BROKER_KEYS_DIR: cannot read {exc.filename}: {exc.strerror}") from None
    check_key(kind, key_pem, cert_pem, f"BROKER_KEYS_DIR: {entry}")
    return ScheduledKey(
        name=entry.name,
        kind=kind,
        key_pem=key_pem,
        cert_pem=cert_pem,
        folder=entry,
        activates_at=_moment(state, "activates_at", path),
        retires_at=_moment(state, "retires_at", path),
        created_at=_moment(state, "created_at", path),
        key_path=key_path,
        cert_path=cert_path if kind is KeyKind.SAML else None,
    )


def _moment(state: dict[str, Any], field: str, path: Path) -> datetime | None:
    raw = state[field]
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ConfigError(f"BROKER_KEYS_DIR: {path}: {field} must be null or ISO 8601 with a time zone")
    return moment


def _state_json(state: dict[str, Any]) -> bytes:
    values = {
        name: value.isoformat() if isinstance(value, datetime) else value for name, value in state.items()
    }
    return (json.dumps(values, indent=2) + "\n").encode("utf-8")


def _write(path: Path, content: bytes, mode: int, replace: bool = False) -> None:
    if replace:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    # Created with its mode from the start: a private key is never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
