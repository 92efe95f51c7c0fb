"""Whole sign-ins for services that admit a representative only for a recognised sponsor: the
represented company in the register (in the service's categories, on the day) or refused; and the
register read only where it can matter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from broker import models
from broker.decide import SponsorCategory
from broker.extensions import db
from tests.oidc.portal import Portal, redirect_parameters
from tests.sent_sql import sent_sql, touches

REPRESENTED, INTERMEDIARY = "24444001", "87654321"
SPONSOR_UUID = "7e3a5c1d-2b4f-4d6e-8a9c-0b1d2e3f4a06"
LABOUR, STUDY = SponsorCategory.LABOUR, SponsorCategory.STUDY
OPEN = (date(2020, 1, 1), None)
ENDED = (date(2020, 1, 1), date(2024, 12, 31))
NOT_YET = (date(2099, 1, 1), None)


@pytest.fixture
def register(app: Flask) -> Iterator[None]:
    """An empty register of recognised sponsors, again empty after the test."""

    def empty() -> None:
        with app.app_context():
            db.session.execute(models.RecognisedSponsor.__table__.delete())
            db.session.commit()

    empty()
    yield
    empty()


def recognise(app: Flask, category: SponsorCategory, period: tuple[date, date | None]) -> None:
    with app.app_context():
        now = datetime.now(UTC)
        models.add_sponsor(
            models.Sponsor(REPRESENTED, category, "Bakkerij Van Dijk", *period, now, models.Origin.ADDED)
        )
        db.session.commit()


def as_representative(client: FlaskClient, client_id: str) -> tuple[dict[str, str], Portal]:
    portal = Portal(client, client_id)
    return redirect_parameters(
        portal.sign_in(kvk=REPRESENTED, mandate="representative", intermediary=INTERMEDIARY)
    ), portal


@pytest.mark.parametrize(
    ("client_id", "registered"),
    [
        ("ind-sponsors", [(LABOUR, OPEN)]),
        ("ind-sponsors", [(STUDY, ENDED), (LABOUR, OPEN)]),
        ("ind-labour", [(STUDY, OPEN), (LABOUR, OPEN)]),
    ],
    ids=["registered", "one-registration-valid", "in-the-service-category"],
)
def test_a_representative_of_a_recognised_sponsor_is_admitted(
    app: Flask, client: FlaskClient, register: None, client_id: str, registered: list
) -> None:
    for category, period in registered:
        recognise(app, category, period)
    params, portal = as_representative(client, client_id)
    tokens = portal.token(params["code"]).get_json()
    claims = portal.verify(tokens["id_token"])
    assert claims["kvk_number"] == REPRESENTED
    assert claims["mandate"]["kind"] == "recognised_sponsor"
    assert claims["mandate"]["intermediary_kvk_number"] == INTERMEDIARY
    assert portal.userinfo(tokens["access_token"]).get_json()["mandate"] == claims["mandate"]


@pytest.mark.parametrize(
    ("client_id", "registered", "why"),
    [
        ("ind-sponsors", [], "the represented company is not in the register of recognised sponsors"),
        ("ind-sponsors", [(LABOUR, ENDED)], "the represented company's recognition ended on 2024-12-31"),
        ("ind-sponsors", [(LABOUR, NOT_YET)], "the represented company's recognition starts on 2099-01-01"),
        ("ind-labour", [(STUDY, OPEN)], "the represented company is recognised for study, not for labour"),
    ],
    ids=["not-registered", "expired", "not-yet", "other-category"],
)
def test_a_representative_of_a_company_not_recognised_is_refused(
    app: Flask, client: FlaskClient, register: None, client_id: str, registered: list, why: str
) -> None:
    for category, period in registered:
        recognise(app, category, period)
    params, portal = as_representative(client, client_id)
    assert "code" not in params
    assert params["error"] == "access_denied"
    assert params["state"] == portal.state
    assert params["error_description"] == (
        "not_a_recognised_sponsor: "
        f"this service admits a representative only for a recognised sponsor (erkend referent): {why}"
    )


def test_own_company_is_admitted_as_before(client: FlaskClient, register: None) -> None:
    portal = Portal(client, "ind-sponsors")
    params = redirect_parameters(portal.sign_in(kvk=REPRESENTED, mandate="own"))
    claims = portal.verify(portal.token(params["code"]).get_json()["id_token"])
    assert claims["mandate"] == {"kind": "own_company", "service_uuid": SPONSOR_UUID}


class RegisterReads:
    """The statements sent so far that name the register's table."""

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    def __len__(self) -> int:
        return sum(touches(sql, "recognised_sponsor") for sql in self.sent)


@pytest.fixture
def register_reads(app: Flask) -> Iterator[RegisterReads]:
    """The statements that touch the register, as a sign-in runs them."""
    with sent_sql(app) as sent:
        yield RegisterReads(sent)


@pytest.mark.parametrize(
    ("client_id", "mandate", "reads"),
    [
        ("ind-sponsors", "own", 0),
        ("ind-portal", "representative", 0),
        ("ind-sponsors", "representative", 1),
    ],
    ids=["own-company", "representatives-admitted", "sponsors-only"],
)
def test_the_register_is_read_only_where_it_can_matter(
    client: FlaskClient,
    register: None,
    register_reads: RegisterReads,
    client_id: str,
    mandate: str,
    reads: int,
) -> None:
    Portal(client, client_id).sign_in(kvk=REPRESENTED, mandate=mandate, intermediary=INTERMEDIARY)
    assert len(register_reads) == reads
