"""What the log keeps of a sign-in: never the company or person, nor a credential or a SAML message.

Whole sign-ins and refusals run through the simulator while every record at INFO and above is
captured; none may carry the KvK numbers used, the acting person's pseudonym or subject, the
authorization code, the tokens, the client secret, the RelayState, or a SAML message (its XML,
or a long run of base64).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from broker import models
from broker.extensions import db
from broker.kvk import stand_in
from saml.simulator import Scenario, ServiceProvider, pseudonym
from tests.clients import SECRET
from tests.conftest import MovableClock
from tests.oidc.portal import Portal, redirect_parameters
from tests.web.browser import forms, local

# Distinct from every other number in the tests, so a hit cannot be a coincidence.
COMPANY = "31415926"
INTERMEDIARY = "27182818"
USER = "log-privacy-tester"
# A prefixed XML tag (<samlp:Response, <saml:Assertion, <ds:Signature, ...) or a long base64 run.
_SAML_XML = re.compile(r"<[A-Za-z][\w.-]*:[A-Za-z]")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{100,}")
_FORMAT = logging.Formatter("%(levelname)s %(name)s %(message)s")


@dataclass
class Trail:
    """The secrets a sign-in produced on its way, by name; the log must show none of them."""

    caplog: pytest.LogCaptureFixture
    secrets: dict[str, str] = field(default_factory=dict)
    checked: bool = False

    def keep(self, name: str, value: str | None) -> None:
        if value:
            self.secrets[f"{name} #{len(self.secrets)}"] = value

    def check_log(self) -> None:
        """No record of the test at INFO or above shows a secret, SAML XML or a base64 message."""
        self.checked = True
        for record in self.caplog.get_records("call"):
            if record.levelno < logging.INFO:
                continue
            line = _FORMAT.format(record)
            for name, value in self.secrets.items():
                assert value not in line, f"the log shows the {name}: {line}"
            assert not _SAML_XML.search(line), f"the log shows SAML XML: {line}"
            assert not _BASE64_RUN.search(line), f"the log shows a base64 message: {line}"

    def keep_saml(self, fields: dict[str, str]) -> None:
        """The SAML fields a browser carried; of a RelayState also its reference alone."""
        for name in ("SAMLRequest", "SAMLResponse", "SAMLart", "RelayState"):
            self.keep(name, fields.get(name))
        if "." in fields.get("RelayState", ""):
            self.keep("RelayState reference", fields["RelayState"].split(".")[0])

    def sign_in(self, portal: Portal, **choices: str) -> TestResponse:
        """`portal.sign_in`, keeping what the browser carried to the HM and back."""
        hand_off = portal.authorize()
        (request_form,) = forms(hand_off)
        self.keep_saml(request_form.fields)
        at_hm = portal.at_hm(hand_off, **choices)
        if at_hm.status_code == 303:
            self.keep_saml(dict(parse_qsl(urlsplit(at_hm.headers["Location"]).query)))
        else:
            (answer_form,) = forms(at_hm)
            self.keep_saml(answer_form.fields)
        return portal.back_at_broker(at_hm)

    def redeem(self, portal: Portal, answer: TestResponse) -> dict[str, str]:
        """The code of the redirect `answer` redeemed, and the tokens used at userinfo."""
        code = redirect_parameters(answer)["code"]
        self.keep("code", code)
        tokens = portal.token(code).get_json()
        self.keep("access token", tokens["access_token"])
        self.keep("id token", tokens["id_token"])
        claims = portal.verify(tokens["id_token"])
        self.keep("subject", claims["sub"])
        self.keep("acting subject", claims.get("acting_subject"))
        assert portal.userinfo(tokens["access_token"]).status_code == 200
        return claims


@pytest.fixture
def trail(app: Flask, caplog: pytest.LogCaptureFixture, clock: MovableClock) -> Iterator[Trail]:
    """A trail to keep secrets on; after the test (unless the test did), its log is checked."""
    caplog.set_level(logging.INFO)
    kept = Trail(caplog)
    state = app.extensions["broker"]
    sp = ServiceProvider.from_settings(state.settings.saml, state.registry().services, clock())
    kept.keep("pseudonym", pseudonym(state.simulator, sp, Scenario(kvk_number=COMPANY, user=USER)))
    for number in (COMPANY, INTERMEDIARY, stand_in.SEVERAL, stand_in.UNAVAILABLE):
        kept.keep("KvK number", number)
    kept.keep("client secret", SECRET)
    kept.keep("client secret in Basic", base64.b64encode(f"ind-portal:{SECRET}".encode()).decode())
    yield kept
    if not kept.checked:
        kept.check_log()


@pytest.fixture
def fresh_register(app: Flask) -> None:
    """No KvK answers kept from earlier tests: the register is asked."""
    with app.app_context():
        db.session.execute(models.KvkAnswer.__table__.delete())
        db.session.commit()


def test_a_whole_sign_in(client: FlaskClient, trail: Trail) -> None:
    portal = Portal(client, "ind-portal")
    answer = trail.sign_in(
        portal, kvk=COMPANY, mandate="representative", intermediary=INTERMEDIARY, user=USER
    )
    claims = trail.redeem(portal, answer)
    assert claims["kvk_number"] == COMPANY
    assert claims["acting_subject"]


def test_a_whole_sign_in_through_the_picker(client: FlaskClient, trail: Trail, fresh_register: None) -> None:
    portal = Portal(client, "olo-establishment")
    page = trail.sign_in(portal, kvk=stand_in.SEVERAL, user=USER)
    (form,) = forms(page)
    picked = client.post(
        local(form.action), data={**form.fields, "action": "pick", "establishment": "000052460102"}
    )
    assert trail.redeem(portal, picked)["establishment_number"] == "000052460102"


@pytest.mark.parametrize(
    ("client_id", "choices"),
    [
        ("ind-portal", {"action": "cancel"}),
        ("ind-portal", {"loa": "loa2"}),
        ("ind-portal", {"loa": "loa1"}),
        ("ind-portal", {"mandate": "none"}),
        ("ind-portal", {"earlier": "1"}),
        ("own-only", {"mandate": "representative", "intermediary": INTERMEDIARY}),
        ("olo-establishment", {"establishment": "000099999999"}),
    ],
    ids=[
        "cancel",
        "level-too-low",
        "level-unknown",
        "no-mandate",
        "not-fresh",
        "mandate-kind",
        "restriction",
    ],
)
def test_a_refused_sign_in(
    client: FlaskClient, trail: Trail, fresh_register: None, client_id: str, choices: dict[str, str]
) -> None:
    portal = Portal(client, client_id)
    answer = trail.sign_in(portal, kvk=COMPANY, user=USER, **choices)
    assert redirect_parameters(answer)["error"] == "access_denied"


def test_a_company_the_register_does_not_know(
    client: FlaskClient, trail: Trail, fresh_register: None
) -> None:
    answer = trail.sign_in(Portal(client, "olo-establishment"), kvk=COMPANY, user=USER)
    assert redirect_parameters(answer)["error"] == "access_denied"


def test_a_cancel_at_the_picker(client: FlaskClient, trail: Trail, fresh_register: None) -> None:
    page = trail.sign_in(Portal(client, "olo-establishment"), kvk=stand_in.SEVERAL, user=USER)
    (form,) = forms(page)
    answer = client.post(local(form.action), data={**form.fields, "action": "cancel"})
    assert redirect_parameters(answer)["error"] == "access_denied"


def test_kvk_away(client: FlaskClient, trail: Trail, fresh_register: None) -> None:
    page = trail.sign_in(Portal(client, "olo-establishment"), kvk=stand_in.UNAVAILABLE, user=USER)
    assert page.status_code == 503
    trail.check_log()


def test_a_replayed_answer_from_the_hm(client: FlaskClient, trail: Trail) -> None:
    portal = Portal(client, "ind-portal")
    hand_off = portal.authorize()
    trail.keep_saml(forms(hand_off)[0].fields)
    at_hm = portal.at_hm(hand_off, kvk=COMPANY, user=USER)
    trail.keep_saml(dict(parse_qsl(urlsplit(at_hm.headers["Location"]).query)))
    trail.redeem(portal, portal.back_at_broker(at_hm))
    assert portal.back_at_broker(at_hm).status_code == 400


def test_a_tampered_posted_answer(post_client: FlaskClient, trail: Trail) -> None:
    portal = Portal(post_client, "ind-portal")
    hand_off = portal.authorize()
    trail.keep_saml(forms(hand_off)[0].fields)
    (form,) = forms(portal.at_hm(hand_off, kvk=COMPANY, user=USER))
    trail.keep_saml(form.fields)
    message = base64.b64decode(form.fields["SAMLResponse"]).replace(b'IssueInstant="', b'IssueInstant="1')
    tampered = base64.b64encode(message).decode()
    trail.keep("SAMLResponse", tampered)
    page = post_client.post(local(form.action), data={**form.fields, "SAMLResponse": tampered})
    assert 400 <= page.status_code < 500


def test_refusals_at_token_and_userinfo(client: FlaskClient, trail: Trail) -> None:
    portal = Portal(client, "ind-portal")
    answer = trail.sign_in(portal, kvk=COMPANY, user=USER)
    code = redirect_parameters(answer)["code"]
    trail.keep("code", code)
    wrong = base64.b64encode(f"ind-portal:{SECRET}-wrong".encode()).decode()
    trail.keep("wrong secret in Basic", wrong)
    refused = client.post(
        "/oidc/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": portal.redirect_uri},
        headers={"Authorization": f"Basic {wrong}"},
    )
    assert refused.status_code == 401
    tokens = portal.token(code).get_json()
    trail.keep("access token", tokens["access_token"])
    trail.keep("id token", tokens["id_token"])
    assert portal.token(code).status_code == 400, "the code is used up"
    assert portal.userinfo(tokens["access_token"] + "x").status_code == 401
