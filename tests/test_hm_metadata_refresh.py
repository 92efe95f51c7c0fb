"""The HM's metadata kept fresh: fetched from its URL (a local HTTP server here, playing the HM's),
its signature checked against the pinned signer, its validUntil honoured, the last good copy kept
in the database for every worker and every restart; a failed refresh keeps the good copy and is
reported; metadata past its validUntil stops new sign-ins with a page.

The served metadata is the simulator's own (its entityID, endpoints and key), so sign-ins through
the simulator work against the fetched copy.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from broker import create_app
from broker.extensions import db
from broker.hm_metadata import LiveHm
from broker.models import SamlRequest
from broker.models.hm_metadata import HmMetadataCopy
from broker.web.simulator import simulator_hm
from config import DEFAULT_HM, Settings, load_settings
from config.dev_keys import generate_key_pair
from saml.simulator import SimulatorHm
from saml.simulator.hm import METADATA_VALIDITY
from saml.xml import format_instant
from tests.conftest import MovableClock, apps_on, broker_environ, postgres_url
from tests.oidc.portal import Portal, redirect_parameters
from tests.sent_sql import sent_sql, touches


@pytest.fixture(autouse=True)
def _clock_back(clock: MovableClock) -> Iterator[None]:
    """The clock back to now afterwards: an app the session makes next starts from the present."""
    yield
    clock.moment = datetime.now(UTC)


class MetadataServer(HTTPServer):
    """The HM's metadata URL: answers every GET with `status` and `body`, counting them."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status, self.body, self.fetches = 200, b"", 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hm/metadata.xml"


class _Handler(BaseHTTPRequestHandler):
    server: MetadataServer

    def do_GET(self) -> None:
        self.server.fetches += 1
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/samlmetadata+xml")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MetadataServer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    running = MetadataServer()
    thread = threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()
    thread.join(timeout=5)


@dataclasses.dataclass(frozen=True)
class Hm:
    """The HM whose metadata is served: the simulator, and where the broker is told to find it."""

    simulator: SimulatorHm
    settings: Settings


@pytest.fixture
def hm(tmp_path: Path, server: MetadataServer, clock: MovableClock) -> Hm:
    instance = tmp_path / "instance"
    simulator = simulator_hm(load_settings(broker_environ(instance)))
    signer = tmp_path / "hm-signer.pem"
    signer.write_bytes(simulator.key.cert_pem)
    clock.moment = clock().replace(microsecond=0)  # as metadata names its moments
    server.body = simulator.metadata(clock())
    environ = broker_environ(
        instance,
        BROKER_HM_METADATA=server.url,
        BROKER_HM_METADATA_SIGNER=str(signer),
        BROKER_DATABASE_URL=f"sqlite:///{tmp_path / 'shared.sqlite3'}",
    )
    return Hm(simulator, load_settings(environ))


def live(app: Flask) -> LiveHm:
    return app.extensions["broker_hms"].live(DEFAULT_HM)


def refresh(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["eherkenning", "refresh"])
    return result.exit_code, result.output


def signs_in(app: Flask) -> bool:
    answer = Portal(app.test_client(), "ind-portal").sign_in(binding="artifact")
    return "code" in redirect_parameters(answer)


def stored(app: Flask) -> HmMetadataCopy:
    with app.app_context():
        row = db.session.scalars(select(HmMetadataCopy)).one()
        db.session.expunge(row)
        return row


def test_a_restart_starts_from_the_database_copy_without_the_network(
    hm: Hm, server: MetadataServer, clock: MovableClock
) -> None:
    with apps_on(hm.settings, clock) as (first,):
        assert server.fetches == 1  # fetched at start-up: nothing in the database yet
        assert refresh(first) == (
            0,
            f"{server.url}: unchanged (signature verified, valid until "
            f"{format_instant(clock() + METADATA_VALIDITY)});"
            " workers use it within 60 minutes\n",
        )
        fetched_at = stored(first).fetched_at
    server.status, server.body = 503, b"the HM is away"
    with apps_on(hm.settings, clock) as (restarted,):
        assert server.fetches == 2  # the restart asked nothing
        status = live(restarted).status()
        assert (status.fetched_at, status.source) == (fetched_at, server.url)
        assert signs_in(restarted)


def test_a_good_new_copy_replaces_the_old_in_every_worker(
    hm: Hm, server: MetadataServer, clock: MovableClock
) -> None:
    with apps_on(hm.settings, clock, count=2) as (one, other):
        refresh(one)
        before = live(other).status()
        clock.advance(timedelta(days=2))
        server.body = hm.simulator.metadata(clock())
        code, output = refresh(one)
        assert code == 0 and "a new copy, kept" in output, output
        later = clock() + METADATA_VALIDITY
        assert live(one).status().valid_until == later
        assert live(other).status() == before  # until it looks

        # The other worker looks after a response once its interval has passed: it takes the copy
        # from the database (verified again), and fetches nothing itself (one fetched just now).
        fetches = server.fetches
        hm_other = live(other)
        with other.test_request_context():
            early = other.response_class("early")
            hm_other.after_request(early)
            hm_other.look_due_at = 0.0
            due = other.response_class("due")
            hm_other.after_request(due)
        early.close()
        assert hm_other.status().valid_until == before.valid_until
        due.close()
        assert hm_other.status().valid_until == later
        assert hm_other.status().fetched_at == clock()
        assert server.fetches == fetches
        assert signs_in(other)


def test_the_workers_looks_fetch_once_an_interval_between_them(
    hm: Hm, server: MetadataServer, clock: MovableClock
) -> None:
    with apps_on(hm.settings, clock, count=2) as (one, other):
        fetches = server.fetches
        live(one).look()  # nothing in the database: this worker claims the fetch
        assert server.fetches == fetches + 1
        live(other).look()
        live(one).look()
        assert server.fetches == fetches + 1
        clock.advance(timedelta(minutes=60))
        live(other).look()
        assert server.fetches == fetches + 2


class Lines(logging.Handler):
    """The broker's log lines for one logger (the migrations' logging setup replaces pytest's)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


@pytest.fixture
def logged() -> Iterator[list[str]]:
    lines = Lines()
    logger = logging.getLogger("broker.hm_metadata")
    logger.addHandler(lines)
    yield lines.lines
    logger.removeHandler(lines)


def test_a_failed_refresh_keeps_the_good_copy_and_is_reported(
    hm: Hm, server: MetadataServer, clock: MovableClock, logged: list[str]
) -> None:
    with apps_on(hm.settings, clock, count=2) as (one, other):
        refresh(one)
        good = live(one).status()
        server.status, server.body = 500, b"down for maintenance"
        clock.advance(timedelta(minutes=5))
        code, output = refresh(one)
        assert code == 1
        assert output.startswith(f"Error: {server.url}: cannot fetch {server.url}: 500 Server Error")
        assert output.endswith(
            f"; the copy fetched at {format_instant(good.fetched_at)}"
            f" (valid until {format_instant(good.valid_until)})"
            " stays in use\n"
        )
        assert any(
            line.startswith("WARNING HM metadata refresh failed, still using the copy fetched at")
            for line in logged
        )
        failed = live(one).status()
        assert (failed.valid_until, failed.fetched_at, failed.failed_at) == (
            good.valid_until,
            good.fetched_at,
            clock(),
        )
        row = stored(one)
        assert (row.fetched_at, row.failed_at) == (good.fetched_at, clock())
        assert "500 Server Error" in (row.failure or "")

        # Every worker learns of the failure at its next look, and keeps signing in with the good copy.
        live(other).look()
        assert live(other).status().failed_at == clock()
        assert signs_in(other)

        # A good refresh clears it.
        server.status, server.body = 200, hm.simulator.metadata(clock())
        assert refresh(one)[0] == 0
        assert live(one).status().failed_at is None


@pytest.mark.parametrize(
    ("served", "failure"),
    [
        ("forged", "HM metadata signature: "),
        ("other_hm", "it names another HM ('https://impostor.example/metadata'"),
        ("expired", "HM metadata has expired (validUntil is past)"),
        ("broken", "HM metadata is not acceptable XML"),
    ],
)
def test_a_copy_that_cannot_be_trusted_is_refused_and_the_good_one_stays(
    hm: Hm, server: MetadataServer, clock: MovableClock, served: str, failure: str
) -> None:
    impostor_key = generate_key_pair("impostor HM")
    bodies = {
        # Same HM, signed by a key that is not the pinned one.
        "forged": lambda: dataclasses.replace(hm.simulator, key=impostor_key).metadata(clock()),
        # Signed by the pinned key, but for another entity.
        "other_hm": lambda: dataclasses.replace(
            hm.simulator, entity_id="https://impostor.example/metadata"
        ).metadata(clock()),
        "expired": lambda: hm.simulator.metadata(clock() - METADATA_VALIDITY - timedelta(seconds=1)),
        "broken": lambda: b"<md:EntityDescriptor",
    }
    with apps_on(hm.settings, clock) as (app,):
        good = live(app).status()
        server.body = bodies[served]()
        code, output = refresh(app)
        assert code == 1 and failure in output, output
        assert live(app).status().valid_until == good.valid_until
        assert signs_in(app)


def test_expired_metadata_stops_new_sign_ins_with_a_page_until_a_good_copy_arrives(
    hm: Hm, server: MetadataServer, clock: MovableClock
) -> None:
    with apps_on(hm.settings, clock) as (app,):
        valid_until = live(app).status().valid_until
        assert valid_until is not None
        server.status = 503
        clock.moment = valid_until
        answer = Portal(app.test_client(), "ind-portal").authorize()
        assert answer.status_code == 503
        page = answer.get_data(as_text=True)
        assert "Inloggen met eHerkenning kan nu even niet" in page
        assert "Signing in with eHerkenning is not possible just now" in page
        assert "hm_metadata_expired" in page
        with app.app_context():
            assert db.session.scalars(select(SamlRequest)).all() == []  # nothing was stored

        server.status, server.body = 200, hm.simulator.metadata(clock())
        assert refresh(app)[0] == 0
        assert signs_in(app)


def test_readiness_reports_the_copy_in_use_and_a_failed_refresh(
    hm: Hm, server: MetadataServer, clock: MovableClock
) -> None:
    # Warned of a day ahead only: the served week is `ok`, not `expiring`.
    operations = dataclasses.replace(hm.settings.operations, expiry_warning=timedelta(days=1))
    with apps_on(dataclasses.replace(hm.settings, operations=operations), clock) as (app,):
        client = app.test_client()
        assert client.get("/readyz").get_json()["checks"]["metadata"]["state"] == "ok"
        clock.advance(timedelta(days=2))
        server.body = hm.simulator.metadata(clock())
        refresh(app)
        metadata = client.get("/readyz").get_json()["checks"]["metadata"]
        assert metadata == {"state": "ok", "valid_until": (clock() + METADATA_VALIDITY).isoformat()}
        server.status = 500
        clock.advance(timedelta(minutes=1))
        refresh(app)
        answer = client.get("/readyz")
        assert answer.status_code == 200
        assert answer.get_json()["checks"]["metadata"] == {
            "state": "stale",
            "valid_until": (clock() - timedelta(minutes=1) + METADATA_VALIDITY).isoformat(),
            "refresh_failed_at": clock().isoformat(),
        }
        clock.advance(METADATA_VALIDITY)
        answer = client.get("/readyz")
        assert answer.status_code == 503 and answer.get_json()["checks"]["metadata"]["state"] == "failing"


def test_the_copy_is_shared_through_postgresql(tmp_path: Path, hm: Hm, server: MetadataServer, clock) -> None:
    settings = dataclasses.replace(hm.settings, database_url=postgres_url())
    with apps_on(settings, clock, count=2) as (one, other):
        with one.app_context():
            db.session.execute(HmMetadataCopy.__table__.delete())
            db.session.commit()
        live(one).look()
        clock.advance(timedelta(days=1))
        server.body = hm.simulator.metadata(clock())
        assert "a new copy, kept" in refresh(one)[1]
        live(other).look()
        assert live(other).status().valid_until == clock() + METADATA_VALIDITY
    restarted = create_app(settings, clock)
    try:
        assert live(restarted).status().valid_until == clock() + METADATA_VALIDITY
    finally:
        with restarted.app_context():
            db.engine.dispose()


def test_a_sign_in_asks_the_database_nothing_of_the_metadata_between_looks(
    hm: Hm, server: MetadataServer, clock: MovableClock
) -> None:
    with apps_on(hm.settings, clock) as (app,):
        with sent_sql(app) as seen:
            assert signs_in(app)
            assert signs_in(app)
        assert seen and not [sql for sql in seen if touches(sql, "hm_metadata")]
        assert server.fetches == 1
