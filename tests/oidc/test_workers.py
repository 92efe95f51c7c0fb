"""Any worker finishes what another started: every step of a sign-in goes to another app on the same
database, as another worker would be: the flow state lives in the database, not in a worker. The
browser's cookies go with it to whichever worker (the picker's CSRF token is kept in its signed
session cookie, which every worker reads with the secret key they share)."""

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
    """Test clients of several apps on one database, taking requests in turn: as a browser and a
    portal meet whichever worker a load balancer picks. A cookie one worker sets, the browser
    sends to the next."""

    def __init__(self, apps: list[Flask]) -> None:
        self.clients = [app.test_client() for app in apps]
        self.turns: Iterator[FlaskClient] = itertools.cycle(self.clients)

    def get(self, *args: Any, **kwargs: Any) -> TestResponse:
        return self._carried(next(self.turns), "get", *args, **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> TestResponse:
        return self._carried(next(self.turns), "post", *args, **kwargs)

    def _carried(self, served: FlaskClient, method: str, *args: Any, **kwargs: Any) -> TestResponse:
        response: TestResponse = getattr(served, method)(*args, **kwargs)
        for name in {header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie")}:
            cookie = served.get_cookie(name)
            for other in (client for client in self.clients if client is not served):
                if cookie is None:
                    other.delete_cookie(name)
                else:
                    other.set_cookie(name, cookie.value)
        return response


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
    chosen = {**form.fields, "action": "pick", "establishment": "000052460102"}
    code = redirect_parameters(workers.post("/oidc/establishment", data=chosen))["code"]
    claims = portal.verify(portal.token(code).get_json()["id_token"])
    assert (claims["establishment_number"], claims["establishment_source"]) == ("000052460102", "selected")
