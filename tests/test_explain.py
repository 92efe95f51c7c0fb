"""`flask eherkenning explain REFERENCE`: a refused answer's check, with what it expected and
what arrived, told from what the broker kept. The answers are the simulator's, really signed,
made wrong on purpose, and posted to the ACS as a browser would."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from broker import audit
from broker.extensions import db
from broker.models import CheckFailure
from broker.models import audit as store
from config.dev_keys import generate_key_pair
from saml.simulator import ReceivedRequest, Scenario, ServiceProvider, SimulatorHm, read_post_request, respond
from saml.xml import format_instant
from tests.conftest import MovableClock
from tests.oidc.portal import Portal
from tests.web.browser import forms

ENTITY_ID = "http://localhost/saml/metadata"
ACS = "http://localhost/saml/acs"


@dataclasses.dataclass(frozen=True)
class Sent:
    """A sign-in handed off to the simulator: the request as it read it, and who we are to it."""

    received: ReceivedRequest
    hm: SimulatorHm
    sp: ServiceProvider


def sent(app: Flask, client: FlaskClient) -> Sent:
    page = Portal(client, "ind-portal").authorize()
    (form,) = forms(page)
    state = app.extensions["broker"]
    now = state.upstream.clock()
    sp = ServiceProvider.from_settings(state.upstream.saml(now), state.registry().services, now)
    return Sent(read_post_request(form.fields, state.simulator, sp, now), state.simulator, sp)


def refused(
    client: FlaskClient, clock: MovableClock, signin: Sent, hm: SimulatorHm | None = None, **changes: object
) -> str:
    """Post the simulator's signed answer, made by `hm` for a request changed by `changes`; the
    reference on the refusal page."""
    sp = dataclasses.replace(signin.sp, **{k: v for k, v in changes.items() if k == "entity_id"})
    received = dataclasses.replace(signin.received, **{k: v for k, v in changes.items() if k == "acs_url"})
    delivery = respond(hm or signin.hm, sp, received, Scenario(), clock())
    answer = client.post("/saml/acs", data=dict(delivery.fields))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    (reference,) = re.findall(r"<code>([0-9a-f]{12})</code>", answer.get_data(as_text=True))
    return reference


def explain(app: Flask, reference: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["eherkenning", "explain", reference])
    return result.exit_code, result.output


def test_a_wrong_audience(post_app: Flask, post_client: FlaskClient, clock: MovableClock) -> None:
    signin = sent(post_app, post_client)
    reference = refused(post_client, clock, signin, entity_id="https://other-sp.example/metadata")
    code, output = explain(post_app, reference)
    assert code == 0, output
    assert f"reference {reference} (sign-in {signin.received.id}) at {format_instant(clock())}" in output
    assert "failed: audience_mismatch (assertion is not meant for us)" in output
    assert "check     Conditions Audience" in output
    assert f"expected  {ENTITY_ID}\n" in output
    assert "received  https://other-sp.example/metadata\n" in output
    assert (
        "what to do: The assertion is meant for another service provider: check BROKER_SAML_ENTITY_ID"
        in output
    )


def test_a_wrong_issuer(post_app: Flask, post_client: FlaskClient, clock: MovableClock) -> None:
    signin = sent(post_app, post_client)
    impostor = dataclasses.replace(signin.hm, entity_id="https://impostor.example/metadata")
    reference = refused(post_client, clock, signin, hm=impostor)
    code, output = explain(post_app, reference)
    assert code == 0, output
    assert "failed: issuer_mismatch (Response Issuer is not the HM)" in output
    assert f"expected  {signin.hm.entity_id}\n" in output
    assert "received  https://impostor.example/metadata\n" in output


def test_a_wrong_destination(post_app: Flask, post_client: FlaskClient, clock: MovableClock) -> None:
    signin = sent(post_app, post_client)
    reference = refused(post_client, clock, signin, acs_url="https://elsewhere.example/saml/acs")
    code, output = explain(post_app, reference)
    assert code == 0, output
    assert "failed: destination_mismatch" in output
    assert "check     Response Destination" in output
    assert f"expected  {ACS}\n" in output
    assert "received  https://elsewhere.example/saml/acs\n" in output
    assert "check BROKER_BASE_URL" in output


def test_an_expired_answer(post_app: Flask, post_client: FlaskClient, clock: MovableClock) -> None:
    signin = sent(post_app, post_client)
    made_at = clock()
    delivery = respond(signin.hm, signin.sp, signin.received, Scenario(), made_at)
    clock.advance(timedelta(minutes=10))  # past the answer's window and the skew, within the request's life
    answer = post_client.post("/saml/acs", data=dict(delivery.fields))
    assert answer.status_code == 400
    (reference,) = re.findall(r"<code>([0-9a-f]{12})</code>", answer.get_data(as_text=True))
    code, output = explain(post_app, reference)
    assert code == 0, output
    assert "failed: expired (SubjectConfirmationData has expired)" in output
    assert "check         SubjectConfirmationData NotBefore/NotOnOrAfter" in output
    assert f"our clock     {format_instant(clock())}" in output
    assert re.search(r"NotOnOrAfter  \d{4}-\d\d-\d\dT", output)
    assert "leeway        0:02:00" in output
    assert "Compare the broker's clock with the HM's" in output


def test_explained_by_the_sign_ins_reference_too(
    post_app: Flask, post_client: FlaskClient, clock: MovableClock
) -> None:
    signin = sent(post_app, post_client)
    first = refused(post_client, clock, signin, entity_id="https://other-sp.example/metadata")
    second = refused(post_client, clock, signin, acs_url="https://elsewhere.example/saml/acs")
    code, output = explain(post_app, signin.received.id)
    assert code == 0, output
    assert output.index(f"reference {first}") < output.index(f"reference {second}")


def test_what_is_kept_names_no_person(post_app: Flask, post_client: FlaskClient, clock: MovableClock) -> None:
    signin = sent(post_app, post_client)
    reference = refused(post_client, clock, signin, entity_id="https://other-sp.example/metadata")
    with post_app.app_context():
        row = db.session.scalars(select(CheckFailure).where(CheckFailure.reference == reference)).one()
        kept = json.dumps([row.reason, row.detail, row.facts, row.sign_in])
    assert "12345678" not in kept  # the simulator's KvK number


def test_an_unknown_reference_fails_clearly(post_app: Flask) -> None:
    code, output = explain(post_app, "0123456789ab")
    assert code == 1
    assert "Error: nothing is kept under '0123456789ab': not a refused sign-in's reference" in output
    assert "or older than 30 days" in output


def test_kept_failures_are_purged_after_their_retention(
    post_app: Flask, post_client: FlaskClient, clock: MovableClock
) -> None:
    signin = sent(post_app, post_client)
    reference = refused(post_client, clock, signin, entity_id="https://other-sp.example/metadata")
    clock.advance(timedelta(days=29))
    assert post_app.test_cli_runner().invoke(args=["purge"]).exit_code == 0
    assert explain(post_app, reference)[0] == 0
    clock.advance(timedelta(days=2))
    assert post_app.test_cli_runner().invoke(args=["purge"]).exit_code == 0
    assert explain(post_app, reference)[0] == 1


def test_a_signature_by_another_key(post_app: Flask, post_client: FlaskClient, clock: MovableClock) -> None:
    signin = sent(post_app, post_client)
    forger = dataclasses.replace(signin.hm, key=generate_key_pair("forger"))
    reference = refused(post_client, clock, signin, hm=forger)
    code, output = explain(post_app, reference)
    assert code == 0, output
    assert "failed: signature_invalid" in output
    assert "refresh the metadata" in output


def test_a_sign_in_refused_to_the_portal_is_told_from_the_audit_trail(
    post_app: Flask, post_client: FlaskClient
) -> None:
    answer = Portal(post_client, "ind-portal").sign_in(loa="loa2")  # the service asks loa3
    assert answer.status_code == 403  # the refusal page, naming the audit record's reference
    with post_app.app_context():
        record = audit.exported(list(store.records_up_to(store.chain().seq))[-1])
    assert record["reason"] == "loa_too_low"
    assert record["reference"] in answer.get_data(as_text=True)
    code, output = explain(post_app, record["reference"])
    assert code == 0, output
    assert f"reference {record['reference']} at {record['at']}: refused (loa_too_low)" in output
    assert "  client   ind-portal\n" in output
    assert "  HM       http://localhost/simulator/metadata\n" in output
    assert "what to do: The person signed in at too low a level for the service: nothing to fix." in output
    assert "12345678" not in output


def test_what_the_message_carried_cannot_drive_the_terminal(
    post_app: Flask, post_client: FlaskClient, clock: MovableClock
) -> None:
    signin = sent(post_app, post_client)
    impostor = dataclasses.replace(signin.hm, entity_id="https://impostor.example/\u202eatadatem")
    code, output = explain(post_app, refused(post_client, clock, signin, hm=impostor))
    assert code == 0, output
    assert "received  https://impostor.example/\\u202eatadatem\n" in output
    assert "\u202e" not in output
