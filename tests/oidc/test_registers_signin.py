"""Whole sign-ins through the simulator with the registers kept beside eHerkenning: local mandates
(required, or narrowing), organisation groups, and labels per person for a personal-account
portal; and each register read only where it can matter."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from broker import audit, models
from broker.extensions import db
from tests.conftest import MovableClock
from tests.oidc.portal import Portal, redirect_parameters
from tests.registers import LOCAL_REQUIRED_UUID, empty_registers, register_app
from tests.sent_sql import sent_sql, touches

REPRESENTED, REPRESENTATIVE = "12345678", "87654321"
SECOND, STOPPED, THIRD = "000052460102", "000052460104", "000052460103"
TABLES = ("local_mandate", "organisation_group", "subject_label")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Flask:
    return register_app(tmp_path_factory.mktemp("registers"), clock)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    """A test client, with every register empty before and after."""
    empty_registers(app)
    yield app.test_client()
    empty_registers(app)


class TableReads(Mapping[str, int]):
    """Statements naming each of TABLES, among those sent so far."""

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    def __getitem__(self, table: str) -> int:
        return sum(touches(sql, table) for sql in self.sent)

    def __iter__(self) -> Iterator[str]:
        return iter(TABLES)

    def __len__(self) -> int:
        return len(TABLES)

    def reset(self) -> None:
        del self.sent[:]


@pytest.fixture
def reads(app: Flask) -> Iterator[TableReads]:
    """How many statements a sign-in runs on each register's tables, counted as they are sent."""
    with sent_sql(app) as sent:
        yield TableReads(sent)


def record_mandate(app: Flask, service: str, establishment: str | None = None, **changes: Any) -> int:
    mandate = models.NewMandate(
        changes.get("represented", REPRESENTED),
        changes.get("representative", REPRESENTATIVE),
        service,
        establishment,
        changes.get("valid_from", date(2020, 1, 1)),
        changes.get("valid_to"),
        "contract 2026-17",
    )
    with app.app_context():
        mandate_id = models.add_mandate(mandate, datetime.now(UTC), models.MandateOrigin.ADDED)
        db.session.commit()
    return mandate_id


def as_representative(
    client: FlaskClient, client_id: str, scope: str = "openid kvk mandate acting_subject", **choices: str
) -> tuple[TestResponse, Portal]:
    portal = Portal(client, client_id)
    answer = portal.sign_in(
        scope, kvk=REPRESENTED, mandate="representative", intermediary=REPRESENTATIVE, **choices
    )
    return answer, portal


def claims_of(portal: Portal, answer: TestResponse) -> dict[str, Any]:
    params = redirect_parameters(answer)
    assert "code" in params, params
    tokens = portal.token(params["code"]).get_json()
    claims = portal.verify(tokens["id_token"])
    info = portal.userinfo(tokens["access_token"]).get_json()
    assert {name: info[name] for name in info} == {name: claims[name] for name in info}
    return claims


def refusal_of(answer: TestResponse) -> str:
    params = redirect_parameters(answer)
    assert "code" not in params
    assert params["error"] == "access_denied"
    return params["error_description"]


# --- local mandates ---------------------------------------------------------------------------------


def test_a_required_local_mandate_missing_refuses_the_representative(
    client: FlaskClient, reads: TableReads
) -> None:
    answer, _ = as_representative(client, "local-required")
    assert answer.status_code == 403
    text = html.unescape(answer.get_data(as_text=True))
    assert "Zij hebben nu niet vastgelegd dat uw organisatie voor dit bedrijf optreedt." in text
    assert refusal_of(answer) == (
        "no_local_mandate: this service admits a representative only with a local mandate recorded by"
        " its administrators: none is recorded for the represented company and the representative"
    )
    assert reads["local_mandate"] == 1


def test_a_required_local_mandate_present_admits_the_representative(app: Flask, client: FlaskClient) -> None:
    record_mandate(app, "local-required")
    answer, portal = as_representative(client, "local-required")
    claims = claims_of(portal, answer)
    assert claims["mandate"] == {
        "kind": "representative",
        "service_uuid": LOCAL_REQUIRED_UUID,
        "intermediary_kvk_number": REPRESENTATIVE,
        "local_mandate": True,
    }
    assert "establishment_number" not in claims


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        (
            {"representative": "11112222"},
            "none is recorded for the represented company and the representative",
        ),
        ({"valid_to": date(2025, 12, 31)}, "the local mandate ended on 2025-12-31"),
        ({"valid_from": date(2099, 1, 1)}, "the local mandate starts on 2099-01-01"),
    ],
    ids=["another-pair", "ended", "not-yet"],
)
def test_a_local_mandate_that_does_not_hold_now_refuses(
    app: Flask, client: FlaskClient, changes: dict[str, Any], why: str
) -> None:
    record_mandate(app, "local-required", **changes)
    answer, _ = as_representative(client, "local-required")
    assert refusal_of(answer).endswith(why)


def test_a_revoked_local_mandate_refuses_from_the_moment_it_is_revoked(
    app: Flask, client: FlaskClient, clock: MovableClock
) -> None:
    mandate_id = record_mandate(app, "local-required")
    assert "code" in redirect_parameters(as_representative(client, "local-required")[0])
    result = app.test_cli_runner().invoke(args=["mandates", "revoke", str(mandate_id)])
    assert result.exit_code == 0, result.output
    # A revocation holds for sign-ins authenticated after it (the assertion's time, to the second).
    clock.advance(timedelta(seconds=1))
    answer, _ = as_representative(client, "local-required")
    assert refusal_of(answer).startswith("no_local_mandate: ")
    assert "the local mandate was revoked on " in refusal_of(answer)


def test_own_company_needs_no_local_mandate_and_reads_none(client: FlaskClient, reads: TableReads) -> None:
    portal = Portal(client, "local-required")
    claims = claims_of(portal, portal.sign_in(kvk=REPRESENTED, mandate="own"))
    assert claims["mandate"]["kind"] == "own_company"
    assert "local_mandate" not in claims["mandate"]
    assert reads == dict.fromkeys(TABLES, 0)


def test_a_local_mandate_for_another_service_counts_for_nothing(app: Flask, client: FlaskClient) -> None:
    record_mandate(app, "local-narrow")
    assert refusal_of(as_representative(client, "local-required")[0]).startswith("no_local_mandate: ")


def test_narrowing_without_a_local_mandate_admits_as_before(client: FlaskClient, reads: TableReads) -> None:
    answer, portal = as_representative(client, "local-narrow")
    claims = claims_of(portal, answer)
    assert "local_mandate" not in claims["mandate"]
    assert "establishment_number" not in claims
    assert reads["local_mandate"] == 1


def test_a_local_mandate_s_establishment_restricts_further(app: Flask, client: FlaskClient) -> None:
    record_mandate(app, "local-narrow", SECOND)
    answer, portal = as_representative(client, "local-narrow")
    claims = claims_of(portal, answer)
    # A restriction, as the assertion's: `mandate` (it limits what the person may do).
    assert (claims["establishment_number"], claims["establishment_source"]) == (SECOND, "mandate")
    assert claims["mandate"]["local_mandate"] is True


def test_a_local_mandate_never_widens_the_assertion_s_restriction(app: Flask, client: FlaskClient) -> None:
    record_mandate(app, "local-narrow", SECOND)
    answer, _ = as_representative(client, "local-narrow", establishment=THIRD)
    assert answer.status_code == 403
    text = html.unescape(answer.get_data(as_text=True))
    assert "Uw machtiging in eHerkenning is voor een andere vestiging" in text
    assert refusal_of(answer) == (
        f"local_mandate_conflict: the local mandate is for establishment {SECOND}, the mandate in"
        f" eHerkenning for {THIRD}"
    )
    # The same establishment in both: admitted, restricted to it.
    answer, portal = as_representative(client, "local-narrow", establishment=SECOND)
    assert claims_of(portal, answer)["establishment_number"] == SECOND


def test_where_an_establishment_is_required_the_local_mandate_s_is_confirmed_in_the_register(
    app: Flask, client: FlaskClient
) -> None:
    record_mandate(app, "local-narrow-establishment", SECOND)
    answer, portal = as_representative(client, "local-establishment")
    # No picker: the local mandate fixes the establishment, KvK confirms it.
    claims = claims_of(portal, answer)
    assert (claims["establishment_number"], claims["establishment_source"]) == (SECOND, "mandate")


def test_a_local_mandate_for_a_stopped_establishment_is_refused(app: Flask, client: FlaskClient) -> None:
    record_mandate(app, "local-narrow-establishment", STOPPED)
    answer, _ = as_representative(client, "local-establishment")
    assert refusal_of(answer).startswith("establishment_stopped: ")


def test_the_refusal_is_in_the_audit_trail(app: Flask, client: FlaskClient) -> None:
    answer, _ = as_representative(client, "local-required")
    assert answer.status_code == 403
    today = datetime.now(UTC).date()
    with app.app_context():
        last = json.loads(list(audit.export(today - timedelta(days=1), today + timedelta(days=1)))[-1])
    assert (last["outcome"], last["reason"], last["client_id"]) == (
        "refused",
        "no_local_mandate",
        "local-required",
    )
    assert last["intermediary"] == {"type": "kvk", "value": REPRESENTATIVE}


# --- organisation groups -----------------------------------------------------------------------------


def cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_group_members_from_two_kvk_numbers_carry_the_same_organisation_group(
    app: Flask, client: FlaskClient, reads: TableReads
) -> None:
    cli(app, "groups", "add", "van-dijk", "--name", "Van Dijk Groep")
    for number in ("12345678", "24444001"):
        cli(app, "groups", "add-member", "van-dijk", number)
    reads.reset()
    seen = []
    for number in ("12345678", "24444001"):
        portal = Portal(client, "ind-portal")
        claims = claims_of(portal, portal.sign_in("openid kvk organisation", kvk=number))
        assert claims["kvk_number"] == number
        seen.append(claims["organisation_group"])
    assert seen == [{"id": "van-dijk", "name": "Van Dijk Groep"}] * 2
    assert reads["organisation_group"] == 2
    # A company in no group: no claim.
    portal = Portal(client, "ind-portal")
    assert "organisation_group" not in claims_of(
        portal, portal.sign_in("openid kvk organisation", kvk="11112222")
    )


def test_the_group_is_read_and_released_only_for_the_scope(
    app: Flask, client: FlaskClient, reads: TableReads
) -> None:
    cli(app, "groups", "add", "van-dijk", "--name", "Van Dijk Groep")
    cli(app, "groups", "add-member", "van-dijk", REPRESENTED)
    reads.reset()
    portal = Portal(client, "ind-portal")
    claims = claims_of(portal, portal.sign_in(kvk=REPRESENTED))
    assert "organisation_group" not in claims
    assert reads["organisation_group"] == 0
    # A client not allowed the scope neither, even when it asks.
    portal = Portal(client, "olo-public", "none")
    claims = claims_of(portal, portal.sign_in("openid kvk organisation", kvk=REPRESENTED))
    assert "organisation_group" not in claims
    assert reads["organisation_group"] == 0


# --- a personal-account portal --------------------------------------------------------------------------


def test_a_personal_account_portal_refuses_a_representative(client: FlaskClient) -> None:
    answer, _ = as_representative(client, "hr-viewer", "openid kvk department")
    assert refusal_of(answer).startswith("mandate_not_admitted: ")


def test_a_personal_account_portal_gets_the_person_s_label(app: Flask, client: FlaskClient) -> None:
    def sign_in(client_id: str = "hr-viewer", user: str = "anna") -> dict[str, Any]:
        portal = Portal(client, client_id)
        return claims_of(portal, portal.sign_in("openid kvk department", kvk=REPRESENTED, user=user))

    first = sign_in()
    assert "department" not in first
    cli(app, "labels", "set", "hr-viewer", first["sub"], "Burgerzaken")
    again = sign_in()
    # `sub` is the person's: the same at every sign-in, another for a colleague or another portal.
    assert again["sub"] == first["sub"]
    assert again["department"] == "Burgerzaken"
    colleague = sign_in(user="bert")
    assert colleague["sub"] != first["sub"]
    assert "department" not in colleague
    elsewhere = sign_in("hr-viewer-2")
    assert elsewhere["sub"] != first["sub"]
    assert "department" not in elsewhere


def test_a_portal_of_several_services_gets_the_label_at_its_personal_one(
    app: Flask, client: FlaskClient
) -> None:
    def sign_in(service: str) -> dict[str, Any]:
        portal = Portal(client, "viewer-and-desk")
        return claims_of(portal, portal.sign_in(f"openid kvk department service:{service}", kvk=REPRESENTED))

    sub = sign_in("hr-viewer")["sub"]
    cli(app, "labels", "set", "viewer-and-desk", sub, "Burgerzaken")
    assert sign_in("hr-viewer")["department"] == "Burgerzaken"
    desk = sign_in("omgevingsloket")
    assert desk["sub"] == sub
    assert "department" not in desk


def test_the_label_is_read_only_for_the_scope_at_a_personal_portal(
    app: Flask, client: FlaskClient, reads: TableReads
) -> None:
    portal = Portal(client, "hr-viewer")
    sub = claims_of(portal, portal.sign_in("openid kvk", kvk=REPRESENTED))["sub"]
    cli(app, "labels", "set", "hr-viewer", sub, "Burgerzaken")
    reads.reset()
    portal = Portal(client, "hr-viewer")
    assert "department" not in claims_of(portal, portal.sign_in("openid kvk", kvk=REPRESENTED))
    # Another profile's client asking the scope: nothing read, nothing released.
    portal = Portal(client, "ind-portal")
    assert "department" not in claims_of(portal, portal.sign_in("openid kvk department", kvk=REPRESENTED))
    assert reads["subject_label"] == 0
    portal = Portal(client, "hr-viewer")
    assert (
        claims_of(portal, portal.sign_in("openid kvk department", kvk=REPRESENTED))["department"]
        == "Burgerzaken"
    )
    assert reads["subject_label"] == 1
