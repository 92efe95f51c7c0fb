"""Two HMs: `first`, the built-in simulator with its metadata fetched from a URL (a local HTTP server
here), and `second`, a simulator of its own (its own entityID and key) with its metadata in a file
and its artifact resolution service over HTTP (another local server). Each HM's metadata is signed
and pinned. A new sign-in goes to the first usable HM; its answer is taken from that HM only.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from werkzeug.test import TestResponse

from broker import audit, create_app
from broker.extensions import db
from broker.hms import Hms
from broker.kvk import stand_in
from broker.models import audit as store
from broker.models import put_artifact
from broker.web.simulator import simulator_hm
from config import ConfigError, ConfigFile, Settings, load_settings
from config.dev_keys import ensure_key_pair
from saml.artifact import encode_artifact
from saml.simulator import (
    Scenario,
    ServiceProvider,
    SimulatorHm,
    answer_artifact_resolve,
    read_post_request,
    respond,
)
from saml.simulator.hm import METADATA_VALIDITY
from tests.conftest import MovableClock, apps_on, broker_environ
from tests.oidc.portal import Portal, redirect_parameters
from tests.test_hm_metadata_refresh import MetadataServer
from tests.web.browser import forms


class ArsServer(HTTPServer):
    """The second HM's artifact resolution service: answers a signed ArtifactResolve for the
    artifacts it holds, or fails with HTTP 500 while `failing`."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ArsHandler)
        self.hm: SimulatorHm | None = None
        self.sp: ServiceProvider | None = None
        self.clock: MovableClock | None = None
        self.artifacts: dict[bytes, bytes] = {}
        self.failing = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/ars"


class _ArsHandler(BaseHTTPRequestHandler):
    server: ArsServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        if server.failing:
            status, answer = 500, b"unavailable"
        else:
            assert server.hm is not None and server.sp is not None and server.clock is not None
            answer = answer_artifact_resolve(
                server.hm, server.sp, body, lambda handle: server.artifacts.pop(handle, None), server.clock()
            )
            status = 200
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(server: HTTPServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def metadata_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MetadataServer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    running = MetadataServer()
    yield from (running for _ in _serve(running))


@pytest.fixture
def ars(monkeypatch: pytest.MonkeyPatch) -> Iterator[ArsServer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    running = ArsServer()
    yield from (running for _ in _serve(running))


@dataclasses.dataclass(frozen=True)
class TwoHms:
    first: SimulatorHm
    second: SimulatorHm
    settings: Settings


@pytest.fixture
def two(
    tmp_path: Path, metadata_server: MetadataServer, ars: ArsServer, clock: MovableClock
) -> Iterator[TwoHms]:
    instance = tmp_path / "instance"
    first = simulator_hm(load_settings(broker_environ(instance)))
    second = SimulatorHm(
        entity_id="https://hm2.example/saml/metadata",
        key=ensure_key_pair(tmp_path / "second", "hm", "second HM"),
        sso_url="https://hm2.example/saml/sso",
        ars_url=ars.url,
    )
    clock.moment = clock().replace(microsecond=0)
    metadata_server.body = first.metadata(clock())
    # The second HM's copy is valid three days longer than the first's.
    second_metadata = tmp_path / "second-metadata.xml"
    second_metadata.write_bytes(second.metadata(clock() + timedelta(days=3)))
    for hm, name in ((first, "first"), (second, "second")):
        (tmp_path / f"{name}-signer.pem").write_bytes(hm.key.cert_pem)
    environ = broker_environ(
        instance,
        BROKER_HMS="first,second",
        BROKER_HM_FIRST_METADATA=metadata_server.url,
        BROKER_HM_FIRST_METADATA_SIGNER=str(tmp_path / "first-signer.pem"),
        BROKER_HM_SECOND_METADATA=str(second_metadata),
        BROKER_HM_SECOND_METADATA_SIGNER=str(tmp_path / "second-signer.pem"),
        BROKER_HM_FAILOVER_AFTER="3",
        BROKER_HM_PAUSE_MINUTES="5",
    )
    settings = load_settings(environ)
    ars.hm, ars.clock = second, clock
    ars.sp = ServiceProvider.from_settings(settings.saml, settings.config.read().services, clock())
    yield TwoHms(first, second, settings)


@pytest.fixture
def app(two: TwoHms, clock: MovableClock) -> Iterator[Flask]:
    with apps_on(two.settings, clock) as (running,):
        yield running


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def hand_off(client: FlaskClient, client_id: str = "ind-portal") -> tuple[Portal, TestResponse, str]:
    """An authorization request; the portal, the hand-off page and the HM it sends the browser to."""
    portal = Portal(client, client_id)
    page = portal.authorize()
    assert page.status_code == 200, page.get_data(as_text=True)
    (form,) = forms(page)
    return portal, page, form.action


def at_second(
    two: TwoHms,
    ars: ArsServer,
    client: FlaskClient,
    page: TestResponse,
    clock: MovableClock,
    scenario: Scenario | None = None,
) -> TestResponse:
    """The second HM reads the request handed off to it, signs in, keeps the answer for its
    artifact and sends the browser back to the broker's ACS."""
    (form,) = forms(page)
    assert ars.sp is not None
    received = read_post_request(form.fields, two.second, ars.sp, clock())
    delivery = respond(two.second, ars.sp, received, scenario or Scenario(), clock())
    assert delivery.artifact_handle is not None
    ars.artifacts[delivery.artifact_handle] = delivery.response
    return client.get(f"/saml/acs?{urlencode(delivery.fields)}")


def failed_resolution(client: FlaskClient, two: TwoHms, page: TestResponse) -> TestResponse:
    """An artifact of the first HM that its resolution service does not know: resolution fails."""
    (form,) = forms(page)
    artifact = encode_artifact(two.first.source_id, b"\x01" * 20)
    return client.get(
        f"/saml/acs?{urlencode({'SAMLart': artifact, 'RelayState': form.fields['RelayState']})}"
    )


def last_audit_record(app: Flask) -> dict:
    """The audit trail's newest record, as an export line holds it."""
    with app.app_context():
        return audit.exported(list(store.records_up_to(store.chain().seq))[-1])


def readiness(client: FlaskClient) -> tuple[int, dict]:
    answer = client.get("/readyz")
    return answer.status_code, answer.get_json()["checks"]["metadata"]


def test_a_sign_in_goes_to_the_first_hm_and_completes_there(app: Flask, two: TwoHms) -> None:
    selected = sample("broker_hm_selected_total", hm="first")
    portal, page, action = hand_off(app.test_client())
    assert action == two.first.sso_url
    assert "code" in redirect_parameters(portal.back_at_broker(portal.at_hm(page)))
    assert sample("broker_hm_selected_total", hm="first") == selected + 1


def test_expired_metadata_sends_new_sign_ins_to_the_second_hm(
    app: Flask, two: TwoHms, ars: ArsServer, clock: MovableClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    clock.advance(METADATA_VALIDITY + timedelta(hours=1))  # the first's copy has run out, the second's not
    failovers = sample("broker_hm_failover_total", hm="first", state="expired")
    with caplog.at_level(logging.INFO, logger="broker.hms"):
        portal, page, action = hand_off(client)
    assert action == two.second.sso_url
    assert sample("broker_hm_failover_total", hm="first", state="expired") == failovers + 1
    (failover,) = [record for record in caplog.records if record.getMessage().startswith("hm failover")]
    assert failover.hm == "second" and failover.passed == {"first": "expired"}  # type: ignore[attr-defined]
    answer = at_second(two, ars, client, page, clock)
    parameters = redirect_parameters(answer)
    assert "code" in parameters
    claims = portal.verify(portal.token(parameters["code"]).get_json()["id_token"])
    assert claims["kvk_number"] == "12345678"
    assert last_audit_record(app)["hm"] == two.second.entity_id

    status, metadata = readiness(client)
    assert status == 200
    assert metadata["state"] == "stale"
    assert metadata["hms"]["first"]["state"] == "failing"
    assert metadata["hms"]["second"]["state"] == "expiring"  # within BROKER_EXPIRY_WARNING_DAYS

    clock.advance(timedelta(days=3))  # the second's copy has run out as well
    status, metadata = readiness(client)
    assert status == 503
    assert metadata["state"] == "failing"
    assert "unserved_services" in metadata
    page = Portal(client, "ind-portal").authorize()
    assert page.status_code == 503 and "hm_metadata_expired" in page.get_data(as_text=True)


def test_repeated_artifact_resolution_failures_pause_the_first_hm_for_new_sign_ins(
    app: Flask, two: TwoHms, ars: ArsServer, clock: MovableClock
) -> None:
    client = app.test_client()
    paused = sample("broker_hm_failover_total", hm="first", state="paused")
    _, pending, action = hand_off(client)
    assert action == two.first.sso_url
    for _ in range(2):
        refused = failed_resolution(client, two, pending)
        assert refused.status_code == 502 and "artifact_resolution_failed" in refused.get_data(as_text=True)
    # Two failures: the first HM still takes new sign-ins.
    assert hand_off(client)[2] == two.first.sso_url
    failed_resolution(client, two, pending)
    # The third in a row: new sign-ins go to the second for the pause; the sign-in under way stays
    # with the first (its artifact can only be resolved there).
    _, page, action = hand_off(client)
    assert action == two.second.sso_url
    assert sample("broker_hm_failover_total", hm="first", state="paused") == paused + 1
    assert "code" in redirect_parameters(at_second(two, ars, client, page, clock))
    status, metadata = readiness(client)
    assert status == 200 and metadata["hms"]["first"]["paused"] is True and metadata["state"] == "stale"

    clock.advance(timedelta(minutes=6))
    assert hand_off(client)[2] == two.first.sso_url
    assert "paused" not in readiness(client)[1]["hms"]["first"]


def test_a_failed_resolution_at_the_second_hm_is_not_retried_elsewhere(
    app: Flask, two: TwoHms, ars: ArsServer, clock: MovableClock
) -> None:
    client = app.test_client()
    clock.advance(METADATA_VALIDITY + timedelta(hours=1))
    _, page, action = hand_off(client)
    assert action == two.second.sso_url
    ars.failing = True
    refused = at_second(two, ars, client, page, clock)
    assert refused.status_code == 502 and "artifact_resolution_failed" in refused.get_data(as_text=True)
    ars.failing = False
    # The sign-in stays open for its genuine answer, from the same HM.
    (form,) = forms(page)
    assert ars.sp is not None
    received = read_post_request(form.fields, two.second, ars.sp, clock())
    delivery = respond(two.second, ars.sp, received, Scenario(), clock())
    assert delivery.artifact_handle is not None
    ars.artifacts[delivery.artifact_handle] = delivery.response
    assert "code" in redirect_parameters(client.get(f"/saml/acs?{urlencode(delivery.fields)}"))


def test_an_answer_signed_by_the_other_hm_is_refused(
    app: Flask, two: TwoHms, ars: ArsServer, clock: MovableClock
) -> None:
    """A sign-in sent to the first HM: an assertion the second HM's key signed, in the name of the
    first and delivered through the first's own artifact resolution, is refused; so is an artifact
    the second issued."""
    client = app.test_client()
    _, page, action = hand_off(client)
    assert action == two.first.sso_url
    (form,) = forms(page)
    assert ars.sp is not None
    received = read_post_request(form.fields, two.first, ars.sp, clock())
    impostor = dataclasses.replace(two.first, key=two.second.key)
    delivery = respond(impostor, ars.sp, received, Scenario(), clock())
    assert delivery.artifact_handle is not None
    with app.app_context():
        put_artifact(delivery.artifact_handle, delivery.response, clock() + timedelta(minutes=5))
        db.session.commit()
    refused = client.get(f"/saml/acs?{urlencode(delivery.fields)}")
    assert refused.status_code == 400 and "signature_invalid" in refused.get_data(as_text=True)

    from_second = respond(two.second, ars.sp, received, Scenario(), clock())
    assert from_second.artifact_handle is not None
    ars.artifacts[from_second.artifact_handle] = from_second.response
    refused = client.get(f"/saml/acs?{urlencode(from_second.fields)}")
    assert refused.status_code == 400 and "artifact_source_unknown" in refused.get_data(as_text=True)
    assert from_second.artifact_handle in ars.artifacts  # never sent to the second HM


def test_a_service_registered_with_the_second_hm_only_goes_there(
    app: Flask, two: TwoHms, clock: MovableClock
) -> None:
    hms: Hms = app.extensions["broker_hms"]
    service = app.extensions["broker"].registry().services[0]
    assert hms.choose(service, clock())[0] == "first"
    assert hms.choose(dataclasses.replace(service, hms=("second",)), clock())[0] == "second"
    assert hms.choose(dataclasses.replace(service, hms=("second", "first")), clock())[0] == "second"


def test_a_service_naming_an_hm_not_configured_is_refused(two: TwoHms) -> None:
    config: ConfigFile = two.settings.config
    text = config.path.read_text()
    assert config.parse(text).services
    named = re.sub(r"(\n  - slug: [^\n]+\n)", r"\1    hms: [third]\n", text, count=1)
    with pytest.raises(
        ConfigError, match=r"field 'hms' names third, not a configured HM \(BROKER_HMS: first, second\)"
    ):
        config.parse(named)


def test_refresh_fetches_every_hm_or_the_one_named(
    app: Flask, two: TwoHms, metadata_server: MetadataServer
) -> None:
    runner = app.test_cli_runner()
    fetches = metadata_server.fetches
    everyone = runner.invoke(args=["eherkenning", "refresh"])
    assert everyone.exit_code == 0, everyone.output
    lines = everyone.output.splitlines()
    assert lines[0].startswith(f"first: {metadata_server.url}: unchanged (signature verified")
    assert lines[1].startswith(f"second: {two.settings.saml.hms[1].metadata}: unchanged (signature verified")
    assert metadata_server.fetches == fetches + 1

    second = runner.invoke(args=["eherkenning", "refresh", "--hm", "second"])
    assert second.exit_code == 0 and second.output.startswith("second: ")
    assert metadata_server.fetches == fetches + 1  # the first's URL not asked

    unknown = runner.invoke(args=["eherkenning", "refresh", "--hm", "third"])
    assert unknown.exit_code == 2 and "'third' is not a configured HM (first, second)" in unknown.output

    metadata_server.status = 503
    failed = runner.invoke(args=["eherkenning", "refresh"])
    assert failed.exit_code == 1
    assert "first: " in failed.output and "stays in use" in failed.output
    assert "second: " in failed.output  # the other HM is refreshed all the same


def test_settings_for_several_hms(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    with pytest.raises(ConfigError, match="BROKER_HMS must list names"):
        load_settings(broker_environ(instance, BROKER_HMS="first,First"))
    with pytest.raises(ConfigError, match="BROKER_HM_METADATA is for one HM"):
        load_settings(broker_environ(instance, BROKER_HMS="a,b", BROKER_HM_METADATA="x.xml"))
    with pytest.raises(ConfigError, match="only one HM can be the built-in simulator"):
        load_settings(broker_environ(instance, BROKER_HMS="a,b"))
    with pytest.raises(ConfigError, match="BROKER_HM_B_METADATA must be set"):
        load_settings(
            broker_environ(instance, BROKER_HMS="a,b", BROKER_SIMULATOR="0", BROKER_HM_A_METADATA="x")
        )
    one = load_settings(broker_environ(instance)).saml
    assert [(hm.name, hm.metadata) for hm in one.configured_hms] == [("default", None)]
    ca = tmp_path / "second-ca.pem"
    ca.write_text("a CA bundle")
    two = load_settings(
        broker_environ(
            instance,
            BROKER_HMS="first,hm-two",
            BROKER_HM_HM_TWO_METADATA="x.xml",
            BROKER_HM_HM_TWO_TLS_CA=str(ca),
        )
    ).saml
    assert [(hm.name, hm.metadata, hm.tls_ca_bundle) for hm in two.configured_hms] == [
        ("first", None, None),
        ("hm-two", "x.xml", ca),
    ]
    assert two.hms[1].signer_setting == "BROKER_HM_HM_TWO_METADATA_SIGNER"


def test_two_workers_each_choose_by_the_same_metadata(two: TwoHms, clock: MovableClock) -> None:
    with apps_on(two.settings, clock, 2) as workers:
        clock.advance(METADATA_VALIDITY + timedelta(hours=1))
        assert [hand_off(worker.test_client())[2] for worker in workers] == [two.second.sso_url] * 2


def test_a_restart_keeps_each_hms_copy(
    two: TwoHms, clock: MovableClock, metadata_server: MetadataServer
) -> None:
    with apps_on(two.settings, clock) as (first_start,):
        assert first_start.test_cli_runner().invoke(args=["eherkenning", "refresh"]).exit_code == 0
    fetches = metadata_server.fetches
    restarted = create_app(two.settings, clock)
    assert metadata_server.fetches == fetches  # the first's copy came from the database
    assert restarted.extensions["broker_hms"].names == ("first", "second")


def test_an_answer_for_a_sign_in_sent_to_an_hm_no_longer_configured_is_refused(
    two: TwoHms, clock: MovableClock
) -> None:
    with apps_on(two.settings, clock) as (before,):
        portal, page, action = hand_off(before.test_client())
        assert action == two.first.sso_url
        at_first = portal.at_hm(page)
        assert at_first.status_code == 303
    without_first = dataclasses.replace(two.settings.saml, hms=two.settings.saml.hms[1:])
    with apps_on(dataclasses.replace(two.settings, saml=without_first), clock) as (after,):
        refused = Portal(after.test_client(), "ind-portal").back_at_broker(at_first)
        assert refused.status_code == 400 and "request_unknown" in refused.get_data(as_text=True)
        (reference,) = re.findall(r"<code>([0-9a-f]{12})</code>", refused.get_data(as_text=True))
        told = after.test_cli_runner().invoke(args=["eherkenning", "explain", reference]).output
    assert "the HM this sign-in was sent to (first) is not configured" in told


def test_a_sign_in_finished_at_the_establishment_picker_is_audited_with_its_hm(
    app: Flask, two: TwoHms, ars: ArsServer, clock: MovableClock
) -> None:
    client = app.test_client()
    clock.advance(METADATA_VALIDITY + timedelta(hours=1))
    _, page, action = hand_off(client, "olo-establishment")
    assert action == two.second.sso_url
    picker = at_second(two, ars, client, page, clock, Scenario(kvk_number=stand_in.SEVERAL))
    assert picker.status_code == 200 and 'type="radio"' in picker.get_data(as_text=True)
    (form,) = forms(picker)
    picked = client.post(
        "/oidc/establishment", data={**form.fields, "action": "pick", "establishment": "000052460101"}
    )
    assert "code" in redirect_parameters(picked)
    assert last_audit_record(app)["hm"] == two.second.entity_id
