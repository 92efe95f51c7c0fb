"""The `saml:Advice` an HM may add: signed assertions of the authentication service and the MR.

Only the top-level assertion counts; these nested ones let tests prove that our validator
neither trips over them nor reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from config import Service
from saml import signature
from saml.attributes import SERVICE_ID, SERVICE_UUID
from saml.simulator import assertion_parts as parts
from saml.simulator.attributes import attribute
from saml.simulator.authn_request import ReceivedRequest
from saml.simulator.hm import SimulatorHm


@dataclass(frozen=True)
class AdviceContext:
    """What the nested assertions repeat of the top-level one."""

    subject: str
    subject_format: str
    audience: str
    service_id: str
    service: Service
    level_uri: str


def authentication_service_id(hm: SimulatorHm) -> str:
    """The entityID the simulated authentication service issues its assertion under."""
    return f"{hm.entity_id}/authentication-service"


def mandate_register_id(hm: SimulatorHm) -> str:
    """The entityID the simulated machtigingenregister issues its assertion under."""
    return f"{hm.entity_id}/mandate-register"


def advice(
    hm: SimulatorHm, context: AdviceContext, request: ReceivedRequest, now: datetime, lifetime: timedelta
) -> etree._Element:
    """A `saml:Advice` holding the two nested assertions, each signed (with the simulator's key)."""

    def nested(issuer: str, statement: etree._Element) -> etree._Element:
        name_id = parts.name_id(context.subject, context.subject_format)
        element = parts.assertion(issuer, name_id, context.audience, request, now, lifetime)
        element.append(statement)
        return element

    block = parts.SAML.Advice(
        nested(authentication_service_id(hm), parts.authn_statement(context.level_uri, now)),
        nested(
            mandate_register_id(hm),
            parts.SAML.AttributeStatement(
                attribute(SERVICE_ID, context.service_id), attribute(SERVICE_UUID, context.service.uuid)
            ),
        ),
    )
    for element in block:
        signature.sign(element, hm.key)
    return block
