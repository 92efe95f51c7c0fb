"""The provider's signing keys and the JWK set relying parties verify with."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey, RSAKey

from config.settings import SigningKey

Key = RSAKey | ECKey


@dataclass(frozen=True)
class LoadedKeys:
    """Signing keys by algorithm, and every key published; `upcoming` keys are published, never sign."""

    signing: dict[str, Key]
    published: tuple[Key, ...]

    @classmethod
    def load(cls, keys: Iterable[SigningKey]) -> LoadedKeys:
        signing: dict[str, Key] = {}
        published: list[Key] = []
        for configured in keys:
            key = _import(configured)
            published.append(key)
            if not configured.upcoming:
                signing[configured.alg] = key
        return cls(signing, tuple(published))


class KeySet:
    """The keys of the moment: fixed at start-up, or followed through a rollover (`broker.keys`)."""

    def __init__(self, current: Callable[[], LoadedKeys]) -> None:
        self._current = current

    @classmethod
    def load(cls, keys: Iterable[SigningKey]) -> KeySet:
        loaded = LoadedKeys.load(keys)
        return cls(lambda: loaded)

    def key_for(self, alg: str) -> Key:
        return self._current().signing[alg]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self._current().published]}


# What clients encrypt request objects with, to the broker's encryption key.
REQUEST_OBJECT_ENCRYPTION_ALG, REQUEST_OBJECT_ENCRYPTION_ENC = "RSA-OAEP-256", "A256GCM"


def encryption_key(pem: bytes | None) -> RSAKey | None:
    """The broker's key for encrypted request objects, as the JWKS publishes it; None without one."""
    if pem is None:
        return None
    kid = RSAKey.import_key(pem).thumbprint()
    return RSAKey.import_key(pem, {"kid": kid, "use": "enc", "alg": REQUEST_OBJECT_ENCRYPTION_ALG})


def _import(configured: SigningKey) -> Key:
    kind = RSAKey if configured.alg == "RS256" else ECKey
    key = kind.import_key(configured.key_pem)
    # The kid is the RFC 7638 thumbprint: stable for a key, different for every other key.
    return kind.import_key(configured.key_pem, {"kid": key.thumbprint(), "use": "sig", "alg": configured.alg})
