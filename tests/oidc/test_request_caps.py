"""Authorization requests are capped: each parameter the broker reads, their number and their size.
Only the parameters the broker reads are kept while the user is at the HM."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient

from broker.extensions import db
from broker.models import PendingAuthorization
from broker.oidc.authorization import MAX_PARAMETERS, PARAMETER_CAPS, SERVICE
from tests.oidc.portal import Portal, redirect_parameters


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"nonce": "n" * 1_000_000}, "nonce"),
        ({"login_hint": "x" * 9000}, "in all"),
        ({"acr_values": "a" * (PARAMETER_CAPS["acr_values"] + 1)}, "acr_values"),
        ({f"unknown{n}": "1" for n in range(20_000)}, "parameters"),
    ],
)
def test_an_oversized_request_is_refused(client: FlaskClient, extra: dict[str, str], named: str) -> None:
    portal = Portal(client, "ind-portal")
    params = redirect_parameters(portal.authorize(**extra))
    assert params["error"] == "invalid_request"
    assert named in params["error_description"]
    assert params["state"] == portal.state
    assert len(params["error_description"]) < 100  # the value is never echoed


def test_an_oversized_state_is_refused_and_not_echoed(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal", state="s" * 200_000)
    answer = portal.authorize()
    params = redirect_parameters(answer)
    assert params["error"] == "invalid_request"
    assert "state" not in params
    assert len(answer.headers["Location"]) < 1000


def test_a_request_at_the_caps_is_taken(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal", state="s" * PARAMETER_CAPS["state"])
    extra = {f"extension{n}": "1" for n in range(MAX_PARAMETERS - 10)}
    answer = portal.authorize(**extra)
    assert answer.status_code == 200  # the hand-off to the HM


def test_only_the_parameters_the_broker_reads_are_kept(client: FlaskClient, app: Flask) -> None:
    portal = Portal(client, "ind-portal")
    with app.app_context():
        before = {row.id for row in db.session.query(PendingAuthorization)}
    # A client cannot set the service kept with its request by sending a parameter of that name.
    sent = {"login_hint": "someone", "custom": "value", "ui_locales": "en", SERVICE: "omgevingsloket"}
    assert portal.authorize(**sent).status_code == 200
    with app.app_context():
        (row,) = [row for row in db.session.query(PendingAuthorization) if row.id not in before]
        kept = dict(row.parameters)
        db.session.remove()
    assert "login_hint" not in kept
    assert "custom" not in kept
    assert kept["ui_locales"] == "en"
    assert kept["state"] == portal.state
    assert kept[SERVICE] == "ind-portaal-zakelijk"
    assert set(kept) <= {*PARAMETER_CAPS, SERVICE}


def test_a_post_authorization_request_is_capped_too(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    query = {
        "response_type": "code",
        "client_id": "ind-portal",
        "redirect_uri": portal.redirect_uri,
        "scope": "openid",
        "state": portal.state,
        "nonce": "n" * 600,
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
    }
    answer = client.post(
        "/oidc/authorize", data=urlencode(query), content_type="application/x-www-form-urlencoded"
    )
    assert redirect_parameters(answer)["error"] == "invalid_request"
