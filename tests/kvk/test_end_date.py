"""An establishment's `datumEinde` as the sign-in reads it: stopped means ended on or before today,
in the Dutch calendar (Europe/Amsterdam); an end still to come leaves it active until then."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import responses
from flask import Flask

from broker import models
from broker.decide import Establishment, EstablishmentSource, RefusalReason, Refused, RegisterLookup
from broker.extensions import db
from broker.handelsregister import Handelsregister, settle_from_register
from broker.kvk import KvkClient, requests_transport
from tests.conftest import MovableClock
from tests.kvk.test_client import BASE, KVK, PROFILE_URL, profile

RESTRICTION = "000012345678"
# 22:30 UTC on 30 June is 00:30 on 1 July in Amsterdam (summer time): the Dutch day is 1 July.
LATE_EVENING_UTC = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)
DUTCH_TODAY = date(2026, 7, 1)


@pytest.fixture
def register(app: Flask) -> Iterator[Handelsregister]:
    clock = MovableClock()
    clock.moment = LATE_EVENING_UTC
    with app.app_context():
        db.session.execute(models.KvkAnswer.__table__.delete())
        db.session.commit()
        yield Handelsregister(
            KvkClient(BASE, "key", requests_transport(2, 65536)), timedelta(hours=24), clock
        )
        db.session.rollback()


@pytest.mark.parametrize(
    ("ended", "stopped"),
    [
        (DUTCH_TODAY - timedelta(days=1), True),
        (DUTCH_TODAY, True),
        (DUTCH_TODAY + timedelta(days=1), False),
        (date(2099, 12, 31), False),
    ],
    ids=["yesterday", "today-in-amsterdam", "tomorrow", "years-ahead"],
)
@responses.activate
def test_a_restriction_has_stopped_only_once_its_end_date_has_come(
    register: Handelsregister, ended: date, stopped: bool
) -> None:
    registration = {"datumAanvang": "20100101", "datumEinde": ended.strftime("%Y%m%d")}
    responses.get(PROFILE_URL, json=profile(materieleRegistratie=registration))
    outcome = settle_from_register(register, RegisterLookup(KVK, RESTRICTION))
    if stopped:
        assert isinstance(outcome, Refused)
        assert outcome.reason is RefusalReason.ESTABLISHMENT_STOPPED
    else:
        assert outcome == Establishment(RESTRICTION, EstablishmentSource.MANDATE)
