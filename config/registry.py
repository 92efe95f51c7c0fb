"""The configuration file's services and clients as one value, and how that file is read.

Unlike `Settings`, which are read once, the registry may change while the broker runs
(`config.reloading`): whoever needs a service or a client asks the current registry, never a
copy kept from start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from config.clients import Client, load_clients
from config.services import LEVELS, load_services, parse_document, read_document
from config.settings import ConfigError, Service

_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Registry:
    """The services and the clients (portals) the broker serves; lookups are dict gets."""

    services: tuple[Service, ...]
    clients: tuple[Client, ...]
    _by_slug: Mapping[str, Service] = field(init=False, repr=False, compare=False)
    _by_client_id: Mapping[str, Client] = field(init=False, repr=False, compare=False)
    _browser_origins: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Indexed once per load, so a sign-in's lookups cost nothing however long the lists are.
        object.__setattr__(self, "_by_slug", {service.slug: service for service in self.services})
        object.__setattr__(self, "_by_client_id", {client.client_id: client for client in self.clients})
        origins = {_origin(uri) for client in self.clients if client.public for uri in client.redirect_uris}
        object.__setattr__(self, "_browser_origins", frozenset(origins))

    def service(self, slug: str) -> Service | None:
        return self._by_slug.get(slug)

    def client(self, client_id: str) -> Client | None:
        return self._by_client_id.get(client_id)

    def is_browser_origin(self, origin: str) -> bool:
        """Whether `origin` (scheme://host[:port], as a browser sends it) is where a public client
        runs: the origin of one of its redirect URIs."""
        return origin in self._browser_origins

    def services_of(self, client: Client) -> tuple[Service, ...]:
        """The services `client` signs in for, lowest level first, those of one level as the client
        lists them (`load_clients` refuses a client without one, or naming an unknown one)."""
        listed = [self._by_slug[slug] for slug in client.services]
        return tuple(sorted(listed, key=lambda service: LEVELS.index(service.minimum_loa)))

    def offered_levels(self) -> tuple[str, ...]:
        """The levels of the services some client signs in for, lowest first (discovery's)."""
        used = {self._by_slug[slug].minimum_loa for client in self.clients for slug in client.services}
        return tuple(level for level in LEVELS if level in used)


@dataclass(frozen=True)
class ConfigFile:
    """The configuration file (`BROKER_CONFIG`) and what reading it needs."""

    path: Path
    # The broker's environment, for the clients' `secret_env`.
    environ: Mapping[str, str] = field(repr=False, compare=False)
    production: bool
    # How often a running broker looks whether the file changed, in seconds (0: at every lookup).
    check_seconds: int = 1
    # Whether the KvK Handelsregister can be asked: services requiring an establishment need it.
    kvk_available: bool = True
    # The configured HMs' names: a service's `hms` must name some of them (none: not checked).
    hm_names: tuple[str, ...] = ()

    def read(self) -> Registry:
        """The file as it is on disk now; ConfigError names the file, the entry and the field."""
        return self._registry(read_document(self.path))

    def parse(self, text: str) -> Registry:
        """`text` read as if it were the file: how an edit is checked before it is written."""
        return self._registry(parse_document(self.path, text))

    def _registry(self, document: dict[str, Any]) -> Registry:
        services = load_services(self.path, document)
        self._check_kvk(services)
        self._check_hms(services)
        return Registry(services, load_clients(self.path, document, services, self.environ, self.production))

    def _check_kvk(self, services: tuple[Service, ...]) -> None:
        if self.kvk_available:
            return
        for n, service in enumerate(services):
            if service.establishment == "required":
                raise ConfigError(
                    f"{self.path}: services[{n}] ({service.slug}): field 'establishment': 'required' reads"
                    " the KvK Handelsregister, which needs BROKER_KVK_API_KEY in the production profile"
                )

    def _check_hms(self, services: tuple[Service, ...]) -> None:
        if not self.hm_names:
            return
        for n, service in enumerate(services):
            unknown = [name for name in service.hms if name not in self.hm_names]
            if unknown:
                raise ConfigError(
                    f"{self.path}: services[{n}] ({service.slug}): field 'hms' names {', '.join(unknown)},"
                    f" not a configured HM (BROKER_HMS: {', '.join(self.hm_names)})"
                )


def _origin(uri: str) -> str:
    """The origin of `uri` as a browser serializes it: lower case, no default port (RFC 6454 §6)."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = "" if parts.port in (None, _DEFAULT_PORTS.get(parts.scheme)) else f":{parts.port}"
    return f"{parts.scheme}://{host}{port}"
