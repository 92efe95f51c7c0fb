"""The SP's AuthnRequest as the simulated HM receives it, over HTTP-POST or HTTP-Redirect.

Refuses, with a SamlError, what a real HM refuses: unsigned or badly signed requests, requests
from another SP, for another HM, for an ACS or service the SP never registered, or stale ones.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote_plus

import xmlsec
from lxml import etree

from config import Binding
from saml import signature
from saml.errors import Reason, SamlError
from saml.simulator.hm import SimulatorHm
from saml.simulator.service_provider import ServiceProvider
from saml.xml import parse, parse_instant, qname, required_child, text

MAX_BYTES = 256 * 1024
# How old an AuthnRequest may be, and how far ahead of our clock: HMs refuse stale requests.
_MAX_AGE = timedelta(minutes=15)
_SKEW = timedelta(minutes=2)
_RESPONSE_BINDINGS = frozenset({Binding.POST, Binding.ARTIFACT})


@dataclass(frozen=True)
class ReceivedRequest:
    """A verified AuthnRequest: what the HM needs to answer it."""

    id: str
    issuer: str
    acs_url: str
    protocol_binding: Binding | None
    attribute_consuming_service_index: int
    force_authn: bool
    relay_state: str | None = None


def read_post_request(
    values: Mapping[str, str], hm: SimulatorHm, sp: ServiceProvider, now: datetime, max_bytes: int = MAX_BYTES
) -> ReceivedRequest:
    """The AuthnRequest in HTTP-POST form fields (`SAMLRequest`, `RelayState`), signature enveloped."""
    encoded = values.get("SAMLRequest")
    if not encoded:
        raise SamlError(Reason.MESSAGE_MISSING, "SAMLRequest missing")
    if len(encoded) > max_bytes:
        raise SamlError(Reason.MESSAGE_TOO_LARGE, "SAMLRequest exceeds the size limit")
    request = parse(_base64(encoded))
    signature.register_ids(request)
    signature.verify(request, sp.certificates)
    return _read(request, hm, sp, now, values.get("RelayState"))


def read_redirect_request(
    query: str, hm: SimulatorHm, sp: ServiceProvider, now: datetime, max_bytes: int = MAX_BYTES
) -> ReceivedRequest:
    """The AuthnRequest in an HTTP-Redirect query string, exactly as received (still URL-encoded).

    The signature covers `SAMLRequest=…&RelayState=…&SigAlg=…` as the values appeared in the
    URL, not re-encoded ones (saml-bindings-2.0-os §3.4.4.1).
    """
    if len(query) > max_bytes:
        raise SamlError(Reason.MESSAGE_TOO_LARGE, "query string exceeds the size limit")
    raw = _raw_parameters(query)
    if "SAMLRequest" not in raw:
        raise SamlError(Reason.MESSAGE_MISSING, "SAMLRequest missing")
    if "Signature" not in raw or "SigAlg" not in raw:
        raise SamlError(Reason.SIGNATURE_MISSING, "AuthnRequest is not signed")
    if unquote_plus(raw["SigAlg"]) != signature.RSA_SHA256:
        raise SamlError(Reason.SIGNATURE_ALGORITHM, "SigAlg is not RSA-SHA256")
    signed = "&".join(
        f"{name}={raw[name]}" for name in ("SAMLRequest", "RelayState", "SigAlg") if name in raw
    )
    _verify_query_signature(signed.encode("utf-8"), _base64(unquote_plus(raw["Signature"])), sp.certificates)
    request = parse(_inflate(_base64(unquote_plus(raw["SAMLRequest"])), max_bytes))
    relay_state = unquote_plus(raw["RelayState"]) if "RelayState" in raw else None
    return _read(request, hm, sp, now, relay_state)


def _raw_parameters(query: str) -> dict[str, str]:
    raw: dict[str, str] = {}
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name in raw:
            raise SamlError(Reason.MESSAGE_MALFORMED, f"query parameter {name[:20]!r} repeats")
        raw[name] = value
    return raw


def _base64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise SamlError(Reason.MESSAGE_MALFORMED, "value is not base64") from None


def _inflate(data: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(data, max_bytes + 1)
    except zlib.error:
        raise SamlError(Reason.MESSAGE_MALFORMED, "SAMLRequest is not deflated") from None
    if len(inflated) > max_bytes or inflater.unconsumed_tail:
        raise SamlError(Reason.MESSAGE_TOO_LARGE, "inflated SAMLRequest exceeds the size limit")
    return inflated


def _verify_query_signature(signed: bytes, signature_value: bytes, certificates: Iterable[bytes]) -> None:
    for cert in certificates:
        context = xmlsec.SignatureContext()
        context.key = signature.certificate_key(cert)
        try:
            context.verify_binary(signed, xmlsec.Transform.RSA_SHA256, signature_value)
        except xmlsec.Error:
            continue
        return
    raise SamlError(Reason.SIGNATURE_INVALID, "query string signature does not verify")


def _read(
    request: etree._Element, hm: SimulatorHm, sp: ServiceProvider, now: datetime, relay_state: str | None
) -> ReceivedRequest:
    if (
        request.tag != qname("samlp", "AuthnRequest")
        or request.get("Version") != "2.0"
        or not request.get("ID")
    ):
        raise SamlError(Reason.MESSAGE_MALFORMED, "not a SAML 2.0 AuthnRequest")
    issuer = text(required_child(request, "saml", "Issuer"))
    if issuer != sp.entity_id:
        raise SamlError(Reason.ISSUER_MISMATCH, "AuthnRequest Issuer is not the expected SP")
    if request.get("Destination", hm.sso_url) != hm.sso_url:
        raise SamlError(Reason.DESTINATION_MISMATCH, "AuthnRequest Destination is not this HM")
    issued = parse_instant(request.get("IssueInstant"), "IssueInstant")
    if not now - _MAX_AGE <= issued <= now + _SKEW:
        raise SamlError(Reason.REQUEST_EXPIRED, "AuthnRequest IssueInstant is out of range")
    acs_url = request.get("AssertionConsumerServiceURL", sp.acs_url)
    if acs_url != sp.acs_url:
        raise SamlError(Reason.RECIPIENT_MISMATCH, "AssertionConsumerServiceURL is not the SP's ACS")
    return ReceivedRequest(
        id=request.get("ID", ""),
        issuer=issuer,
        acs_url=acs_url,
        protocol_binding=_protocol_binding(request),
        attribute_consuming_service_index=_service_index(request, sp),
        force_authn=request.get("ForceAuthn") in {"true", "1"},
        relay_state=relay_state,
    )


def _protocol_binding(request: etree._Element) -> Binding | None:
    value = request.get("ProtocolBinding")
    if value is None:
        return None
    if value not in _RESPONSE_BINDINGS:
        raise SamlError(Reason.MESSAGE_MALFORMED, "ProtocolBinding is neither HTTP-POST nor HTTP-Artifact")
    return Binding(value)


def _service_index(request: etree._Element, sp: ServiceProvider) -> int:
    value = request.get("AttributeConsumingServiceIndex", "")
    if not value.isascii() or not value.isdigit() or sp.service(int(value)) is None:
        raise SamlError(
            Reason.SERVICE_MISSING, "AttributeConsumingServiceIndex names none of the SP's services"
        )
    return int(value)
