"""The built-in eHerkenning HM simulator for development and tests: real signatures, real encryption.

Pure: takes bytes, values and "now", returns bytes and values or raises SamlError; the web
layer around it stores artifacts and renders the scenario form.
"""

from saml.simulator.artifact import answer_artifact_resolve, new_artifact, soap_fault
from saml.simulator.assertion import build_assertion, encrypt_assertion, pseudonym, recipients_for
from saml.simulator.authn_request import ReceivedRequest, read_post_request, read_redirect_request
from saml.simulator.encryption import Recipient, encrypt, encrypted_id
from saml.simulator.hm import SimulatorHm
from saml.simulator.response import Delivery, binding_for, build_response, deliver, respond
from saml.simulator.scenario import (
    Action,
    Mandate,
    MandateScope,
    ObsoleteLevel,
    PersonRelease,
    Scenario,
    ScenarioError,
)
from saml.simulator.service_provider import ServiceProvider
from saml.simulator.shape import Shape
from saml.simulator.status import CANCELLED, NO_MANDATE, SUCCESS, Status, status_for

__all__ = [
    "CANCELLED",
    "NO_MANDATE",
    "SUCCESS",
    "Action",
    "Delivery",
    "Mandate",
    "MandateScope",
    "ObsoleteLevel",
    "PersonRelease",
    "ReceivedRequest",
    "Recipient",
    "Scenario",
    "ScenarioError",
    "ServiceProvider",
    "Shape",
    "SimulatorHm",
    "Status",
    "answer_artifact_resolve",
    "binding_for",
    "build_assertion",
    "build_response",
    "deliver",
    "encrypt",
    "encrypt_assertion",
    "encrypted_id",
    "new_artifact",
    "pseudonym",
    "read_post_request",
    "read_redirect_request",
    "recipients_for",
    "respond",
    "soap_fault",
    "status_for",
]
