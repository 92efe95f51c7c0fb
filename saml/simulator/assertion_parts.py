"""The pieces every assertion the simulator issues is made of, top-level and nested alike."""

from __future__ import annotations

from datetime import datetime, timedelta

from lxml import etree
from lxml.builder import ElementMaker

from saml.simulator.authn_request import ReceivedRequest
from saml.xml import NS, format_instant, new_id

SAML = ElementMaker(namespace=NS["saml"], nsmap={"saml": NS["saml"]})
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
# Clocks differ: the assertion is valid from a little before it was issued.
NOT_BEFORE_MARGIN = timedelta(seconds=30)


def assertion(
    issuer: str,
    name_id: etree._Element,
    audience: str,
    request: ReceivedRequest,
    now: datetime,
    lifetime: timedelta,
) -> etree._Element:
    """An unsigned assertion with Issuer, bearer Subject and Conditions; statements follow."""
    until = format_instant(now + lifetime)
    return SAML.Assertion(
        SAML.Issuer(issuer),
        SAML.Subject(
            name_id,
            SAML.SubjectConfirmation(
                SAML.SubjectConfirmationData(
                    Recipient=request.acs_url, InResponseTo=request.id, NotOnOrAfter=until
                ),
                Method=BEARER,
            ),
        ),
        SAML.Conditions(
            SAML.AudienceRestriction(SAML.Audience(audience)),
            NotBefore=format_instant(now - NOT_BEFORE_MARGIN),
            NotOnOrAfter=until,
        ),
        ID=new_id(),
        Version="2.0",
        IssueInstant=format_instant(now),
    )


def name_id(value: str, name_format: str) -> etree._Element:
    """A Subject NameID."""
    return SAML.NameID(value, Format=name_format)


def authn_statement(level_uri: str, now: datetime) -> etree._Element:
    """An AuthnStatement at `level_uri`, authenticated `now`."""
    return SAML.AuthnStatement(
        SAML.AuthnContext(SAML.AuthnContextClassRef(level_uri)),
        AuthnInstant=format_instant(now),
        SessionIndex=new_id(),
    )
