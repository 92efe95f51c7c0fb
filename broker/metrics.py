"""Prometheus metrics, and `/metrics` to scrape them.

The official client (`prometheus-client`). Under gunicorn every worker is a process of its own:
with `PROMETHEUS_MULTIPROC_DIR` naming an empty folder before the broker starts, each worker
writes its values to files there and a scrape of any worker adds up all of them (the client's
multiprocess mode; `gunicorn.conf.py` empties the folder at start and lets a worker's live
gauges go when it exits). Without it (`make run`, the tests) the values live in this process.

Counting costs no database statement: counters, histograms and gauges are in memory (or in those
memory-mapped files). Labels are bounded: a client is only ever named by its configured
`client_id`, a refusal by its stable reason code, a failure by its kind.

`/metrics` asks for `Authorization: Bearer <BROKER_METRICS_TOKEN>` when the token is set. Without
it, it is open outside production and answers 404 in production: behind a reverse proxy on the
same host every request seems to come from the loopback address, so the address cannot tell a
scraper on the machine from anyone on the internet.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.context_managers import Timer
from sqlalchemy import Engine, event

from broker.kvk.errors import KvkError
from config import ConfigError, Profile, Settings
from saml.errors import SamlError

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

SIGNINS_STARTED = Counter(
    "broker_signins_started", "Sign-ins started: authorization requests handed off to the HM.", ["client"]
)
SIGNINS_COMPLETED = Counter(
    "broker_signins_completed", "Sign-ins completed: a code issued to the portal.", ["client"]
)
SIGNINS_REFUSED = Counter(
    "broker_signins_refused",
    "Sign-ins refused: access_denied to the portal, by reason code.",
    ["client", "reason"],
)
SAML_REFUSED = Counter(
    "broker_saml_refused",
    "SAML messages refused with a page (at the ACS: broken, forged, stale or replayed), by reason code; "
    "the sign-in stays open for its genuine answer where the HM did not give it.",
    ["reason"],
)
STEP_SECONDS = Histogram(
    "broker_step_duration_seconds",
    "Time taken by a step of a sign-in: authorize, acs, token, userinfo (whole requests), "
    "artifact_resolution and kvk (calls out, within them).",
    ["step"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
KVK_FAILURES = Counter("broker_kvk_failures", "KvK API calls that failed, by kind.", ["kind"])
ARTIFACT_FAILURES = Counter(
    "broker_artifact_resolution_failures", "Artifact resolutions that failed, by reason code.", ["reason"]
)
RATE_LIMITED = Counter(
    "broker_rate_limited",
    "Requests refused for a rate limit, by step and key (address, client).",
    ["step", "key"],
)
DB_CONNECTIONS = Gauge(
    "broker_db_connections",
    "Database connections of the workers' pools: open, and in_use (checked out).",
    ["state"],
    multiprocess_mode="livesum",
)
CONFIG_RELOADS = Counter(
    "broker_config_reloads",
    "Changes to the configuration file: applied, or refused (the last good one stays).",
    ["outcome"],
)
METADATA_VALID_UNTIL = Gauge(
    "broker_hm_metadata_valid_until_timestamp_seconds",
    "When each HM's metadata in use expires (its validUntil), as a Unix time; absent when it names none.",
    ["hm"],
    multiprocess_mode="livemin",
)
HM_SELECTED = Counter("broker_hm_selected", "New sign-ins sent to an HM, by its name.", ["hm"])
HM_FAILOVER = Counter(
    "broker_hm_failover",
    "New sign-ins that passed an HM by for the next of their service's HMs, by the HM passed by and "
    "why (expired: its metadata; paused: its artifact resolutions failed).",
    ["hm", "state"],
)
HM_PAUSED = Counter(
    "broker_hm_paused",
    "Times an HM was passed by for new sign-ins after its artifact resolutions failed in a row.",
    ["hm"],
)
CERTIFICATE_NOT_AFTER = Gauge(
    "broker_certificate_not_after_timestamp_seconds",
    "When the broker's SAML certificates expire (saml: in use; saml_next: the one published ahead), "
    "as a Unix time.",
    ["certificate"],
    multiprocess_mode="livemin",
)

_STEPS = ("authorize", "acs", "token", "userinfo", "artifact_resolution", "kvk")


def step(name: str) -> Timer:
    """Time step `name`: a decorator for a view, or a `with` block."""
    assert name in _STEPS, name
    return STEP_SECONDS.labels(name).time()


@contextmanager
def kvk_call() -> Iterator[None]:
    """Time a call to the KvK API; a KvkError is counted by its kind and raised on."""
    with step("kvk"):
        try:
            yield
        except KvkError as error:
            KVK_FAILURES.labels(error.failure.value).inc()
            raise


@contextmanager
def artifact_resolution() -> Iterator[None]:
    """Time an artifact resolution at the HM; a SamlError is counted by its reason and raised on."""
    with step("artifact_resolution"):
        try:
            yield
        except SamlError as error:
            ARTIFACT_FAILURES.labels(error.reason.value).inc()
            raise


def started(client_id: str) -> None:
    SIGNINS_STARTED.labels(client_id).inc()


def ended(client_id: str, reason: str | None) -> None:
    """A sign-in answered: a code (`reason` None) or access_denied for `reason`."""
    if reason is None:
        SIGNINS_COMPLETED.labels(client_id).inc()
    else:
        SIGNINS_REFUSED.labels(client_id, reason).inc()


def saml_refused(reason: str) -> None:
    SAML_REFUSED.labels(reason).inc()


def rate_limited(step_name: str, key: str) -> None:
    RATE_LIMITED.labels(step_name, key).inc()


def config_reloaded(applied: bool) -> None:
    CONFIG_RELOADS.labels("applied" if applied else "refused").inc()


def hm_selected(hm: str) -> None:
    HM_SELECTED.labels(hm).inc()


def hm_failover(hm: str, state: str) -> None:
    HM_FAILOVER.labels(hm, state).inc()


def hm_paused(hm: str) -> None:
    HM_PAUSED.labels(hm).inc()


def hm_metadata_valid_until(hm: str, valid_until: datetime | None) -> None:
    """When the metadata in use of `hm` expires (set as a copy is taken into use, read at every scrape)."""
    if valid_until is not None:
        METADATA_VALID_UNTIL.labels(hm).set(valid_until.timestamp())


def expiries(certificates: dict[str, datetime]) -> None:
    """When our certificates expire (set at start-up and as keys roll over, read at every scrape)."""
    for name, not_after in certificates.items():
        CERTIFICATE_NOT_AFTER.labels(name).set(not_after.timestamp())


def watch_pool(engine: Engine) -> None:
    """Count the pool's connections as they open, close, and go out and back in."""
    opened, in_use = DB_CONNECTIONS.labels("open"), DB_CONNECTIONS.labels("in_use")
    event.listen(engine.pool, "connect", lambda *_: opened.inc())
    event.listen(engine.pool, "close", lambda *_: opened.dec())
    event.listen(engine.pool, "checkout", lambda *_: in_use.inc())
    event.listen(engine.pool, "checkin", lambda *_: in_use.dec())


def multiprocess_dir() -> Path | None:
    """The folder the workers share their values in; None: this process keeps its own."""
    folder = os.environ.get(MULTIPROCESS_DIR, "").strip()
    if not folder:
        return None
    if not Path(folder).is_dir():
        raise ConfigError(f"{MULTIPROCESS_DIR}: {folder} is not a folder")
    return Path(folder)


bp = Blueprint("metrics", __name__)


def init_app(app: Flask, settings: Settings) -> None:
    multiprocess_dir()  # a folder named but missing stops start-up, not every count
    app.config["BROKER_METRICS_TOKEN"] = settings.operations.metrics_token
    app.register_blueprint(bp)


@bp.get("/metrics")
def scrape() -> Response:
    token = current_app.config["BROKER_METRICS_TOKEN"]
    if token is not None:
        given = request.headers.get("Authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, f"Bearer {token}".encode()):
            return Response(
                "a bearer token is required\n",
                401,
                {"WWW-Authenticate": 'Bearer realm="metrics"', "Content-Type": "text/plain; charset=utf-8"},
            )
    elif current_app.config["BROKER_PROFILE"] == Profile.PRODUCTION.value:
        abort(404)
    return Response(generate_latest(_registry()), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _registry() -> CollectorRegistry:
    folder = multiprocess_dir()
    if folder is None:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, str(folder))
    return registry
