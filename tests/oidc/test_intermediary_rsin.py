"""A representative whose intermediary is identified by RSIN (IntermediateEntityID:RSIN), end to end:
the simulator sends it, the broker admits it, and the portal gets `mandate.intermediary_rsin`."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.oidc.portal import Portal
from tests.oidc.test_signin import signed_in
from tests.web.browser import forms, local

RSIN = "123456782"


def test_an_intermediary_known_by_rsin_is_released(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    tokens = signed_in(portal, kvk="12345678", mandate="representative", intermediary_rsin=RSIN)
    claims = portal.verify(tokens["id_token"])
    assert claims["mandate"] == {
        "kind": "representative",
        "service_uuid": "6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01",
        "intermediary_rsin": RSIN,
    }
    assert portal.userinfo(tokens["access_token"]).get_json()["mandate"] == claims["mandate"]


def test_an_intermediary_known_by_kvk_number_has_no_rsin_claim(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    claims = portal.verify(signed_in(portal, mandate="representative", intermediary="87654321")["id_token"])
    assert claims["mandate"]["intermediary_kvk_number"] == "87654321"
    assert "intermediary_rsin" not in claims["mandate"]


@pytest.mark.parametrize(
    ("lang", "label"),
    [
        ("en", "Or the intermediary's RSIN (9 digits, empty to use the KvK number)"),
        ("nl", "Of het RSIN van de intermediair (9 cijfers, leeg voor het KvK-nummer)"),
    ],
)
def test_the_simulator_page_offers_the_rsin_and_keeps_a_wrong_one(
    client: FlaskClient, lang: str, label: str
) -> None:
    (hand_off,) = forms(client.get(f"/saml/test-login?service=ind-portaal-zakelijk&lang={lang}"))
    page = client.post(local(hand_off.action), data=hand_off.fields)
    assert f'<label for="intermediary_rsin">{label}</label>' in page.get_data(as_text=True)
    answer = next(form for form in forms(page) if "/answer" in form.action)
    tried = {"mandate": "representative", "intermediary_rsin": "12345678", "action": "login"}
    again = client.post(local(answer.action), data=answer.fields | tried)
    assert again.status_code == 400
    html = again.get_data(as_text=True)
    assert re.search(r'<input [^>]*id="intermediary_rsin" name="intermediary_rsin" value="12345678"', html)
    assert 'aria-invalid="true"' in html.split('id="intermediary_rsin"')[1].split(">")[0]
