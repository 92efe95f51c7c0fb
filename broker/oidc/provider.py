"""What the OpenID provider needs at hand: its settings, keys, clients and clock."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from broker.oidc.clients import OidcClient
from broker.oidc.keys import KeySet
from config.settings import OidcSettings

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Provider:
    settings: OidcSettings
    keys: KeySet
    clients: dict[str, OidcClient]
    clock: Clock

    @classmethod
    def create(cls, settings: OidcSettings, clock: Clock) -> Provider:
        clients = {client.client_id: OidcClient(client) for client in settings.clients}
        return cls(settings, KeySet.load(settings.signing_keys), clients, clock)

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    def endpoint(self, path: str) -> str:
        return f"{self.settings.issuer}{path}"


def digest(secret: str) -> str:
    """How codes and tokens are stored: their SHA-256, never themselves."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
