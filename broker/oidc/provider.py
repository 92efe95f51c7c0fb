"""What the OpenID provider needs at hand: its settings, keys, clients and clock."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from joserfc.jwk import RSAKey

from broker.oidc.clients import OidcClient
from broker.oidc.keys import KeySet, encryption_key
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

    @cached_property
    def encryption_key(self) -> RSAKey | None:
        """The key request objects may be encrypted to; None: they are taken signed only."""
        return encryption_key(self.settings.request_object_encryption_key)

    def jwks(self) -> dict[str, Any]:
        """The published keys: those that sign tokens, and the one to encrypt request objects to."""
        published = self.keys.jwks()
        if self.encryption_key is not None:
            published["keys"].append(self.encryption_key.as_dict(private=False))
        return published

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
