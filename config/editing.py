"""Changing the clients in the configuration file, keeping its comments and layout (the CLI's engine).

The caller checks every change by loading the result the way start-up does (`ConfigFile.parse`)
before anything is written.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from config.clients import ClientSecret
from config.settings import ConfigError

_SECRET_FIELDS = ("secret", "secret_sha256", "secret_env")


@dataclass(frozen=True)
class Edited:
    """The file's new text, and a secret to show once (never stored in the file)."""

    text: str
    secret: str | None = None


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _load(path: Path) -> tuple[YAML, CommentedMap]:
    yaml = _yaml()
    document = yaml.load(path.read_text(encoding="utf-8")) or CommentedMap()
    if not isinstance(document, CommentedMap):
        raise ConfigError(f"{path}: must be a mapping with 'services' and 'clients'")
    return yaml, document


def _dump(yaml: YAML, document: CommentedMap) -> str:
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _entries(document: CommentedMap) -> CommentedSeq:
    if "clients" not in document or document["clients"] is None:
        document["clients"] = CommentedSeq()
    return document["clients"]


def _find(entries: CommentedSeq, client_id: str, path: Path) -> CommentedMap:
    for entry in entries:
        if entry.get("client_id") == client_id:
            return entry
    raise ConfigError(f"{path}: no client {client_id!r}")


def add_client(
    path: Path, client_id: str, service: str, redirect_uris: list[str], method: str, name: str | None
) -> Edited:
    yaml, document = _load(path)
    entries = _entries(document)
    if any(entry.get("client_id") == client_id for entry in entries):
        raise ConfigError(f"{path}: client {client_id!r} exists already")
    entry = CommentedMap(client_id=client_id, name=name or client_id, service=service)
    entry["redirect_uris"] = CommentedSeq(redirect_uris)
    entry["token_endpoint_auth_method"] = method
    secret = None
    if method.startswith("client_secret"):
        secret = secrets.token_urlsafe(32)
        entry["secret_sha256"] = ClientSecret.of(secret).sha256
    entries.append(entry)
    return Edited(_dump(yaml, document), secret)


def rotate_secret(path: Path, client_id: str) -> Edited:
    yaml, document = _load(path)
    entry = _find(_entries(document), client_id, path)
    if not str(entry.get("token_endpoint_auth_method", "client_secret_basic")).startswith("client_secret"):
        raise ConfigError(f"{path}: client {client_id!r} does not authenticate with a secret")
    for field in _SECRET_FIELDS:
        entry.pop(field, None)
    secret = secrets.token_urlsafe(32)
    entry["secret_sha256"] = ClientSecret.of(secret).sha256
    return Edited(_dump(yaml, document), secret)


def remove_client(path: Path, client_id: str) -> Edited:
    yaml, document = _load(path)
    entries = _entries(document)
    entries.remove(_find(entries, client_id, path))
    return Edited(_dump(yaml, document))


def write(path: Path, text: str) -> None:
    """Replace the file in one step, so a running broker never reads half of it."""
    staged = path.with_name(f".{path.name}.new")
    staged.write_text(text, encoding="utf-8")
    staged.replace(path)
