"""The register with its cache: answers kept, used only while the API is unavailable, purged when old."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
import responses
from flask import Flask
from flask.testing import FlaskClient

from broker import models
from broker.decide import (
    Establishment,
    EstablishmentChoice,
    EstablishmentSource,
    RefusalReason,
    Refused,
    RegisterLookup,
)
from broker.extensions import db
from broker.handelsregister import Handelsregister, settle_from_register
from broker.kvk import KvkClient, KvkError, KvkFailure, requests_transport, stand_in
from tests.conftest import MovableClock
from tests.kvk.test_client import BASE, KVK, LIST_URL, PROFILE_URL, VESTIGING, listing, profile

SECOND = VESTIGING | {"vestigingsnummer": "000012345679", "indHoofdvestiging": "Nee"}


@pytest.fixture
def register(app: Flask, clock: MovableClock) -> Iterator[Handelsregister]:
    with app.app_context():
        db.session.execute(models.KvkAnswer.__table__.delete())
        db.session.commit()
        yield Handelsregister(
            KvkClient(BASE, "key", requests_transport(2, 65536)), timedelta(hours=24), clock
        )
        db.session.rollback()


@responses.activate
def test_an_answer_is_asked_afresh_and_kept(register: Handelsregister) -> None:
    responses.get(LIST_URL, json=listing(VESTIGING, SECOND))
    assert len(register.establishments(KVK)) == 2
    responses.get(LIST_URL, json=listing(VESTIGING))
    assert len(register.establishments(KVK)) == 1, "a fresh answer wins over the kept one"
    assert len(responses.calls) == 2


@pytest.mark.parametrize(
    "outage",
    [
        {"json": {"fout": [{"code": "IPD1002"}]}, "status": 500},
        {"json": {"fout": [{"code": "IPD1003"}]}, "status": 500},
        {"status": 502},
        {"body": requests.ReadTimeout("slow")},
        {"body": b"<html>maintenance</html>", "status": 200},
    ],
    ids=["IPD1002", "IPD1003", "502", "timeout", "not-json"],
)
@responses.activate
def test_a_kept_answer_stands_in_while_the_api_is_unavailable(
    register: Handelsregister, clock: MovableClock, outage: dict
) -> None:
    responses.get(LIST_URL, json=listing(VESTIGING, SECOND))
    register.establishments(KVK)
    db.session.commit()
    responses.replace(responses.GET, LIST_URL, **outage)
    clock.advance(timedelta(hours=23))
    assert len(register.establishments(KVK)) == 2
    clock.advance(timedelta(hours=2))
    with pytest.raises(KvkError) as down:
        register.establishments(KVK)
    assert down.value.failure.passing


@responses.activate
def test_without_a_kept_answer_an_outage_is_an_error(register: Handelsregister) -> None:
    responses.get(LIST_URL, json={"fout": [{"code": "IPD1002"}]}, status=500)
    with pytest.raises(KvkError) as down:
        register.establishments(KVK)
    assert down.value.failure is KvkFailure.UNAVAILABLE


@responses.activate
def test_a_kept_answer_never_overrides_the_registers_no(register: Handelsregister) -> None:
    responses.get(LIST_URL, json=listing(VESTIGING))
    register.establishments(KVK)
    responses.replace(responses.GET, LIST_URL, json={"fout": [{"code": "IPD0005"}]}, status=404)
    with pytest.raises(KvkError) as unknown:
        register.establishments(KVK)
    assert unknown.value.failure is KvkFailure.NOT_FOUND


@pytest.mark.parametrize(
    ("lookup", "answers", "settled"),
    [
        (
            RegisterLookup(KVK),
            {LIST_URL: listing()},
            Establishment("0000" + KVK, EstablishmentSource.NO_ESTABLISHMENT),
        ),
        (
            RegisterLookup(KVK),
            {LIST_URL: listing(VESTIGING)},
            Establishment("000012345678", EstablishmentSource.SELECTED),
        ),
        (RegisterLookup(KVK), {LIST_URL: listing(VESTIGING, SECOND)}, EstablishmentChoice),
        (
            RegisterLookup(KVK),
            {LIST_URL: ({"fout": [{"code": "IPD0005"}]}, 404)},
            RefusalReason.COMPANY_NOT_IN_REGISTER,
        ),
        (
            RegisterLookup(KVK),
            {LIST_URL: ({"fout": [{"code": "IPD0004"}]}, 400)},
            RefusalReason.COMPANY_NOT_IN_REGISTER,
        ),
        (
            RegisterLookup(KVK, "000012345678"),
            {PROFILE_URL: profile()},
            Establishment("000012345678", EstablishmentSource.MANDATE),
        ),
        (
            RegisterLookup(KVK, "000012345678"),
            {PROFILE_URL: profile(materieleRegistratie={"datumEinde": "20240630"})},
            RefusalReason.ESTABLISHMENT_STOPPED,
        ),
        (
            RegisterLookup(KVK, "000012345678"),
            {PROFILE_URL: ({"fout": [{"code": "IPD0005"}]}, 404)},
            RefusalReason.ESTABLISHMENT_NOT_OF_COMPANY,
        ),
    ],
    ids=["none", "one", "several", "no-product", "invalid", "restriction", "stopped", "unknown-restriction"],
)
@responses.activate
def test_settling_a_lookup_from_the_register(
    register: Handelsregister, lookup: RegisterLookup, answers: dict, settled: object
) -> None:
    for url, answer in answers.items():
        body, status = answer if isinstance(answer, tuple) else (answer, 200)
        responses.get(url, json=body, status=status)
    outcome = settle_from_register(register, lookup)
    if isinstance(settled, RefusalReason):
        assert isinstance(outcome, Refused)
        assert outcome.reason is settled
    elif settled is EstablishmentChoice:
        assert isinstance(outcome, EstablishmentChoice)
        assert outcome.numbers == ("000012345678", "000012345679")
    else:
        assert outcome == settled


@responses.activate
def test_purge_removes_answers_too_old_to_serve(register: Handelsregister, clock: MovableClock) -> None:
    responses.get(LIST_URL, json=listing(VESTIGING))
    register.establishments(KVK)
    db.session.commit()
    models.purge_expired(clock() + timedelta(hours=23))
    assert models.cached_kvk_answer(f"basisprofielen/{KVK}/vestigingen", clock()) is not None
    models.purge_expired(clock() + timedelta(hours=25))
    assert db.session.execute(models.KvkAnswer.__table__.select()).first() is None


def test_the_stand_in_is_served_over_http_too(client: FlaskClient) -> None:
    answer = client.get(f"/simulator/kvk/api/v1/basisprofielen/{stand_in.SEVERAL}/vestigingen")
    assert answer.status_code == 200
    assert answer.get_json()["totaalAantalVestigingen"] == 3
    stopped = client.get("/simulator/kvk/api/v1/vestigingsprofielen/000052460104").get_json()
    assert stopped["materieleRegistratie"]["datumEinde"] == "20240630"
    unknown = client.get("/simulator/kvk/api/v1/basisprofielen/87654321/vestigingen")
    assert (unknown.status_code, unknown.get_json()["fout"][0]["code"]) == (404, "IPD0005")
