"""The decisions of issue-sized scenarios, end to end over real HTTP: a portal (requests, as a relying
party would) signs a person in at a running broker, through the simulator and the KvK stand-in,
and reads what it receives. IND: own company at EH3, too low a level, a representative for a
recognised sponsor and for a company that is none, the person's name where the service requests
it (and nowhere else). OLO: a specific mandate, a general one (the
picker), an organisation without establishments, and a representative."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from broker import models
from broker.decide import SponsorCategory
from broker.extensions import db
from tests.conftest import migrated_broker
from tests.e2e.server import free_port, serving
from tests.web.browser import parse_forms

SECRET = "a-portal-secret-that-is-long-enough-0123456789"
SPONSOR = "12345678"
LOA3 = "urn:etoegang:core:assurance-class:loa3"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    instance = tmp_path_factory.mktemp("scenarios")
    app = migrated_broker(
        instance,
        base,
        f"""
services:
  - slug: ind
    uuid: 6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01
    index: 1
    profile: ind
    name: {{nl: IND Portaal Zakelijk, en: IND business portal}}
  - slug: olo
    uuid: 2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02
    index: 2
    minimum_loa: loa2plus
    profile: olo
    name: {{nl: Omgevingsloket, en: Environment desk}}
  - slug: ind-named
    uuid: 8b4d6f2a-1c3e-4a5b-9d7f-0e2c4a6b8d12
    index: 3
    profile: ind
    requested_attributes:
      - {{name: FirstName, purpose: {{nl: Om u bij naam aan te spreken, en: To address you by name}}}}
      - {{name: FamilyName, purpose: {{nl: Om u bij naam aan te spreken, en: To address you by name}}}}
    name: {{nl: IND Portaal Zakelijk op naam, en: IND business portal by name}}
clients:
  - client_id: ind-portal
    name: IND Portaal Zakelijk
    service: ind
    redirect_uris: [{base}/portal/callback]
    secret: {SECRET}
  - client_id: olo-portal
    name: Omgevingsloket
    service: olo
    redirect_uris: [{base}/portal/callback]
    secret: {SECRET}
  - client_id: ind-named-portal
    name: IND Portaal Zakelijk, op naam
    service: ind-named
    redirect_uris: [{base}/portal/callback]
    secret: {SECRET}
""",
    )
    with app.app_context():
        models.add_sponsor(
            models.Sponsor(
                SPONSOR,
                SponsorCategory.LABOUR,
                "Bakkerij",
                date(2020, 1, 1),
                None,
                datetime(2026, 1, 1, tzinfo=UTC),
                models.Origin.ADDED,
            )
        )
        db.session.commit()
    with serving(app, port):
        yield base


@dataclass
class Portal:
    """A relying party over HTTP: authorize, follow the browser through the HM, redeem the code."""

    base: str
    client_id: str
    browser: requests.Session = field(default_factory=requests.Session)
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    # More authorization parameters (acr_values, a scope in place of the usual).
    extra: dict[str, str] = field(default_factory=dict)
    scope: str = "openid kvk mandate"

    @property
    def callback(self) -> str:
        return f"{self.base}/portal/callback"

    def sign_in(self, **choices: str) -> requests.Response:
        """Authorize, then answer at the simulator with `choices`: the broker's answer to the browser."""
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=")
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.callback,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        } | self.extra
        hand_off = self.browser.get(f"{self.base}/oidc/authorize?{urlencode(query)}", timeout=10)
        assert hand_off.status_code == 200, hand_off.text
        (to_hm,) = parse_forms(hand_off.text)
        to_acs = self.browser.post(
            f"{to_hm.action}?{urlencode({'action': 'login', 'binding': 'artifact', **choices})}",
            data=to_hm.fields,
            allow_redirects=False,
            timeout=10,
        )
        assert to_acs.status_code == 303, to_acs.text
        return self.browser.get(to_acs.headers["Location"], allow_redirects=False, timeout=10)

    def pick(self, picker: requests.Response, establishment: str) -> requests.Response:
        assert picker.status_code == 200, picker.text
        (form,) = parse_forms(picker.text)
        fields = dict(form.fields) | {"establishment": establishment, "action": "pick"}
        return self.browser.post(f"{self.base}{form.action}", data=fields, allow_redirects=False, timeout=10)

    def answer(self, response: requests.Response) -> dict[str, str]:
        """The portal's callback parameters: from the redirect, or from the refusal page's button."""
        if response.status_code == 403:
            match = re.search(r'id="back-to-portal" href="([^"]+)"', response.text)
            assert match, response.text
            location = html.unescape(match.group(1))
        else:
            assert response.status_code == 302, response.text
            location = response.headers["Location"]
        assert location.startswith(self.callback)
        params = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
        assert params["state"] == self.state
        assert params["iss"] == self.base
        return params

    def claims(self, response: requests.Response) -> dict[str, Any]:
        """Redeem the code and return the ID token's claims, verified against the broker's JWKS."""
        code = self.answer(response)["code"]
        tokens = requests.post(
            f"{self.base}/oidc/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.callback,
                "code_verifier": self.verifier,
            },
            auth=(self.client_id, SECRET),
            timeout=10,
        )
        assert tokens.status_code == 200, tokens.text
        keys = KeySet.import_key_set(requests.get(f"{self.base}/oidc/jwks", timeout=10).json())
        decoded = jwt.decode(tokens.json()["id_token"], keys, algorithms=["RS256"])
        assert decoded.claims["nonce"] == self.nonce
        return dict(decoded.claims)


# --- IND Portaal Zakelijk ---------------------------------------------------------------------------


def test_ind_admits_its_own_company_at_eh3(base_url: str) -> None:
    portal = Portal(base_url, "ind-portal")
    claims = portal.claims(portal.sign_in(kvk="24444001", mandate="own", loa="loa3"))
    assert (claims["kvk_number"], claims["acr"]) == ("24444001", LOA3)
    assert claims["mandate"]["kind"] == "own_company"


def test_ind_refuses_eh2_plus_with_the_refusal_page(base_url: str) -> None:
    portal = Portal(base_url, "ind-portal")
    page = portal.sign_in(kvk="24444001", mandate="own", loa="loa2plus")
    assert page.status_code == 403
    assert "<h1>Deze dienst is niet voor u beschikbaar</h1>" in page.text
    assert "niveau EH3" in page.text
    assert "Terug naar IND Portaal Zakelijk" in page.text
    params = portal.answer(page)
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("loa_too_low: ")


def test_ind_admits_a_representative_of_a_recognised_sponsor_with_both_numbers(base_url: str) -> None:
    portal = Portal(base_url, "ind-portal")
    claims = portal.claims(portal.sign_in(kvk=SPONSOR, mandate="representative", intermediary="87654321"))
    assert claims["kvk_number"] == SPONSOR
    assert claims["mandate"]["kind"] == "recognised_sponsor"
    assert claims["mandate"]["intermediary_kvk_number"] == "87654321"


def test_ind_refuses_a_representative_of_a_company_that_is_no_recognised_sponsor(base_url: str) -> None:
    portal = Portal(base_url, "ind-portal")
    page = portal.sign_in(kvk="24444001", mandate="representative", intermediary="87654321")
    assert page.status_code == 403
    assert "erkend referent" in page.text
    assert "register van erkende referenten" in page.text
    assert portal.answer(page)["error_description"].startswith("not_a_recognised_sponsor: ")


def test_ind_shows_the_person_s_name_where_its_service_requests_it(base_url: str) -> None:
    portal = Portal(base_url, "ind-named-portal", scope="openid kvk mandate profile")
    claims = portal.claims(portal.sign_in(kvk="24444001", first_name="Jan", family_name="de Boer"))
    assert (claims["given_name"], claims["family_name"], claims["kvk_number"]) == (
        "Jan",
        "de Boer",
        "24444001",
    )
    assert "birthdate" not in claims  # not requested: the HM does not send it, nor is it released


def test_ind_releases_no_name_for_a_service_that_did_not_request_it(base_url: str) -> None:
    portal = Portal(base_url, "ind-portal", scope="openid kvk mandate profile")
    claims = portal.claims(portal.sign_in(kvk="24444001", person="all"))
    assert claims["kvk_number"] == "24444001"
    assert not {"given_name", "family_name", "initials", "birthdate"} & set(claims)


# --- Omgevingsloket OLO --------------------------------------------------------------------------------


def test_olo_keeps_the_establishment_of_a_specific_mandate(base_url: str) -> None:
    portal = Portal(base_url, "olo-portal")
    claims = portal.claims(portal.sign_in(kvk="12345678", establishment="000052460102"))
    assert (claims["establishment_number"], claims["establishment_source"]) == ("000052460102", "mandate")


def test_olo_lets_a_general_mandate_pick_the_establishment(base_url: str) -> None:
    portal = Portal(base_url, "olo-portal")
    picker = portal.sign_in(kvk="12345678")
    assert "000052460103" in picker.text
    assert "000052460104" not in picker.text  # stopped: not offered
    claims = portal.claims(portal.pick(picker, "000052460103"))
    assert (claims["establishment_number"], claims["establishment_source"]) == ("000052460103", "selected")


def test_olo_gives_an_organisation_without_establishments_0000_and_its_kvk_number(base_url: str) -> None:
    portal = Portal(base_url, "olo-portal")
    claims = portal.claims(portal.sign_in(kvk="11112222"))
    assert (claims["establishment_number"], claims["establishment_source"]) == (
        "000011112222",
        "no_establishment",
    )


def test_olo_passes_a_representatives_numbers(base_url: str) -> None:
    portal = Portal(base_url, "olo-portal")
    claims = portal.claims(portal.sign_in(kvk="24444001", mandate="representative", intermediary="87654321"))
    assert claims["kvk_number"] == "24444001"
    assert claims["mandate"] == {
        "kind": "representative",
        "service_uuid": "2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02",
        "intermediary_kvk_number": "87654321",
    }
    assert (claims["establishment_number"], claims["establishment_source"]) == ("000061830201", "selected")
