"""/metrics: what a sign-in counts and times, who may scrape, and gunicorn's workers added up."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from broker import create_app, metrics
from broker.handelsregister import Handelsregister
from broker.kvk import KvkClient, KvkError, KvkFailure
from config import load_settings
from saml.errors import Reason, SamlError
from tests.clients import REDIRECT
from tests.conftest import MovableClock, broker_environ, migrated_app
from tests.oidc.portal import Portal, pkce, redirect_parameters
from tests.test_config import production_environ, settings_for_hm  # noqa: F401 (a fixture)

TOKEN = "m" * 40


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counting(name: str, **labels: str) -> Callable[[], float]:
    """How much `name` (with `labels`) grew since this was called."""
    before = sample(name, **labels)
    return lambda: sample(name, **labels) - before


def scraped(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_whole_sign_in_is_counted_and_timed_at_each_step(client: FlaskClient) -> None:
    started = counting("broker_signins_started_total", client="ind-portal")
    completed = counting("broker_signins_completed_total", client="ind-portal")
    steps = {
        step: counting("broker_step_duration_seconds_count", step=step)
        for step in ("authorize", "acs", "artifact_resolution", "token", "userinfo")
    }
    portal = Portal(client, "ind-portal")
    code = redirect_parameters(portal.sign_in())["code"]
    access_token = portal.token(code).get_json()["access_token"]
    assert portal.userinfo(access_token).status_code == 200
    assert (started(), completed()) == (1, 1)
    assert {step: grown() for step, grown in steps.items()} == dict.fromkeys(steps, 1)
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    served = scraped(answer.get_data(as_text=True))
    assert served[("broker_signins_started_total", frozenset({("client", "ind-portal")}))] >= 1


def test_a_refusal_is_counted_by_client_and_reason(client: FlaskClient) -> None:
    refused = counting("broker_signins_refused_total", client="ind-portal", reason="cancelled")
    completed = counting("broker_signins_completed_total", client="ind-portal")
    params = redirect_parameters(Portal(client, "ind-portal").sign_in(action="cancel"))
    assert params["error"] == "access_denied"
    assert (refused(), completed()) == (1, 0)


def test_a_refused_saml_message_is_counted_by_reason(client: FlaskClient) -> None:
    refused = counting("broker_saml_refused_total", reason="relay_state_invalid")
    assert client.post("/saml/acs", data={"RelayState": "x"}).status_code == 400
    assert refused() == 1


def test_kvk_calls_are_timed_and_their_failures_counted_by_kind(app: Flask, clock: MovableClock) -> None:
    def away(_url: str, _headers: object) -> object:
        raise KvkError(KvkFailure.UNAVAILABLE, "no answer")

    register = Handelsregister(KvkClient("https://api.kvk.example", "key", away), timedelta(0), clock)
    failed = counting("broker_kvk_failures_total", kind=KvkFailure.UNAVAILABLE.value)
    timed = counting("broker_step_duration_seconds_count", step="kvk")
    with app.app_context(), pytest.raises(KvkError):
        register.establishments("24444001")
    assert (failed(), timed()) == (1, 1)


def test_artifact_resolution_failures_are_counted_by_reason() -> None:
    failed = counting("broker_artifact_resolution_failures_total", reason="artifact_resolution_failed")
    with pytest.raises(SamlError), metrics.artifact_resolution():
        raise SamlError(Reason.ARTIFACT_RESOLUTION_FAILED, "the HM did not answer")
    assert failed() == 1


def test_pool_connections_and_expiries_are_gauges(tmp_path: Path, clock: MovableClock) -> None:
    app = migrated_app(tmp_path, clock)
    assert app.test_client().get("/readyz").status_code == 200
    assert sample("broker_db_connections", state="open") >= 1
    assert sample("broker_db_connections", state="in_use") == 0
    idp = app.extensions["broker"].upstream.idp
    valid_until = sample("broker_hm_metadata_valid_until_timestamp_seconds", hm="default")
    assert valid_until == idp.valid_until.timestamp()
    assert sample("broker_certificate_not_after_timestamp_seconds", certificate="saml") > clock().timestamp()


def test_configuration_reloads_are_counted_applied_or_refused(tmp_path: Path, clock: MovableClock) -> None:
    app = migrated_app(tmp_path, clock)
    path = app.extensions["broker"].settings.config.path
    applied, refused = (counting("broker_config_reloads_total", outcome=o) for o in ("applied", "refused"))
    good = path.read_text()
    path.write_text("services: [")
    app.extensions["broker"].registry()
    path.write_text(good + "\n")
    app.extensions["broker"].registry()
    assert (applied(), refused()) == (1, 1)


def test_a_metrics_token_is_asked_for_when_set(tmp_path: Path, clock: MovableClock) -> None:
    app = create_app(load_settings(broker_environ(tmp_path, BROKER_METRICS_TOKEN=TOKEN)), clock)
    client = app.test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_production_serves_metrics_only_with_a_token(tmp_path: Path, settings_for_hm: Path) -> None:  # noqa: F811
    environ = production_environ(tmp_path, BROKER_HM_METADATA=str(settings_for_hm))
    closed = create_app(load_settings(environ)).test_client()
    assert closed.get("/metrics").status_code == 404
    assert closed.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 404
    opened = create_app(load_settings(environ | {"BROKER_METRICS_TOKEN": TOKEN})).test_client()
    assert opened.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_missing_multiprocess_folder_stops_start_up(
    tmp_path: Path, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(metrics.MULTIPROCESS_DIR, str(tmp_path / "absent"))
    with pytest.raises(Exception, match=r"PROMETHEUS_MULTIPROC_DIR: .* is not a folder"):
        create_app(load_settings(broker_environ(tmp_path)), clock)


# --- gunicorn, two workers, one folder of values ------------------------------------------------


SIGN_INS = 24
ROUNDS = 5


def test_gunicorn_workers_counts_add_up_at_metrics(tmp_path: Path) -> None:
    from bench.signin import free_port, gunicorn

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    values = tmp_path / "prometheus"
    values.mkdir()
    environ = broker_environ(tmp_path / "instance", BROKER_BASE_URL=base, BROKER_CONFIG_CHECK_SECONDS="1")
    environ["PROMETHEUS_MULTIPROC_DIR"] = str(values)
    sent, per_worker = 0, {}
    with gunicorn(environ, port, tmp_path / "gunicorn.log", ["--timeout", "30"]):
        # The kernel hands connections to whichever worker accepts first: on a busy machine one may
        # take a whole round, so rounds go on (a few at most) until each worker has counted some.
        for round_ in range(ROUNDS):
            _authorize_concurrently(base, SIGN_INS)
            sent += SIGN_INS
            per_worker = _per_worker_counts(values, tmp_path / f"split-{round_}")
            if len(per_worker) == 2:
                break
        totals = {
            scraped(requests.get(f"{base}/metrics", timeout=10).text).get(
                ("broker_signins_started_total", frozenset({("client", "ind-portal")}))
            )
            for _ in range(6)
        }
    # Every scrape, whichever worker served it, adds up both workers' values.
    assert totals == {sent}
    assert len(per_worker) == 2, per_worker
    assert all(count > 0 for count in per_worker.values()), per_worker
    assert sum(per_worker.values()) == sent


def _authorize_concurrently(base: str, count: int) -> None:
    """`count` authorization requests from four threads, each on a connection of its own, so
    both workers take some."""
    statuses: list[int] = []
    lock = threading.Lock()

    def authorize(_: int) -> None:
        _, challenge = pkce()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": "ind-portal",
                "redirect_uri": REDIRECT,
                "scope": "openid kvk",
                "state": "s",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        status = requests.get(f"{base}/oidc/authorize?{query}", timeout=10, headers={"Connection": "close"})
        with lock:
            statuses.append(status.status_code)

    threads = [
        threading.Thread(target=lambda n=n: [authorize(i) for i in range(n, count, 4)]) for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * count


def _per_worker_counts(values: Path, split: Path) -> dict[str, float]:
    """Each worker's own count of sign-ins started, read from its file alone."""
    counts = {}
    for file in sorted(values.glob("counter_*.db")):
        alone = split / file.stem
        alone.mkdir(parents=True)
        shutil.copy(file, alone / file.name)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, str(alone))
        count = registry.get_sample_value("broker_signins_started_total", {"client": "ind-portal"})
        if count:
            counts[file.stem] = count
    return counts
