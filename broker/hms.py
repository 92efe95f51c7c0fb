"""The HMs the broker is registered with, and which one a new sign-in goes to.

A service names its HMs in order of preference (`hms:`; none: every configured HM, in BROKER_HMS's
order). A new sign-in goes to the first of them that is usable now:

- `expired`: its metadata in use is past its validUntil (no good copy could be had): not usable;
- `paused`: `hm_failover_after` artifact resolutions at it failed in a row (in this worker; with
  more than one HM): new sign-ins pass it by for `hm_pause`, then it is tried again;
- `ok`: usable.

When only paused HMs are left, the first of them is tried rather than refusing the sign-in. A
sign-in stays with its HM to the end: the ACS takes an answer only from the HM it was sent to
(its issuer, its signing keys, its artifact resolution service). An artifact belongs to the HM
that issued it, so a failed resolution cannot move to another HM; failover is for new sign-ins.

Each choice passing an HM by is logged (`hm failover`) and counted; every choice is counted by HM.
Nothing of the person is in either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from broker import metrics
from broker.hm_metadata import LiveHm
from config import Service
from saml.errors import Reason, SamlError
from saml.hm_metadata import IdentityProvider, MetadataExpired

log = logging.getLogger("broker.hms")

OK, EXPIRED, PAUSED = "ok", "expired", "paused"


@dataclass
class _Failures:
    in_a_row: int = 0
    paused_until: datetime | None = None


class Hms:
    def __init__(self, live: Mapping[str, LiveHm], failover_after: int, pause: timedelta) -> None:
        """`live`: each HM's metadata, in order of preference."""
        self._live = dict(live)
        self._failover_after = failover_after
        self._pause = pause
        self._failures = {name: _Failures() for name in self._live}
        self._lock = threading.Lock()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._live)

    @property
    def first(self) -> str:
        return next(iter(self._live))

    def live(self, name: str) -> LiveHm:
        return self._live[name]

    def install(self) -> None:
        for hm in self._live.values():
            hm.install()

    def of(self, service: Service) -> tuple[str, ...]:
        """The HMs `service` is registered with, in order of preference."""
        return service.hms or self.names

    def state(self, name: str, now: datetime) -> str:
        """`ok`, `expired` or `paused` (see the module's description)."""
        try:
            self._live[name].in_use(now)
        except MetadataExpired:
            return EXPIRED
        paused_until = self._failures[name].paused_until
        return PAUSED if paused_until is not None and now < paused_until else OK

    def choose(self, service: Service, now: datetime) -> tuple[str, IdentityProvider]:
        """The HM a new sign-in for `service` goes to, and its metadata; MetadataExpired (of the
        first) when every one of its HMs' metadata has expired."""
        preferred = self.of(service)
        states = {name: self.state(name, now) for name in preferred}
        usable = [name for name in preferred if states[name] == OK]
        unexpired = [name for name in preferred if states[name] != EXPIRED]
        if not unexpired:
            return preferred[0], self._live[preferred[0]].in_use(now)  # raises MetadataExpired
        chosen = (usable or unexpired)[0]
        passed = preferred[: preferred.index(chosen)]
        for name in passed:
            metrics.hm_failover(name, states[name])
        if passed:
            log.warning(
                "hm failover service=%s chosen=%s passed=%s",
                service.slug,
                chosen,
                ",".join(f"{name}:{states[name]}" for name in passed),
                extra={
                    "service": service.slug,
                    "hm": chosen,
                    "passed": {name: states[name] for name in passed},
                },
            )
        metrics.hm_selected(chosen)
        return chosen, self._live[chosen].in_use(now)

    def idp(self, name: str | None, now: datetime) -> tuple[str, IdentityProvider]:
        """The HM a sign-in was sent to (None: the first, for sign-ins started before they named
        theirs), and its metadata; MetadataExpired when that has expired. An HM no longer
        configured answers nothing: SamlError."""
        if name is None:
            name = self.first
        if name not in self._live:
            raise SamlError(
                Reason.REQUEST_UNKNOWN, f"the HM this sign-in was sent to ({name}) is not configured"
            )
        return name, self._live[name].in_use(now)

    def resolved(self, name: str) -> None:
        """An artifact resolution at `name` succeeded: its count of failures starts again."""
        failures = self._failures[name]
        if failures.in_a_row or failures.paused_until is not None:
            with self._lock:
                failures.in_a_row, failures.paused_until = 0, None

    def resolution_failed(self, name: str, now: datetime) -> None:
        """An artifact resolution at `name` failed; after `failover_after` in a row new sign-ins
        pass it by for the pause. The only HM is never passed by: there is none to go to."""
        if len(self._live) == 1:
            return
        failures = self._failures[name]
        with self._lock:
            failures.in_a_row += 1
            if failures.in_a_row < self._failover_after:
                return
            failures.in_a_row = 0
            failures.paused_until = now + self._pause
        minutes = int(self._pause.total_seconds() // 60)
        log.warning(
            "hm paused hm=%s after %d failed artifact resolutions, for %d minutes",
            name,
            self._failover_after,
            minutes,
            extra={"hm": name, "failures": self._failover_after, "pause_minutes": minutes},
        )
        metrics.hm_paused(name)


def hms() -> Hms:
    """The running app's HMs."""
    return current_app.extensions["broker_hms"]
