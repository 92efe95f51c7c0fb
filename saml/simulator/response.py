"""The simulated HM's answer: a Response for the request and scenario, bound for the SP's ACS.

`respond` does it all; the steps (`build_assertion`, `build_response`, `saml.signature.sign`,
`deliver`) are public so that security tests can change a message before (or instead of)
signing it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from lxml.builder import ElementMaker

from config import Binding
from saml import signature
from saml.simulator.artifact import new_artifact
from saml.simulator.assertion import build_assertion, encrypt_assertion, recipients_for
from saml.simulator.assertion_parts import SAML
from saml.simulator.authn_request import ReceivedRequest
from saml.simulator.hm import SimulatorHm
from saml.simulator.scenario import Scenario
from saml.simulator.service_provider import ServiceProvider
from saml.simulator.shape import DEFAULT_SHAPE, Shape
from saml.simulator.status import SUCCESS, Status, status_for
from saml.xml import NS, format_instant, new_id

_SAMLP = ElementMaker(namespace=NS["samlp"], nsmap={"samlp": NS["samlp"], "saml": NS["saml"]})


@dataclass(frozen=True)
class Delivery:
    """What the browser carries to the ACS: `fields` as a POST form (or, for Artifact, a query).

    For HTTP-Artifact, the caller keeps `response` under `artifact_handle` until it is resolved.
    """

    binding: Binding
    acs_url: str
    fields: Mapping[str, str]
    response: bytes
    artifact_handle: bytes | None = None


def binding_for(request: ReceivedRequest, scenario: Scenario) -> Binding:
    """The scenario's binding, else the one the request asks for; HTTP-Artifact when it asks none."""
    if scenario.binding is not None:
        return scenario.binding
    return Binding.POST if request.protocol_binding is Binding.POST else Binding.ARTIFACT


def respond(
    hm: SimulatorHm,
    sp: ServiceProvider,
    request: ReceivedRequest,
    scenario: Scenario,
    now: datetime,
    shape: Shape = DEFAULT_SHAPE,
) -> Delivery:
    """The complete, signed answer to `request` under `scenario`, ready for the browser."""
    binding = binding_for(request, scenario)
    status = status_for(scenario)
    assertion = None
    if status.is_success:
        assertion = build_assertion(hm, sp, request, scenario, now, shape)
        signature.sign(assertion, hm.key)
        if shape.encrypt_assertion:
            assertion = encrypt_assertion(assertion, recipients_for(sp, shape))
    response = build_response(hm, request, now, status, assertion)
    if _signs_response(shape, binding):
        signature.sign(response, hm.key)
    return deliver(hm, request, etree.tostring(response, xml_declaration=True, encoding="UTF-8"), binding)


def _signs_response(shape: Shape, binding: Binding) -> bool:
    # Inside an ArtifactResponse the Response travels unsigned by default: the wrapper is signed.
    return shape.sign_response if shape.sign_response is not None else binding is Binding.POST


def build_response(
    hm: SimulatorHm,
    request: ReceivedRequest,
    now: datetime,
    status: Status = SUCCESS,
    assertion: etree._Element | None = None,
) -> etree._Element:
    """An unsigned `samlp:Response` to `request`, carrying `assertion` (plain or encrypted) if given."""
    response = _SAMLP.Response(
        SAML.Issuer(hm.entity_id),
        status.element(),
        ID=new_id(),
        Version="2.0",
        IssueInstant=format_instant(now),
        Destination=request.acs_url,
        InResponseTo=request.id,
    )
    if assertion is not None:
        response.append(assertion)
    return response


def deliver(hm: SimulatorHm, request: ReceivedRequest, response: bytes, binding: Binding) -> Delivery:
    """`response` bound for the ACS: base64 in `SAMLResponse` (POST) or an artifact in `SAMLart`."""
    relay_state = {"RelayState": request.relay_state} if request.relay_state is not None else {}
    if binding is Binding.ARTIFACT:
        artifact, handle = new_artifact(hm)
        return Delivery(binding, request.acs_url, {"SAMLart": artifact, **relay_state}, response, handle)
    encoded = base64.b64encode(response).decode("ascii")
    return Delivery(binding, request.acs_url, {"SAMLResponse": encoded, **relay_state}, response)
