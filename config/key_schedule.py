"""Our keys over time: which one signs, which are published, which still decrypt, at any moment.

Each key has the moments of its life (`ScheduledKey`); nothing here reads a file or a clock.
A key of a kind (the SAML key pair, the OpenID provider's RS256 or ES256 key) is, at a moment:

- `next`: before its activation. Published (SAML: metadata and catalogue, announced with its
  activation; OpenID: the JWKS) so the other side has it before it is used; it signs nothing.
- `current`: the latest activated key of its kind that has not ended. It signs (SAML: our
  requests, metadata and catalogue, and it is the mutual-TLS client certificate).
- `superseded` (SAML only): a later key took over. It still decrypts, unpublished, until it is
  retired: the HM moves to the new certificate at its own pace, and what it encrypts to the old
  one meanwhile must open.
- `retired`: ended, for a grace period. A SAML key ends when it is retired and decrypts the answers
  to sign-ins that were under way (a request's lifetime and the clock skew). An OpenID key ends
  when it is superseded or retired, whichever comes first, and stays in the JWKS until every
  token it signed has expired (a token's lifetime and some leeway for the portals' clocks).
- `gone`: after the grace; its files may be removed.

A key without an activation has been in use from the start (one imported as the key of today).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from config.settings import KeyPair, NextKey, SigningKey

_BEGINNING = datetime.min.replace(tzinfo=UTC)


class KeyKind(enum.StrEnum):
    SAML = "saml"
    OIDC_RS256 = "oidc-rs256"
    OIDC_ES256 = "oidc-es256"

    @property
    def alg(self) -> str:
        """The JWS algorithm an OpenID key signs with; `saml` for the SAML key pair."""
        return self.value.removeprefix("oidc-").upper() if self is not KeyKind.SAML else "saml"

    @property
    def described(self) -> str:
        if self is KeyKind.SAML:
            return "SAML signing and encryption key (metadata, service catalogue, mutual TLS)"
        return f"OpenID Connect token signing key {self.alg} (JWKS)"


class KeyState(enum.StrEnum):
    NEXT = "next"
    CURRENT = "current"
    SUPERSEDED = "superseded"
    RETIRED = "retired"
    GONE = "gone"


@dataclass(frozen=True)
class ScheduledKey:
    """One key and the moments of its life; `folder` holds its files (None: from the environment)."""

    name: str
    kind: KeyKind
    key_pem: bytes
    cert_pem: bytes = b""  # the SAML key's certificate; OpenID keys have none
    folder: Path | None = None
    activates_at: datetime | None = None  # None: in use from the start
    retires_at: datetime | None = None
    created_at: datetime | None = None
    key_path: Path | None = None
    cert_path: Path | None = None

    @property
    def pair(self) -> KeyPair:
        return KeyPair(self.key_pem, self.cert_pem, self.key_path, self.cert_path)

    def signing_key(self, signs: bool) -> SigningKey:
        return SigningKey(self.kind.alg, self.key_pem, upcoming=not signs)

    @property
    def activation(self) -> datetime:
        """When it takes over signing; the beginning of time for a key in use from the start."""
        return self.activates_at or _BEGINNING


@dataclass(frozen=True)
class SamlKeys:
    """The SAML keys of a moment: the one that signs, the next one, those that only decrypt."""

    key: KeyPair
    next_key: NextKey | None
    decrypting: tuple[KeyPair, ...]


@dataclass(frozen=True)
class KeySchedule:
    keys: tuple[ScheduledKey, ...]
    # How long an ended SAML key still decrypts, and an ended OpenID key stays in the JWKS.
    saml_grace: timedelta
    oidc_grace: timedelta
    # Where the keys were read from (BROKER_KEYS_DIR); None: the environment's settings.
    folder: Path | None = None

    def key(self, name: str) -> ScheduledKey | None:
        return next((key for key in self.keys if key.name == name), None)

    def of(self, kind: KeyKind) -> list[ScheduledKey]:
        """The keys of `kind`, in the order they activate."""
        return sorted((key for key in self.keys if key.kind is kind), key=lambda key: key.activation)

    def superseded_at(self, key: ScheduledKey) -> datetime | None:
        """When a later key of its kind takes over (a next key retired before its activation never does)."""
        later = [
            other.activates_at
            for other in self.of(key.kind)
            if other.activates_at is not None
            and other.activates_at > key.activation
            and (other.retires_at is None or other.retires_at > other.activates_at)
        ]
        return min(later, default=None)

    def ends_at(self, key: ScheduledKey) -> datetime | None:
        """When it stops signing and being published: its retirement, or for an OpenID key also the
        moment it is superseded (nothing outside depends on it, only the tokens it signed)."""
        if key.kind is KeyKind.SAML:
            return key.retires_at
        ends = [moment for moment in (key.retires_at, self.superseded_at(key)) if moment is not None]
        return min(ends, default=None)

    def grace(self, kind: KeyKind) -> timedelta:
        return self.saml_grace if kind is KeyKind.SAML else self.oidc_grace

    def gone_at(self, key: ScheduledKey) -> datetime | None:
        ends = self.ends_at(key)
        return None if ends is None else ends + self.grace(key.kind)

    def signing(self, kind: KeyKind, now: datetime) -> ScheduledKey | None:
        """The key of `kind` that signs at `now`: the latest activated one that has not ended."""
        active = [
            key
            for key in self.of(kind)
            if key.activation <= now and ((ends := self.ends_at(key)) is None or now < ends)
        ]
        return active[-1] if active else None

    def state(self, key: ScheduledKey, now: datetime) -> KeyState:
        ends = self.ends_at(key)
        if ends is not None and now >= ends:
            return KeyState.RETIRED if now < ends + self.grace(key.kind) else KeyState.GONE
        if now < key.activation:
            return KeyState.NEXT
        return KeyState.CURRENT if self.signing(key.kind, now) is key else KeyState.SUPERSEDED

    def next_key(self, kind: KeyKind, now: datetime) -> ScheduledKey | None:
        """The key of `kind` that activates next, after `now`."""
        return next((key for key in self.of(kind) if self.state(key, now) is KeyState.NEXT), None)

    def saml_at(self, now: datetime) -> SamlKeys:
        """The SAML keys at `now`. Only the next key to activate is published beside the current one."""
        signing = self.signing(KeyKind.SAML, now)
        if signing is None:
            raise ValueError(f"no SAML key signs at {now.isoformat()}")
        upcoming = self.next_key(KeyKind.SAML, now)
        decrypting = tuple(
            key.pair
            for key in reversed(self.of(KeyKind.SAML))
            if key not in (signing, upcoming)
            and self.state(key, now) in {KeyState.NEXT, KeyState.SUPERSEDED, KeyState.RETIRED}
        )
        return SamlKeys(
            key=signing.pair,
            next_key=None if upcoming is None else NextKey(upcoming.pair, upcoming.activation),
            decrypting=decrypting,
        )

    def oidc_at(self, now: datetime) -> tuple[SigningKey, ...]:
        """The OpenID keys at `now`: those that sign, then those only published (`upcoming`)."""
        oidc = [key for kind in (KeyKind.OIDC_RS256, KeyKind.OIDC_ES256) for key in self.of(kind)]
        states = {key.name: self.state(key, now) for key in oidc}
        signing = [key.signing_key(True) for key in oidc if states[key.name] is KeyState.CURRENT]
        published = [
            key.signing_key(False)
            for key in oidc
            if states[key.name] in {KeyState.NEXT, KeyState.SUPERSEDED, KeyState.RETIRED}
        ]
        return (*signing, *published)

    def changes_after(self, now: datetime) -> datetime | None:
        """The first moment after `now` at which any key changes state; None: none ever will."""
        moments = {
            moment
            for key in self.keys
            for moment in (key.activates_at, self.ends_at(key), self.gone_at(key))
            if moment is not None and moment > now
        }
        return min(moments, default=None)

    def problems(self, now: datetime, kinds: Iterable[KeyKind] = tuple(KeyKind)) -> list[str]:
        """What keeps the schedule from serving from `now` on: two keys of a kind activating at the
        same moment, or a moment when no key of a kind would sign."""
        found: list[str] = []
        for kind in kinds:
            keys = self.of(kind)
            if not keys:
                found.append(f"there is no {kind.value} key")
                continue
            activations = [key.activation for key in keys]
            for moment in sorted({m for m in activations if activations.count(m) > 1}):
                names = ", ".join(key.name for key in keys if key.activation == moment)
                when = "the start" if moment == _BEGINNING else when_text(moment)
                found.append(f"{names} take over signing at the same moment ({when}): give each its own")
            # Signing stops only where a key ends: look now and at every end still to come.
            moments = [now, *(ends for key in keys if (ends := self.ends_at(key)) is not None and ends > now)]
            for moment in moments:
                if self.signing(kind, moment) is None:
                    found.append(f"from {when_text(moment)} no {kind.value} key would sign")
                    break
        return found


def when_text(moment: datetime) -> str:
    """A moment as the commands print it: UTC to the minute."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
