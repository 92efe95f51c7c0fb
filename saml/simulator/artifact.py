"""HTTP-Artifact binding, HM side: issue artifacts, answer the SP's SOAP ArtifactResolve.

saml-bindings-2.0-os §3.6: the SP resolves the artifact with a signed ArtifactResolve; the HM
answers with a signed ArtifactResponse carrying the Response, or with none for an unknown artifact.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from lxml import etree
from lxml.builder import ElementMaker

from saml import signature
from saml.artifact import encode_artifact, parse_artifact
from saml.errors import Reason, SamlError
from saml.simulator.assertion_parts import SAML
from saml.simulator.hm import SimulatorHm
from saml.simulator.service_provider import ServiceProvider
from saml.simulator.status import SUCCESS
from saml.xml import NS, format_instant, new_id, parse, qname, required_child, text

MAX_BYTES = 64 * 1024
_SOAP = ElementMaker(namespace=NS["soap"], nsmap={"soap11": NS["soap"]})
_SAMLP = ElementMaker(namespace=NS["samlp"], nsmap={"samlp": NS["samlp"], "saml": NS["saml"]})
_PLAIN = ElementMaker()

# Returns the serialized Response stored under a message handle, or None; should forget it too,
# as an artifact resolves once (saml-bindings-2.0-os §3.6.5).
Lookup = Callable[[bytes], bytes | None]


def new_artifact(hm: SimulatorHm) -> tuple[str, bytes]:
    """A fresh type 0x0004 artifact for ARS index 0, and its 20-byte message handle."""
    handle = secrets.token_bytes(20)
    return encode_artifact(hm.source_id, handle), handle


def answer_artifact_resolve(
    hm: SimulatorHm, sp: ServiceProvider, soap_request: bytes, lookup: Lookup, now: datetime
) -> bytes:
    """The SOAP answer to a signed ArtifactResolve from `sp`; raises SamlError for a bad request.

    An artifact this HM did not issue, or no longer knows, gets an empty ArtifactResponse.
    """
    resolve = _artifact_resolve(soap_request, hm, sp)
    artifact = parse_artifact(text(required_child(resolve, "samlp", "Artifact")))
    ours = artifact.source_id == hm.source_id and artifact.endpoint_index == 0
    stored = lookup(artifact.message_handle) if ours else None
    answer = _SAMLP.ArtifactResponse(
        SAML.Issuer(hm.entity_id),
        SUCCESS.element(),
        ID=new_id(),
        InResponseTo=resolve.get("ID", ""),
        Version="2.0",
        IssueInstant=format_instant(now),
    )
    if stored is not None:
        answer.append(parse(stored))
    envelope = _SOAP.Envelope(_SOAP.Body(answer))
    signature.sign(answer, hm.key)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def soap_fault(error: SamlError) -> bytes:
    """A SOAP 1.1 Client fault for a refused ArtifactResolve (sent with HTTP 500); only the reason code."""
    fault = _SOAP.Fault(_PLAIN.faultcode("soap11:Client"), _PLAIN.faultstring(error.reason.value))
    return etree.tostring(_SOAP.Envelope(_SOAP.Body(fault)), xml_declaration=True, encoding="UTF-8")


def _artifact_resolve(soap_request: bytes, hm: SimulatorHm, sp: ServiceProvider) -> etree._Element:
    if len(soap_request) > MAX_BYTES:
        raise SamlError(Reason.MESSAGE_TOO_LARGE, "ArtifactResolve exceeds the size limit")
    envelope = parse(soap_request)
    body = envelope.find(qname("soap", "Body")) if envelope.tag == qname("soap", "Envelope") else None
    if body is None or len(body) != 1 or body[0].tag != qname("samlp", "ArtifactResolve"):
        raise SamlError(Reason.MESSAGE_MALFORMED, "not a SOAP envelope with one ArtifactResolve")
    resolve = body[0]
    signature.register_ids(envelope)
    signature.verify(resolve, sp.certificates)
    if resolve.get("Version") != "2.0" or not resolve.get("ID"):
        raise SamlError(Reason.MESSAGE_MALFORMED, "not a SAML 2.0 ArtifactResolve")
    if text(required_child(resolve, "saml", "Issuer")) != sp.entity_id:
        raise SamlError(Reason.ISSUER_MISMATCH, "ArtifactResolve Issuer is not the expected SP")
    if resolve.get("Destination", hm.ars_url) != hm.ars_url:
        raise SamlError(Reason.DESTINATION_MISMATCH, "ArtifactResolve Destination is not this HM")
    return resolve
