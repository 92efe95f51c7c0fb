"""Our keys as each worker follows them through a rollover.

With a key store (BROKER_KEYS_DIR) each worker looks at the store at most once per
`BROKER_CONFIG_CHECK_SECONDS`, one `stat` per key, and reads it again when a key was added or given
new moments (`flask keys generate|import|activate|retire`): no restart. What the keys do at a
moment (`config.key_schedule`) is worked out once and kept until the next moment any key changes
state, so a sign-in asks one clock comparison. A store that no longer serves (a key unreadable, a
moment when nothing would sign) is not applied: the error is logged and the keys read before stay.

Without a key store the keys are the settings' (BROKER_SAML_KEY, BROKER_SAML_NEXT_*,
BROKER_OIDC_KEYS), fixed for the process's life.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from broker import health, metrics
from broker.oidc.keys import KeySet, LoadedKeys
from config import ConfigError, KeyPair, SamlSettings, Settings
from config.env import TOKEN_LEEWAY
from config.key_schedule import KeyKind, KeySchedule, ScheduledKey
from config.key_store import read_store, signature
from saml.artifact import Transport

log = logging.getLogger("broker.keys")


@dataclass(frozen=True)
class _Window:
    """What the keys do from `start` until `until` (None: for good), under one reading of the store."""

    schedule: KeySchedule
    start: datetime
    until: datetime | None
    value: object

    def holds(self, schedule: KeySchedule, now: datetime) -> bool:
        return schedule is self.schedule and self.start <= now and (self.until is None or now < self.until)


class LiveKeys:
    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], datetime],
        check_seconds: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = settings.saml
        self._schedule = settings.keys
        self._clock = clock
        self._check_seconds = check_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._seen = signature(self._schedule.folder) if self._schedule and self._schedule.folder else ()
        self._next_check = monotonic() + check_seconds
        fixed = LoadedKeys.load(settings.oidc.signing_keys) if self._schedule is None else None
        self._fixed_oidc = fixed
        self._saml: _Window | None = None
        self._oidc: _Window | None = None

    def schedule(self) -> KeySchedule | None:
        """The key store as it is now (None: no store); between looks at it, one clock read."""
        if self._schedule is not None and self._monotonic() >= self._next_check:
            self._check()
        return self._schedule

    def saml(self, now: datetime) -> SamlSettings:
        """Our SP's settings with the keys of `now`: the one that signs, the next, those that decrypt."""
        schedule = self.schedule()
        if schedule is None:
            return self._base
        window = self._saml
        if window is None or not window.holds(schedule, now):
            keys = schedule.saml_at(now)
            value = dataclasses.replace(
                self._base, key=keys.key, next_key=keys.next_key, decrypting_keys=keys.decrypting
            )
            window = self._saml = _Window(schedule, now, schedule.changes_after(now), value)
            metrics.expiries(health.certificates(value))
        assert isinstance(window.value, SamlSettings)
        return window.value

    def oidc(self) -> LoadedKeys:
        """The token keys of now: those that sign, and every one in the JWKS."""
        if self._fixed_oidc is not None:
            return self._fixed_oidc
        schedule, now = self.schedule(), self._clock()
        assert schedule is not None
        window = self._oidc
        if window is None or not window.holds(schedule, now):
            value = LoadedKeys.load(schedule.oidc_at(now))
            window = self._oidc = _Window(schedule, now, schedule.changes_after(now), value)
        assert isinstance(window.value, LoadedKeys)
        return window.value

    def key_set(self) -> KeySet:
        """The OpenID provider's keys, following this store."""
        return KeySet(self.oidc)

    def _check(self) -> None:
        # One thread looks at the store; the others use the keys they have meanwhile.
        if not self._lock.acquire(blocking=False):
            return
        try:
            moment = self._monotonic()
            if moment < self._next_check:
                return  # another thread has just looked
            self._next_check = moment + self._check_seconds
            assert self._schedule is not None and self._schedule.folder is not None
            seen = signature(self._schedule.folder)
            if seen != self._seen:
                self._seen = seen
                self._reload(self._schedule)
        finally:
            self._lock.release()

    def _reload(self, before: KeySchedule) -> None:
        assert before.folder is not None
        try:
            schedule = read_store(before.folder, before.saml_grace, before.oidc_grace)
            problems = schedule.problems(self._clock())
            if problems:
                raise ConfigError("; ".join(problems))
        except ConfigError as error:
            log.error("key store not applied, still using the keys read before: %s", error)
            return
        self._schedule = schedule
        log.info("key store read again from %s: %d keys", before.folder, len(schedule.keys))


def settings_schedule(settings: Settings) -> tuple[KeySchedule, tuple[str, ...]]:
    """The keys the environment names, as a schedule (for `keys list`, `plan` and `init`), and the
    files of OpenID keys published ahead of use without a date (`next-*.pem`), which it cannot hold."""
    saml, oidc = settings.saml, settings.oidc
    keys = [ScheduledKey("BROKER_SAML_KEY", KeyKind.SAML, saml.key.key_pem, saml.key.cert_pem)]
    if saml.next_key is not None:
        pair = saml.next_key.pair
        keys.append(
            ScheduledKey(
                "BROKER_SAML_NEXT_KEY",
                KeyKind.SAML,
                pair.key_pem,
                pair.cert_pem,
                activates_at=saml.next_key.activates_at,
            )
        )
    keys += [
        ScheduledKey(
            f"BROKER_OIDC_KEYS/{key.alg.lower()}.pem", KeyKind(f"oidc-{key.alg.lower()}"), key.key_pem
        )
        for key in oidc.signing_keys
        if not key.upcoming
    ]
    unscheduled = tuple(
        f"BROKER_OIDC_KEYS/next-{key.alg.lower()}.pem" for key in oidc.signing_keys if key.upcoming
    )
    grace = (saml.request_lifetime + saml.clock_skew, oidc.token_lifetime + TOKEN_LEEWAY)
    return KeySchedule(tuple(keys), *grace), unscheduled


def follow_signing_key(
    make: Callable[[SamlSettings], Transport], saml: Callable[[], SamlSettings]
) -> Transport:
    """A transport whose mutual-TLS client certificate is always the key that signs now: one
    `make`d transport (and its pooled connections) per key pair."""

    @functools.lru_cache(maxsize=4)
    def for_key(pair: KeyPair) -> Transport:
        return make(dataclasses.replace(saml(), key=pair))

    def transport(url: str, body: bytes) -> bytes:
        return for_key(saml().key)(url, body)

    for_key(saml().key)  # the key of start-up: one that cannot serve stops start-up, as before
    return transport
