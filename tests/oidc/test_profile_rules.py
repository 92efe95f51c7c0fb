"""Rules of the NL GOV Assurance profile for OpenID Connect that no other test holds: `vtr` gives way
to `acr_values` (and is not read at all: the broker answers `acr`, never `vot`), WebFinger is not
offered, and a PKCE code verifier has 43 to 128 characters (RFC 7636 §4.1)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from flask.testing import FlaskClient

from tests.oidc.portal import Portal, redirect_parameters

LOA = "urn:etoegang:core:assurance-class:"
VTR = '["P1.Cc", "P2.Cd"]'


def test_acr_values_take_precedence_over_vtr(client: FlaskClient) -> None:
    portal = Portal(client, "nlgov-portal", "private_key_jwt")
    params = redirect_parameters(
        portal.sign_in(extra={"vtr": VTR, "acr_values": f"{LOA}loa3"}, kvk="24444001")
    )
    claims = portal.verify(portal.token(params["code"]).get_json()["id_token"])
    assert claims["acr"] == "http://eidas.europa.eu/LoA/substantial"
    assert not {"vot", "vtm"} & set(claims)


def test_vtr_alone_is_not_read(client: FlaskClient) -> None:
    """A level the service cannot meet, asked for as a vector, does not refuse or change anything."""
    portal = Portal(client, "ind-portal")
    params = redirect_parameters(portal.sign_in(extra={"vtr": '["P3.Cd"]'}, kvk="24444001"))
    claims = portal.verify(portal.token(params["code"]).get_json()["id_token"])
    assert claims["acr"] == f"{LOA}loa3"
    assert "vot" not in claims


@pytest.mark.parametrize("path", ["/.well-known/webfinger", "/.well-known/webfinger?resource=acct:a@b.nl"])
def test_webfinger_is_not_offered(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 404


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.mark.parametrize(("length", "accepted"), [(42, False), (43, True), (128, True), (129, False)])
def test_a_code_verifier_has_43_to_128_characters(client: FlaskClient, length: int, accepted: bool) -> None:
    verifier = "a" * length
    portal = Portal(client, "ind-portal")
    params = redirect_parameters(
        portal.sign_in(
            extra={"code_challenge": _challenge(verifier), "code_challenge_method": "S256"}, kvk="24444001"
        )
    )
    portal.verifier = verifier
    answer = portal.token(params["code"])
    if accepted:
        assert answer.status_code == 200, answer.get_json()
    else:
        assert answer.status_code == 400
        assert answer.get_json()["error"] == "invalid_request", answer.get_json()
