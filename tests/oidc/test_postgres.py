"""The whole sign-in on PostgreSQL, which enforces what SQLite lets pass unless told (foreign keys, types)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from config import Binding, Settings
from tests.conftest import MovableClock, apps_on, postgres_url
from tests.oidc.portal import Portal, redirect_parameters
from tests.oidc.test_par import authorize, parameters, pushed_uri
from tests.oidc.test_request_object import signed_in


@pytest.fixture(scope="module", params=[Binding.ARTIFACT, Binding.POST], ids=["artifact", "post"])
def pg_client(
    request: pytest.FixtureRequest, settings: Settings, clock: MovableClock
) -> Iterator[FlaskClient]:
    """The app on PostgreSQL, asking to be answered over each binding in turn."""
    saml = dataclasses.replace(settings.saml, response_binding=request.param)
    with apps_on(dataclasses.replace(settings, database_url=postgres_url(), saml=saml), clock) as (app,):
        yield app.test_client()


def test_a_whole_sign_in_on_postgresql(pg_client: FlaskClient) -> None:
    portal = Portal(pg_client, "ind-portal")
    code = redirect_parameters(portal.sign_in(mandate="representative"))["code"]
    tokens = portal.token(code).get_json()
    assert portal.verify(tokens["id_token"])["mandate"]["kind"] == "representative"
    assert portal.userinfo(tokens["access_token"]).status_code == 200
    assert portal.token(code).get_json()["error"] == "invalid_grant"
    assert portal.userinfo(tokens["access_token"]).status_code == 401


def test_a_pushed_request_on_postgresql(pg_client: FlaskClient) -> None:
    portal = Portal(pg_client, "olo-jwt", "private_key_jwt")
    uri = pushed_uri(portal, parameters(portal))
    signed_in(portal, authorize(portal, uri))
    assert "invalid_request_uri" in authorize(portal, uri).get_data(as_text=True)
