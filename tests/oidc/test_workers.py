"""Any worker finishes what another started: every step of a sign-in goes to another app on the same
database, as another worker would be, with no cookie carried between them: the flow state lives in
the database, not in a worker or the browser."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from broker.kvk import stand_in
from config import Settings
from tests.conftest import MovableClock, apps_on, postgres_url
from tests.oidc.portal import Portal, redirect_parameters
from tests.web.browser import forms


class Workers:
    """Test clients of several apps on one database, taking requests in turn, each its own cookie
    jar: as a browser and a portal meet whichever worker a load balancer picks."""

    def __init__(self, apps: list[Flask]) -> None:
        self.turns: Iterator[FlaskClient] = itertools.cycle([app.test_client() for app in apps])

    def get(self, *args: Any, **kwargs: Any) -> TestResponse:
        return next(self.turns).get(*args, **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> TestResponse:
        return next(self.turns).post(*args, **kwargs)


@pytest.fixture(params=["sqlite", "postgresql"])
def workers(
    request: pytest.FixtureRequest, settings: Settings, clock: MovableClock, tmp_path: Path
) -> Iterator[Workers]:
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}" if request.param == "sqlite" else postgres_url()
    with apps_on(dataclasses.replace(settings, database_url=url), clock, count=2) as apps:
        yield Workers(apps)


def test_each_step_on_another_worker_completes_the_sign_in(workers: Workers) -> None:
    """authorize, simulator, ACS, token, JWKS and userinfo: no two steps in a row on the same app."""
    portal = Portal(workers, "ind-portal")
    code = redirect_parameters(portal.sign_in(mandate="representative"))["code"]
    tokens = portal.token(code).get_json()
    claims = portal.verify(tokens["id_token"])
    assert (claims["kvk_number"], claims["mandate"]["kind"]) == ("12345678", "representative")
    assert portal.userinfo(tokens["access_token"]).get_json()["sub"] == claims["sub"]
    # The code was redeemed at the other worker: there too it is used up.
    assert portal.token(code).get_json()["error"] == "invalid_grant"


def test_the_establishment_is_picked_at_another_worker_than_the_one_that_offered_it(
    workers: Workers,
) -> None:
    portal = Portal(workers, "olo-establishment")
    page = portal.sign_in(kvk=stand_in.SEVERAL)
    assert page.status_code == 200, page.get_data(as_text=True)[-1500:]
    (form,) = forms(page)
    chosen = {"choice": form.fields["choice"], "action": "pick", "establishment": "000052460102"}
    code = redirect_parameters(workers.post("/oidc/establishment", data=chosen))["code"]
    claims = portal.verify(portal.token(code).get_json()["id_token"])
    assert (claims["establishment_number"], claims["establishment_source"]) == ("000052460102", "selected")
