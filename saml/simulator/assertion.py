"""The top-level assertion of a successful sign-in, and the pseudonym of the person acting."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from lxml import etree

from config import Service
from saml.errors import Reason, SamlError
from saml.simulator import assertion_parts as parts
from saml.simulator.advice import AdviceContext, advice
from saml.simulator.attributes import attribute_statement
from saml.simulator.authn_request import ReceivedRequest
from saml.simulator.encryption import Recipient, encrypt
from saml.simulator.hm import SimulatorHm
from saml.simulator.scenario import MandateScope, Scenario
from saml.simulator.service_provider import ServiceProvider
from saml.simulator.shape import DEFAULT_SHAPE, Shape
from saml.xml import new_id, qname

# How long ago the kept sign-in of `Scenario.earlier_sign_in` was made.
EARLIER_SIGN_IN = timedelta(minutes=30)


def pseudonym(hm: SimulatorHm, sp: ServiceProvider, scenario: Scenario) -> str:
    """The acting person's pseudonym: the same for the same user, company, SP and HM, every time."""
    material = "\0".join((hm.entity_id, sp.entity_id, scenario.kvk_number, scenario.user))
    return hashlib.sha256(material.encode("utf-8")).hexdigest().upper()


def build_assertion(
    hm: SimulatorHm,
    sp: ServiceProvider,
    request: ReceivedRequest,
    scenario: Scenario,
    now: datetime,
    shape: Shape = DEFAULT_SHAPE,
) -> etree._Element:
    """The unsigned top-level assertion answering `request` under `scenario`."""
    service = sp.service(request.attribute_consuming_service_index)
    if service is None:
        raise SamlError(
            Reason.SERVICE_MISSING, "AttributeConsumingServiceIndex names none of the SP's services"
        )
    service = _named_service(sp, service, scenario)
    acting = pseudonym(hm, sp, scenario)
    subject, subject_format = _subject(acting, shape)
    name_id = parts.name_id(subject, subject_format)
    element = parts.assertion(hm.entity_id, name_id, sp.entity_id, request, now, shape.lifetime)
    service_id = sp.service_id(service)
    if scenario.advice:
        context = AdviceContext(
            subject, subject_format, sp.entity_id, service_id, service, scenario.level.uri
        )
        element.append(advice(hm, context, request, now, shape.lifetime))
    recipients = recipients_for(sp, shape) if shape.encrypt_ids else None
    element.append(attribute_statement(service_id, service, scenario, acting, recipients))
    authenticated = now - EARLIER_SIGN_IN if scenario.earlier_sign_in else now
    element.append(parts.authn_statement(scenario.level.uri, authenticated))
    return element


def _named_service(sp: ServiceProvider, asked: Service, scenario: Scenario) -> Service:
    """The service the assertion names: the one asked for, or under a mandate for another service,
    another of the SP's services (a made-up one where the SP has no other)."""
    if scenario.mandate_for is not MandateScope.OTHER:
        return asked
    other = next((service for service in sp.services if service.index != asked.index), None)
    if other is not None:
        return other
    return replace(asked, index=asked.index + 1, uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, asked.uuid)))


def _subject(acting: str, shape: Shape) -> tuple[str, str]:
    # Beside encrypted identifiers a transient NameID, so the pseudonym never travels in clear;
    # beside plain ones the pseudonym itself, as the HMs that send plain attributes do.
    if shape.encrypt_ids:
        return new_id(), parts.TRANSIENT
    return acting, parts.UNSPECIFIED


def recipients_for(sp: ServiceProvider, shape: Shape) -> tuple[Recipient, ...]:
    """Whom encrypted values go to: the SP, then the shape's other recipients."""
    return (sp.recipient, *shape.other_recipients)


def encrypt_assertion(assertion: etree._Element, recipients: tuple[Recipient, ...]) -> etree._Element:
    """A `saml:EncryptedAssertion` holding `assertion` (sign it first)."""
    return encrypt(etree.tostring(assertion), qname("saml", "EncryptedAssertion"), recipients)
