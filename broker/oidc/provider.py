"""What the OpenID provider needs at hand: its settings, keys, clients and clock."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from broker.oidc.clients import OidcClient
from broker.oidc.keys import KeySet
from config.registry import Registry
from config.settings import OidcSettings

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Provider:
    settings: OidcSettings
    keys: KeySet
    # The current services and clients: they may change while the broker runs.
    registry: Callable[[], Registry]
    clock: Clock

    @classmethod
    def create(cls, settings: OidcSettings, registry: Callable[[], Registry], clock: Clock) -> Provider:
        return cls(settings, KeySet.load(settings.signing_keys), registry, clock)

    def client(self, client_id: str) -> OidcClient | None:
        """The client as the registry declares it now (authlib's `query_client`); None: unknown."""
        registry = self.registry()
        client = registry.client(client_id)
        return None if client is None else OidcClient(client, registry.services_of(client))

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    def endpoint(self, path: str) -> str:
        return f"{self.settings.issuer}{path}"


def digest(secret: str) -> str:
    """How codes and tokens are stored: their SHA-256, never themselves."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
