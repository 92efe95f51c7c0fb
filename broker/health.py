"""`/healthz` and `/readyz`: whether the process answers, and whether it can serve sign-ins.

No authentication and nothing of any person: a load balancer or an orchestrator polls them every
few seconds. `/healthz` touches nothing. `/readyz` asks the database one `SELECT 1` and looks at
what the worker has loaded (the keys and the HM's metadata of the moment, their expiry dates
compared with the clock):

- `database`: the `SELECT 1` answered;
- `keys`: the token signing keys are loaded and the SAML certificate in use has not expired;
- `metadata`: each HM's metadata in use (`hms`, by name: its state and validUntil; `paused`
  when its artifact resolutions failed, `broker.hms`); `failing` when a service has no HM whose
  metadata is unexpired (its validUntil), `stale` when a refresh failed and the copy before still
  serves, or an HM is expired or paused while another serves its services;
- `configuration`: the file of services and clients is loaded (`stale` when its last change was
  refused and the one before still serves).

Each check has a `state`: `ok`, `expiring` (ready, but the date is within
`BROKER_EXPIRY_WARNING_DAYS`: renew it), `stale`, or `failing`. Any `failing` makes the answer a
503 `not_ready`: the load balancer stops sending sign-ins here. An expiry that is only near does
not: every instance would drop out at once, days before anything stopped working; it is for
alerts (the same dates are metrics).
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from broker import metrics
from broker.extensions import db
from broker.hms import PAUSED, Hms, hms
from broker.runtime import runtime
from config import SamlSettings, Settings

bp = Blueprint("health", __name__)
log = logging.getLogger("broker.health")

OK, EXPIRING, STALE, FAILING = "ok", "expiring", "stale", "failing"
Check = dict[str, Any]


@dataclass(frozen=True)
class Expiries:
    """What runs out, worked out once at start-up."""

    # Our SAML certificates by name: `saml` (signing now), `saml_next` (published ahead).
    certificates: dict[str, datetime]
    warning: timedelta


@dataclass
class ConfigurationState:
    """Whether the configuration file's last change was applied; told by the `LiveRegistry`."""

    refused: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reloaded(self, applied: bool) -> None:
        with self._lock:
            self.refused = not applied
        metrics.config_reloaded(applied)


def expiries(settings: Settings) -> Expiries:
    return Expiries(certificates(settings.saml), settings.operations.expiry_warning)


def certificates(saml: SamlSettings) -> dict[str, datetime]:
    """Our SAML certificates' ends by name: `saml` (signing), `saml_next` (published ahead)."""
    found = {"saml": _not_after(saml.key.cert_pem)}
    if saml.next_key is not None:
        found["saml_next"] = _not_after(saml.next_key.pair.cert_pem)
    return found


@functools.lru_cache(maxsize=16)
def _not_after(pem: bytes) -> datetime:
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc


def init_app(app: Flask, found: Expiries, configuration: ConfigurationState) -> None:
    app.extensions["broker_health"] = (found, configuration)
    metrics.expiries(found.certificates)
    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    found, configuration = current_app.extensions["broker_health"]
    now = runtime().upstream.clock()
    checks = {
        "database": _database(),
        "keys": _keys(found, now),
        "metadata": _metadata(found, now),
        "configuration": _configuration(configuration),
    }
    ready = all(check["state"] != FAILING for check in checks.values())
    if not ready:
        failing = sorted(name for name, check in checks.items() if check["state"] == FAILING)
        log.warning("not ready: %s", ", ".join(failing))
    return jsonify(status="ready" if ready else "not_ready", checks=checks), 200 if ready else 503


def _database() -> Check:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        # The kind of error only: its message may name the database's host and user.
        return {"state": FAILING, "error": type(error).__name__}
    return {"state": OK}


def _keys(found: Expiries, now: datetime) -> Check:
    algorithms = sorted({key.alg for key in runtime().settings.oidc.signing_keys if not key.upcoming})
    # The certificates of now: a key rollover (broker.keys) changes them while the broker runs.
    in_use = certificates(runtime().upstream.saml(now))
    check = _expiry(in_use["saml"], now, found.warning)
    check["token_signing"] = algorithms
    if not algorithms:
        check["state"] = FAILING
    for name, not_after in in_use.items():
        check[f"{name}_not_after"] = not_after.isoformat()
    return check


def _metadata(found: Expiries, now: datetime) -> Check:
    """Each HM's metadata in use now (refreshed while the broker runs), and whether every service
    has an HM to go to."""
    configured = hms()
    each = {name: _hm(configured, name, found, now) for name in configured.names}
    unserved = sorted(
        service.slug
        for service in runtime().registry().services
        if all(each[name]["state"] == FAILING for name in configured.of(service))
    )
    if len(each) == 1:
        # One HM: its state is the check's.
        return next(iter(each.values()))
    states = {hm["state"] for hm in each.values()}
    check: Check = {
        "state": STALE if states & {FAILING, STALE} else EXPIRING if EXPIRING in states else OK,
        "hms": each,
    }
    if unserved:
        check["state"] = FAILING
        check["unserved_services"] = unserved
    return check


def _hm(configured: Hms, name: str, found: Expiries, now: datetime) -> Check:
    status = configured.live(name).status()
    if status.valid_until is None:
        check: Check = {"state": OK, "valid_until": None}
    else:
        check = _expiry(status.valid_until, now, found.warning) | {
            "valid_until": status.valid_until.isoformat()
        }
    if status.failed_at is not None:
        # Its last refresh failed: the copy before still serves.
        check["refresh_failed_at"] = status.failed_at.isoformat()
        if check["state"] == OK:
            check["state"] = STALE
    if configured.state(name, now) == PAUSED:
        # Its artifact resolutions failed: new sign-ins go to the next of a service's HMs a while.
        check["paused"] = True
        if check["state"] in (OK, EXPIRING):
            check["state"] = STALE
    return check


def _expiry(moment: datetime, now: datetime, warning: timedelta) -> Check:
    if moment <= now:
        return {"state": FAILING}
    return {"state": EXPIRING if moment - now <= warning else OK}


def _configuration(configuration: ConfigurationState) -> Check:
    registry = runtime().registry()
    return {
        "state": STALE if configuration.refused else OK,
        "services": len(registry.services),
        "clients": len(registry.clients),
    }
