"""Refusals at the end of a sign-in: the portal hears the stable reason code (and, for a level too
low, both levels), and every refusal writes one log line without personal data."""

from __future__ import annotations

import base64
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from saml import signature
from saml.xml import NS
from tests.oidc.portal import Portal, redirect_parameters
from tests.web.browser import forms, local

LOA2PLUS = "urn:etoegang:core:assurance-class:loa2plus"
LOA3 = "urn:etoegang:core:assurance-class:loa3"
LEGAL_SUBJECT = "urn:etoegang:core:LegalSubjectID"


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if "refused" in r.getMessage() and r.levelno == logging.INFO
    ]


def test_a_level_too_low_names_both_levels_to_the_portal_and_in_the_log(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    portal = Portal(client, "ind-portal")
    with caplog.at_level(logging.INFO):
        params = redirect_parameters(portal.sign_in(loa="loa2plus", kvk="24444001"))
    assert params["error"] == "access_denied"
    description = params["error_description"]
    assert description.startswith("loa_too_low: ")
    assert f"achieved {LOA2PLUS}" in description
    assert f"needed {LOA3}" in description
    (line,) = refusal_lines(caplog)
    assert "reason=loa_too_low" in line
    assert "client=ind-portal" in line
    assert "service=ind-portaal-zakelijk" in line
    assert "loa2plus below required loa3" in line
    assert "24444001" not in line


@pytest.mark.parametrize(
    ("choices", "reason"),
    [({"action": "cancel"}, "cancelled"), ({"earlier": "1"}, "authn_not_fresh")],
)
def test_every_refusal_by_the_hm_writes_a_log_line(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, choices: dict[str, str], reason: str
) -> None:
    portal = Portal(client, "ind-portal")
    with caplog.at_level(logging.INFO):
        params = redirect_parameters(portal.sign_in(extra={"prompt": "login"}, **choices))
    assert params["error_description"].startswith(f"{reason}: ")
    (line,) = refusal_lines(caplog)
    assert f"reason={reason}" in line
    assert "client=ind-portal service=ind-portaal-zakelijk" in line


def test_a_refusal_by_the_decision_carries_its_reason_code(client: FlaskClient) -> None:
    portal = Portal(client, "own-only")
    params = redirect_parameters(portal.sign_in(mandate="representative", intermediary="87654321"))
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("mandate_not_admitted: ")


def _without_legal_subject(saml_response: str, app: Flask) -> str:
    """The simulator's genuine answer with the LegalSubjectID taken out, signed again by the HM."""
    key = app.extensions["broker"].simulator.key
    response = etree.fromstring(base64.b64decode(saml_response))
    (assertion,) = response.xpath("saml:Assertion", namespaces=NS)
    for element in (response, assertion):
        for old in element.xpath("ds:Signature", namespaces=NS):
            element.remove(old)
    (attribute,) = assertion.xpath(
        f"saml:AttributeStatement/saml:Attribute[@Name='{LEGAL_SUBJECT}']", namespaces=NS
    )
    attribute.getparent().remove(attribute)
    signature.sign(assertion, key)
    signature.sign(response, key)
    return base64.b64encode(etree.tostring(response)).decode()


def test_a_verified_assertion_without_a_legal_subject_ends_the_sign_in_at_the_portal(
    post_app: Flask, post_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    portal = Portal(post_client, "ind-portal")
    at_hm = portal.at_hm(portal.authorize(), binding="post", kvk="24444001")
    (form,) = forms(at_hm)
    fields = dict(form.fields) | {
        "SAMLResponse": _without_legal_subject(form.fields["SAMLResponse"], post_app)
    }
    with caplog.at_level(logging.INFO):
        answer = post_client.post(local(form.action), data=fields)
    params = redirect_parameters(answer)
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("legal_subject_missing: ")
    assert params["state"] == portal.state
    (line,) = refusal_lines(caplog)
    assert "reason=legal_subject_missing" in line
    # The HM's final word: the same answer cannot be delivered again.
    again = post_client.post(local(form.action), data=fields)
    assert again.status_code == 400
