"""Validation of the HM's Response: every check in one straight line, each failing closed.

Takes a parsed `samlp:Response` (from the POST binding or out of an ArtifactResponse), our
settings, the HM, what we expect (the request we sent) and "now"; returns a
`ValidatedResponse` or raises a SamlError. Only the single top-level assertion counts: nested
signed assertions inside its `saml:Advice` are allowed and ignored, never read.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from config import SamlSettings, Service
from saml import encryption, signature
from saml.attributes import AssertionFacts, read_identity
from saml.errors import Reason, SamlError, StatusError
from saml.hm_metadata import IdentityProvider
from saml.identity import EherkenningIdentity
from saml.loa import LevelOfAssurance
from saml.xml import NS, child, format_instant, parse, parse_instant, qname, required_child, text

SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_STATUS_REASONS = {
    "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed": Reason.AUTHN_FAILED,
    "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext": Reason.NO_AUTHN_CONTEXT,
    "urn:oasis:names:tc:SAML:2.0:status:RequestDenied": Reason.REQUEST_DENIED,
}


@dataclass(frozen=True)
class Expected:
    """What this response must answer: our request, for this service, at this level or above, by
    an authentication made after the request was sent (it asks ForceAuthn)."""

    request_id: str
    service: Service
    minimum_level: LevelOfAssurance
    sent_at: datetime


@dataclass(frozen=True)
class ValidatedResponse:
    identity: EherkenningIdentity
    assertion_id: str
    # Until when the assertion ID must be remembered to refuse a replay.
    remember_until: datetime


def decode_post_response(value: str | None, max_bytes: int) -> etree._Element:
    """The Response element of an HTTP-POST `SAMLResponse` field."""
    if not value:
        raise SamlError(Reason.MESSAGE_MISSING, "SAMLResponse missing")
    if len(value) > max_bytes:
        raise SamlError(Reason.MESSAGE_TOO_LARGE, "SAMLResponse exceeds the size limit")
    try:
        data = base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise SamlError(Reason.MESSAGE_MALFORMED, "SAMLResponse is not base64") from None
    response = parse(data)
    if signature.is_signed(response) and response.get("Destination") is None:
        # saml-bindings-2.0-os §3.5.5.2: a signed POST message must name where it was sent.
        raise SamlError(Reason.DESTINATION_MISMATCH, "signed Response without Destination")
    return response


def validate_response(
    response: etree._Element,
    settings: SamlSettings,
    idp: IdentityProvider,
    expected: Expected,
    now: datetime,
) -> ValidatedResponse:
    """Check `response` against everything eHerkenning and saml-profiles-2.0-os §4.1.4 require."""
    if response.tag != qname("samlp", "Response") or response.get("Version") != "2.0":
        raise SamlError(Reason.MESSAGE_MALFORMED, "not a SAML 2.0 Response")
    signature.register_ids(response.getroottree().getroot())
    _check_issuer(response, idp, required=False)
    if response.get("InResponseTo") != expected.request_id:
        raise SamlError(
            Reason.IN_RESPONSE_TO_MISMATCH,
            "Response InResponseTo is not our request",
            facts=_compared("Response InResponseTo", expected.request_id, response.get("InResponseTo")),
        )
    destination = response.get("Destination")
    if destination is not None and destination != settings.acs_url:
        raise SamlError(
            Reason.DESTINATION_MISMATCH,
            "Response Destination is not our ACS",
            facts=_compared("Response Destination", settings.acs_url, destination),
        )
    if signature.is_signed(response):
        signature.verify(response, idp.signing_certificates)
    raise_for_status(response)

    assertion = _the_assertion(response, settings, now)
    signature.verify(assertion, idp.signing_certificates)
    _check_issuer(assertion, idp, required=True)
    skew = settings.clock_skew
    name_id = _check_subject(assertion, settings, expected, now, skew)
    valid_until = _check_conditions(assertion, settings, now, skew)
    level, authn_instant = _authn_statement(assertion)
    if authn_instant < expected.sent_at - skew:
        # An older sign-in the HM kept (single sign-on) is not the fresh one ForceAuthn asks for:
        # prompt=login and max_age promise portals a new authentication.
        raise SamlError(Reason.AUTHN_NOT_FRESH, "AuthnInstant precedes our request")
    if level < expected.minimum_level:
        raise SamlError(
            Reason.LOA_TOO_LOW,
            f"{level.value} below required {expected.minimum_level.value}",
            facts=_compared("AuthnContextClassRef", f"{expected.minimum_level.uri} or higher", level.uri),
            shown={
                "level": expected.minimum_level.label,
                "achieved": level.uri,
                "needed": expected.minimum_level.uri,
            },
        )

    def decrypt(container: etree._Element) -> etree._Element:
        return encryption.decrypt(container, settings, now)

    facts = AssertionFacts(name_id, level, authn_instant, idp.entity_id)
    identity = read_identity(assertion, facts, decrypt)
    _check_service(identity, settings, expected.service)
    return ValidatedResponse(
        identity=identity,
        assertion_id=assertion.get("ID", ""),
        remember_until=valid_until + skew,
    )


def raise_for_status(message: etree._Element) -> None:
    """Raise a StatusError unless `message`'s top-level status is Success."""
    status = required_child(message, "samlp", "Status")
    codes: list[str] = []
    code = child(status, "samlp", "StatusCode")
    while code is not None:
        codes.append(code.get("Value", ""))
        code = child(code, "samlp", "StatusCode")
    if codes and codes[0] == SUCCESS:
        return
    message_element = child(status, "samlp", "StatusMessage")
    status_message = (message_element.text or "").strip()[:200] if message_element is not None else ""
    reason = _STATUS_REASONS.get(codes[1] if len(codes) > 1 else "", Reason.STATUS_NOT_SUCCESS)
    if reason is Reason.AUTHN_FAILED and _says_cancelled(status_message):
        reason = Reason.CANCELLED
    raise StatusError(reason, tuple(codes), status_message)


def _says_cancelled(message: str) -> bool:
    # HMs report a cancel as AuthnFailed and say so in the StatusMessage, in English or Dutch.
    lowered = message.lower()
    return "cancel" in lowered or "annule" in lowered or "afgebroken" in lowered


def _check_issuer(element: etree._Element, idp: IdentityProvider, required: bool) -> None:
    issuer = child(element, "saml", "Issuer")
    if issuer is None:
        if required:
            raise SamlError(Reason.ISSUER_MISMATCH, "Issuer missing")
        return
    if text(issuer) != idp.entity_id:
        where = etree.QName(element).localname
        raise SamlError(
            Reason.ISSUER_MISMATCH,
            f"{where} Issuer is not the HM",
            facts=_compared(f"{where} Issuer", idp.entity_id, text(issuer)),
        )


def _the_assertion(response: etree._Element, settings: SamlSettings, now: datetime) -> etree._Element:
    plain = response.findall(qname("saml", "Assertion"))
    encrypted = response.findall(qname("saml", "EncryptedAssertion"))
    if len(plain) + len(encrypted) != 1:
        raise SamlError(Reason.ASSERTION_COUNT, "Response must carry exactly one top-level assertion")
    if plain:
        return plain[0]
    assertion = encryption.decrypt(encrypted[0], settings, now)
    if assertion.tag != qname("saml", "Assertion"):
        raise SamlError(Reason.DECRYPTION_FAILED, "EncryptedAssertion does not hold an Assertion")
    # The decrypted assertion is new to the document: its IDs must be unique and resolvable too.
    signature.register_ids(response.getroottree().getroot())
    return assertion


def _check_subject(
    assertion: etree._Element, settings: SamlSettings, expected: Expected, now: datetime, skew: timedelta
) -> str | None:
    subject = required_child(assertion, "saml", "Subject")
    for confirmation in subject.findall(qname("saml", "SubjectConfirmation")):
        if confirmation.get("Method") != _BEARER:
            continue
        data = required_child(confirmation, "saml", "SubjectConfirmationData")
        if data.get("Recipient") != settings.acs_url:
            raise SamlError(
                Reason.RECIPIENT_MISMATCH,
                "SubjectConfirmationData Recipient is not our ACS",
                facts=_compared("SubjectConfirmationData Recipient", settings.acs_url, data.get("Recipient")),
            )
        if data.get("InResponseTo") != expected.request_id:
            raise SamlError(
                Reason.IN_RESPONSE_TO_MISMATCH,
                "SubjectConfirmationData InResponseTo differs",
                facts=_compared(
                    "SubjectConfirmationData InResponseTo", expected.request_id, data.get("InResponseTo")
                ),
            )
        where = "SubjectConfirmationData"
        if parse_instant(data.get("NotOnOrAfter"), "NotOnOrAfter") <= now - skew:
            raise SamlError(Reason.EXPIRED, f"{where} has expired", facts=_window(where, data, now, skew))
        if data.get("NotBefore") and parse_instant(data.get("NotBefore"), "NotBefore") > now + skew:
            raise SamlError(
                Reason.NOT_YET_VALID, f"{where} is not yet valid", facts=_window(where, data, now, skew)
            )
        break
    else:
        raise SamlError(Reason.SUBJECT_CONFIRMATION, "no bearer SubjectConfirmation")
    name_id = child(subject, "saml", "NameID")
    return text(name_id) if name_id is not None else None


def _check_conditions(
    assertion: etree._Element, settings: SamlSettings, now: datetime, skew: timedelta
) -> datetime:
    conditions = required_child(assertion, "saml", "Conditions")
    not_before = conditions.get("NotBefore")
    if not_before and parse_instant(not_before, "NotBefore") > now + skew:
        raise SamlError(
            Reason.NOT_YET_VALID,
            "assertion is not yet valid",
            facts=_window("Conditions", conditions, now, skew),
        )
    not_on_or_after = parse_instant(conditions.get("NotOnOrAfter"), "Conditions NotOnOrAfter")
    if not_on_or_after <= now - skew:
        raise SamlError(
            Reason.EXPIRED, "assertion has expired", facts=_window("Conditions", conditions, now, skew)
        )
    restrictions = conditions.findall(qname("saml", "AudienceRestriction"))
    if not restrictions:
        raise SamlError(
            Reason.AUDIENCE_MISMATCH,
            "no AudienceRestriction",
            facts=_compared("Conditions AudienceRestriction", settings.entity_id, None),
        )
    for restriction in restrictions:
        audiences = [text(a) for a in restriction.findall(qname("saml", "Audience"))]
        if settings.entity_id not in audiences:
            raise SamlError(
                Reason.AUDIENCE_MISMATCH,
                "assertion is not meant for us",
                facts=_compared("Conditions Audience", settings.entity_id, ", ".join(audiences)),
            )
    return not_on_or_after


_CLASS_REFS = etree.XPath("saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef", namespaces=NS)


def _authn_statement(assertion: etree._Element) -> tuple[LevelOfAssurance, datetime]:
    statement = required_child(assertion, "saml", "AuthnStatement")
    class_ref = _CLASS_REFS(assertion)
    if len(class_ref) != 1:
        raise SamlError(Reason.LOA_UNKNOWN, "AuthnContextClassRef missing")
    level = LevelOfAssurance.from_uri(text(class_ref[0]))
    return level, parse_instant(statement.get("AuthnInstant"), "AuthnInstant")


def _check_service(identity: EherkenningIdentity, settings: SamlSettings, service: Service) -> None:
    if identity.service_id is None and identity.service_uuid is None:
        raise SamlError(Reason.SERVICE_MISSING, "assertion names no ServiceID or ServiceUUID")
    if identity.service_id is not None and identity.service_id != settings.service_id(service):
        raise SamlError(
            Reason.SERVICE_MISMATCH,
            "assertion is for another ServiceID",
            facts=_compared("ServiceID", settings.service_id(service), identity.service_id),
        )
    if identity.service_uuid is not None and identity.service_uuid != service.uuid:
        raise SamlError(
            Reason.SERVICE_MISMATCH,
            "assertion is for another ServiceUUID",
            facts=_compared("ServiceUUID", service.uuid, identity.service_uuid),
        )


def _compared(check: str, expected: str, received: str | None) -> dict[str, str]:
    """What a check of one value compared: never a value naming a person (entity IDs, URLs, IDs
    we made)."""
    return {
        "check": check,
        "expected": expected,
        "received": "(none)" if received is None else received[:300],
    }


def _window(check: str, element: etree._Element, now: datetime, skew: timedelta) -> dict[str, str]:
    """The validity window an element names, against our clock and the skew allowed."""
    facts = {"check": f"{check} NotBefore/NotOnOrAfter", "now": format_instant(now), "clock_skew": str(skew)}
    for name in ("NotBefore", "NotOnOrAfter"):
        if element.get(name):
            facts[name] = element.get(name, "")[:64]
    return facts
