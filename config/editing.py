"""Changing the clients and services in the configuration file, keeping its comments and layout
(the CLI's engine).

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

from config import yaml_lists
from config.clients import ClientSecret
from config.portal_profiles import DEFAULT_PROFILE
from config.settings import ConfigError, Service

_SECRET_FIELDS = ("secret", "secret_sha256", "secret_env")
# Per section: the field that names an entry, and what messages call one.
_SECTIONS = {"clients": ("client_id", "client"), "services": ("slug", "service")}


@dataclass(frozen=True)
class Edited:
    """The file's new text, and a secret to show once (never stored in the file)."""

    text: str
    secret: str | None = None


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    # Never fold a long value (a secret's hash, a URL, a name) onto a second line.
    yaml.width = 4096
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


def _entries(document: CommentedMap, section: str) -> CommentedSeq:
    if section not in document or document[section] is None:
        document[section] = CommentedSeq()
    return document[section]


def _find(document: CommentedMap, section: str, name: str, path: Path) -> CommentedMap:
    key, kind = _SECTIONS[section]
    for entry in _entries(document, section):
        if entry.get(key) == name:
            return entry
    raise ConfigError(f"{path}: no {kind} {name!r}")


def _refuse_existing(document: CommentedMap, section: str, name: str, path: Path) -> None:
    key, kind = _SECTIONS[section]
    if any(entry.get(key) == name for entry in _entries(document, section)):
        raise ConfigError(f"{path}: {kind} {name!r} exists already")


def add_client(
    path: Path, client_id: str, services: list[str], redirect_uris: list[str], method: str, name: str | None
) -> Edited:
    yaml, document = _load(path)
    _refuse_existing(document, "clients", client_id, path)
    entry = CommentedMap(client_id=client_id, name=name or client_id)
    _set_services(entry, services)
    entry["redirect_uris"] = CommentedSeq(redirect_uris)
    entry["token_endpoint_auth_method"] = method
    secret = None
    if method.startswith("client_secret"):
        secret = secrets.token_urlsafe(32)
        entry["secret_sha256"] = ClientSecret.of(secret).sha256
    yaml_lists.append(_entries(document, "clients"), entry)
    return Edited(_dump(yaml, document), secret)


def set_services(path: Path, client_id: str, services: list[str]) -> Edited:
    """Let a client sign in for `services` in place of those it signed in for."""
    yaml, document = _load(path)
    _set_services(_find(document, "clients", client_id, path), services)
    return Edited(_dump(yaml, document))


def _set_services(entry: CommentedMap, services: list[str]) -> None:
    """`service:` for one, as ever; `services:` for several, where `service:` was if it was."""
    position = list(entry).index("service") if "service" in entry else len(entry)
    if "services" in entry:
        position = list(entry).index("services")
    entry.pop("service", None)
    entry.pop("services", None)
    if len(services) == 1:
        entry.insert(position, "service", services[0])
    else:
        entry.insert(position, "services", CommentedSeq(services))


def rotate_secret(path: Path, client_id: str) -> Edited:
    yaml, document = _load(path)
    entry = _find(document, "clients", client_id, path)
    if not str(entry.get("token_endpoint_auth_method", "client_secret_basic")).startswith("client_secret"):
        raise ConfigError(f"{path}: client {client_id!r} does not authenticate with a secret")
    for field in _SECRET_FIELDS:
        entry.pop(field, None)
    secret = secrets.token_urlsafe(32)
    entry["secret_sha256"] = ClientSecret.of(secret).sha256
    return Edited(_dump(yaml, document), secret)


def remove_client(path: Path, client_id: str) -> Edited:
    yaml, document = _load(path)
    yaml_lists.remove(_entries(document, "clients"), _find(document, "clients", client_id, path))
    return Edited(_dump(yaml, document))


def add_service(path: Path, service: Service) -> Edited:
    yaml, document = _load(path)
    _refuse_existing(document, "services", service.slug, path)
    entry = CommentedMap(
        slug=service.slug, uuid=service.uuid, index=service.index, minimum_loa=service.minimum_loa
    )
    entry["name"] = CommentedMap(nl=service.name_nl, en=service.name_en)
    entry["mandates"] = CommentedSeq(service.mandates)
    entry["establishment"] = service.establishment
    if service.sponsor_categories:
        entry["sponsor_categories"] = CommentedSeq(service.sponsor_categories)
    if service.profile != DEFAULT_PROFILE:
        entry["profile"] = service.profile
    yaml_lists.append(_entries(document, "services"), entry)
    return Edited(_dump(yaml, document))


def remove_service(path: Path, slug: str) -> Edited:
    """Remove a service no client signs in for any more."""
    yaml, document = _load(path)
    clients = _entries(document, "clients")
    users = [str(entry.get("client_id")) for entry in clients if slug in _services_of(entry)]
    if users:
        raise ConfigError(
            f"{path}: service {slug!r} is still used by clients {', '.join(users)}: "
            "remove them or move them to another service first"
        )
    yaml_lists.remove(_entries(document, "services"), _find(document, "services", slug, path))
    return Edited(_dump(yaml, document))


def _services_of(entry: CommentedMap) -> list[str]:
    """The slugs a client entry names, under `service:` or `services:`."""
    listed = entry.get("services")
    return [entry.get("service")] + (list(listed) if isinstance(listed, list) else [])


def write(path: Path, text: str) -> None:
    """Replace the file in one step, so a running broker never reads half of it."""
    staged = path.with_name(f".{path.name}.new")
    staged.write_text(text, encoding="utf-8")
    staged.replace(path)
