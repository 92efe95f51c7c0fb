"""Attacks on response validation: tampering, signature wrapping, binding, time, status, XML, decryption.

Each response is built by the simulator with real keys, changed the way an attacker (or a
broken HM) would, sent through `decode_post_response` and `validate_response`, and must be
refused with the specific reason. Replay needs the database and is tested with the ACS.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from config import KeyPair, NextKey, Registry, SamlSettings, Settings
from config.dev_keys import ensure_key_pair, generate_key_pair
from saml import signature
from saml.attributes import (
    ESTABLISHMENT_RESTRICTION,
    LEGAL_SUBJECT_ID,
    SERVICE_ID,
    SERVICE_UUID,
)
from saml.errors import Reason, SamlError, StatusError
from saml.hm_metadata import parse_metadata
from saml.identifiers import IdentifierType
from saml.identity import Identifier
from saml.keys import certificate_base64
from saml.loa import LevelOfAssurance
from saml.response import Expected, decode_post_response
from saml.simulator import (
    CANCELLED,
    NO_MANDATE,
    Mandate,
    ObsoleteLevel,
    Recipient,
    Scenario,
    ServiceProvider,
    Shape,
    SimulatorHm,
    Status,
    encrypt_assertion,
    pseudonym,
    recipients_for,
)
from saml.simulator.advice import mandate_register_id
from saml.xml import NS, format_instant, parse, qname
from tests.saml.crafting import (
    NOW,
    World,
    advice,
    assertion,
    attribute_value,
    class_ref,
    extensions,
    only,
    post_value,
    put_signature,
    received_request,
    response,
    split_with_comment,
    take_signature,
    to_pkcs1_v15,
    to_triple_des,
    unsigned_assertion,
    validate,
)

PLAIN = Shape(encrypt_ids=False)
LIFETIME = Shape().lifetime
KVK_ATTRIBUTE = IdentifierType.KVK.value
FORGED_KVK = "66666666"
STATUS = "urn:oasis:names:tc:SAML:2.0:status:"
ELSEWHERE = "https://intruder.example/saml"
OTHER_SERVICE_ID = "urn:etoegang:DV:00000001111111110000:services:1"
CLASS_REF = "saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef"


@pytest.fixture(scope="module")
def hm(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> SimulatorHm:
    base = f"{settings.saml.base_url}/simulator"
    key = ensure_key_pair(tmp_path_factory.mktemp("simulator"), "hm", "eh-broker HM simulator")
    return SimulatorHm(entity_id=f"{base}/metadata", key=key, sso_url=f"{base}/sso", ars_url=f"{base}/ars")


@pytest.fixture(scope="module")
def attacker_key() -> KeyPair:
    """A key pair the HM's metadata does not name."""
    return generate_key_pair("intruder")


@pytest.fixture
def world(settings: Settings, registry: Registry, hm: SimulatorHm) -> World:
    """A sign-in pending for our first service, with a fresh request ID."""
    idp = parse_metadata(hm.metadata(NOW), NOW, (hm.key.cert_pem,))
    sp = ServiceProvider.from_settings(settings.saml, registry.services, NOW)
    service = registry.services[0]
    assert service.minimum_loa == "loa3"
    return World(settings.saml, hm, idp, sp, service, received_request(sp, service))


def refusal(
    world: World,
    element: etree._Element,
    now: datetime = NOW,
    expected: Expected | None = None,
    saml: SamlSettings | None = None,
) -> SamlError:
    """The SamlError validating `element` raises; fails the test when it is accepted."""
    with pytest.raises(SamlError) as refused:
        validate(world, element, now, expected, saml)
    return refused.value


def forged(world: World) -> etree._Element:
    """An unsigned assertion for another company: anyone can build one."""
    return unsigned_assertion(world, Scenario(kvk_number=FORGED_KVK))


# --- the baseline: genuine responses are accepted ------------------------------------------------

SCENARIOS = {
    "own-company": Scenario(),
    "representative": Scenario(mandate=Mandate.REPRESENTATIVE, intermediary_kvk="87654321"),
    "establishment": Scenario(establishment="000012345678"),
    "advice": Scenario(mandate=Mandate.REPRESENTATIVE, establishment="000012345678", advice=True),
}
SHAPES = {
    "encrypted-ids": (Shape(), False),
    "plain-ids": (PLAIN, False),
    "encrypted-assertion-signed-response": (Shape(encrypt_assertion=True), True),
}


@pytest.mark.parametrize("shape_name", list(SHAPES))
@pytest.mark.parametrize("scenario_name", list(SCENARIOS))
def test_a_genuine_response_gives_the_identity(world: World, scenario_name: str, shape_name: str) -> None:
    scenario, (shape, signed) = SCENARIOS[scenario_name], SHAPES[shape_name]
    genuine = assertion(world, scenario, shape)
    if scenario.advice:
        assert len(genuine.findall(f"{qname('saml', 'Advice')}/{qname('saml', 'Assertion')}")) == 2
    content = (
        encrypt_assertion(genuine, recipients_for(world.sp, shape)) if shape.encrypt_assertion else genuine
    )
    validated = validate(world, response(world, content, signed=signed))
    identity = validated.identity
    assert identity.legal_subject == Identifier(IdentifierType.KVK, scenario.kvk_number)
    assert identity.acting_subject == pseudonym(world.hm, world.sp, scenario)
    representative = scenario.mandate is Mandate.REPRESENTATIVE
    intermediary = Identifier(IdentifierType.KVK, scenario.intermediary_kvk) if representative else None
    assert identity.intermediary == intermediary
    assert identity.establishment_restriction == scenario.establishment
    assert identity.level is LevelOfAssurance.LOA3
    assert identity.authn_instant == NOW
    assert identity.hm_entity_id == world.hm.entity_id
    assert identity.service_id == world.saml.service_id(world.service)
    assert identity.service_uuid == world.service.uuid
    assert validated.assertion_id == genuine.get("ID")
    assert validated.remember_until == NOW + LIFETIME + world.saml.clock_skew


# --- a value changed after signing ---------------------------------------------------------------


def _set_text(path: str, value: str) -> Callable[[etree._Element], None]:
    def change(element: etree._Element) -> None:
        only(element, path).text = value

    return change


def _attribute(name: str, value: str) -> Callable[[etree._Element], None]:
    def change(element: etree._Element) -> None:
        attribute_value(element, name).text = value

    return change


def _drop_attributes(*names: str) -> Callable[[etree._Element], None]:
    def change(element: etree._Element) -> None:
        for name in names:
            value = attribute_value(element, name)
            statement = value.getparent().getparent()
            statement.remove(value.getparent())

    return change


def _set(path: str, name: str, value: str) -> Callable[[etree._Element], None]:
    def change(element: etree._Element) -> None:
        only(element, path).set(name, value)

    return change


AFTER_SIGNING = {
    "kvk-number": _attribute(KVK_ATTRIBUTE, FORGED_KVK),
    "level": _set_text(CLASS_REF, LevelOfAssurance.LOA4.uri),
    "name-id": _set_text("saml:Subject/saml:NameID", "someone-else"),
    "establishment": _attribute(ESTABLISHMENT_RESTRICTION, "000087654321"),
    "not-on-or-after": _set("saml:Conditions", "NotOnOrAfter", "2030-01-01T00:00:00Z"),
    "service-id-in-advice": _set_text(
        f"saml:Advice/saml:Assertion/saml:AttributeStatement/saml:Attribute[@Name='{SERVICE_ID}']"
        "/saml:AttributeValue",
        OTHER_SERVICE_ID,
    ),
}


@pytest.mark.parametrize("change", list(AFTER_SIGNING))
def test_a_value_changed_after_signing_is_refused(world: World, change: str) -> None:
    genuine = assertion(world, Scenario(establishment="000012345678", advice=True), PLAIN)
    AFTER_SIGNING[change](genuine)
    assert refusal(world, response(world, genuine)).reason is Reason.SIGNATURE_INVALID


# --- signature wrapping (XSW) --------------------------------------------------------------------


@pytest.mark.parametrize("forged_first", [True, False], ids=["forged-first", "forged-second"])
def test_a_second_top_level_assertion_is_refused(world: World, forged_first: bool) -> None:
    message = response(world, assertion(world))
    genuine = only(message, "saml:Assertion")
    if forged_first:
        genuine.addprevious(forged(world))
    else:
        genuine.addnext(forged(world))
    assert refusal(world, message).reason is Reason.ASSERTION_COUNT


def test_a_forged_encrypted_assertion_beside_the_signed_one_is_refused(world: World) -> None:
    message = response(world, assertion(world))
    message.append(encrypt_assertion(forged(world), recipients_for(world.sp, Shape())))
    assert refusal(world, message).reason is Reason.ASSERTION_COUNT


def _hide_in_extensions(message: etree._Element, genuine: etree._Element) -> None:
    extensions(message).append(genuine)


def _hide_in_object(message: etree._Element, genuine: etree._Element) -> None:
    signature_element = only(message, "saml:Assertion/ds:Signature")
    signature_element.append(etree.Element(qname("ds", "Object")))
    signature_element[-1].append(genuine)


def _hide_in_advice(message: etree._Element, genuine: etree._Element) -> None:
    advice(only(message, "saml:Assertion")).append(genuine)


HIDING_PLACES = {
    "removed": lambda message, genuine: None,
    "response-extensions": _hide_in_extensions,
    "signature-object": _hide_in_object,
    "forged-advice": _hide_in_advice,
}


@pytest.mark.parametrize("place", list(HIDING_PLACES))
def test_the_signature_moved_into_a_forged_assertion_is_refused(world: World, place: str) -> None:
    """The forged assertion carries the genuine signature, which still references the genuine ID."""
    genuine = assertion(world)
    fake = forged(world)
    put_signature(fake, take_signature(genuine))
    message = response(world, fake)
    HIDING_PLACES[place](message, genuine)
    assert refusal(world, message).reason is Reason.SIGNATURE_REFERENCE


@pytest.mark.parametrize("place", [p for p in HIDING_PLACES if p != "removed"])
def test_a_forged_assertion_with_the_signed_id_is_refused(world: World, place: str) -> None:
    """The forged assertion takes the genuine ID and signature: the ID occurs twice."""
    genuine = assertion(world)
    fake = forged(world)
    fake.set("ID", genuine.get("ID", ""))
    put_signature(fake, take_signature(genuine))
    message = response(world, fake)
    HIDING_PLACES[place](message, genuine)
    assert refusal(world, message).reason is Reason.DUPLICATE_ID


def test_an_xml_id_repeating_the_signed_id_is_refused(world: World) -> None:
    genuine = assertion(world)
    message = response(world, genuine)
    extensions(message).set("{http://www.w3.org/XML/1998/namespace}id", genuine.get("ID", ""))
    assert refusal(world, message).reason is Reason.DUPLICATE_ID


@pytest.mark.parametrize("place", ["response-extensions", "forged-advice"])
def test_the_signed_assertion_hidden_beside_an_unsigned_forged_one_is_refused(
    world: World, place: str
) -> None:
    message = response(world, forged(world))
    HIDING_PLACES[place](message, assertion(world))
    assert refusal(world, message).reason is Reason.SIGNATURE_MISSING


def test_the_signed_assertion_hidden_inside_an_encrypted_assertion_is_refused(world: World) -> None:
    """Decryption replaces EncryptedData, and what it held; its IDs must not stay resolvable."""
    genuine = assertion(world)
    fake = forged(world)
    fake.set("ID", genuine.get("ID", ""))
    put_signature(fake, take_signature(genuine))
    encrypted = encrypt_assertion(fake, recipients_for(world.sp, Shape()))
    only(encrypted, "xenc:EncryptedData/ds:KeyInfo").append(genuine)
    assert refusal(world, response(world, encrypted)).reason is Reason.SIGNATURE_INVALID


def test_a_signature_over_another_element_is_refused(world: World) -> None:
    """The HM's public metadata is signed with its key: its signature, and the metadata it covers,
    travel with a forged assertion. The signature verifies, but references the metadata."""
    metadata = parse(world.hm.metadata(NOW))
    fake = forged(world)
    put_signature(fake, take_signature(metadata))
    message = response(world, fake)
    extensions(message).append(metadata)
    assert refusal(world, message).reason is Reason.SIGNATURE_REFERENCE


def test_an_advice_assertions_signature_moved_into_a_forged_assertion_is_refused(world: World) -> None:
    genuine = assertion(world, Scenario(advice=True))
    nested = only(genuine, "saml:Advice/saml:Assertion[2]")
    fake = forged(world)
    put_signature(fake, take_signature(nested))
    advice(fake).append(nested)
    assert refusal(world, response(world, fake)).reason is Reason.SIGNATURE_REFERENCE


def test_an_advice_assertion_promoted_to_the_top_is_refused(world: World) -> None:
    """Nested assertions are signed too (here with the HM's key), but not issued by the HM."""
    nested = only(assertion(world, Scenario(advice=True)), "saml:Advice/saml:Assertion[2]")
    assert only(nested, "saml:Issuer").text == mandate_register_id(world.hm)
    assert refusal(world, response(world, nested)).reason is Reason.ISSUER_MISMATCH


@pytest.mark.parametrize("with_digest", [False, True], ids=["signature-value", "signature-and-digest"])
def test_a_signature_value_copied_into_a_forged_assertion_is_refused(
    world: World, attacker_key: KeyPair, with_digest: bool
) -> None:
    genuine = assertion(world)
    fake = assertion(world, Scenario(kvk_number=FORGED_KVK), key=attacker_key)
    paths = ["ds:Signature/ds:SignatureValue"]
    if with_digest:
        paths.append("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue")
    for path in paths:
        only(fake, path).text = only(genuine, path).text
    assert refusal(world, response(world, fake)).reason is Reason.SIGNATURE_INVALID


# --- comments inside signed values ---------------------------------------------------------------

COMMENTED = {
    "kvk-number": (lambda a: attribute_value(a, KVK_ATTRIBUTE), 4),
    "name-id": (lambda a: only(a, "saml:Subject/saml:NameID"), 10),
    "level": (class_ref, len(LevelOfAssurance.LOA3.uri) - 1),
    "audience": (lambda a: only(a, "saml:Conditions/saml:AudienceRestriction/saml:Audience"), 8),
}


@pytest.mark.parametrize("signed_response", [False, True], ids=["unsigned-response", "signed-response"])
@pytest.mark.parametrize("value", list(COMMENTED))
def test_a_comment_inside_a_signed_value_is_refused(world: World, value: str, signed_response: bool) -> None:
    genuine = assertion(world, shape=PLAIN)
    message = response(world, genuine, signed=signed_response)
    before = etree.tostring(message, method="c14n", exclusive=True, with_comments=False)
    pick, at = COMMENTED[value]
    split_with_comment(pick(genuine), at)
    # The signature still verifies: exclusive c14n without comments sees the same bytes.
    assert etree.tostring(message, method="c14n", exclusive=True, with_comments=False) == before
    assert refusal(world, message).reason is Reason.COMMENT_IN_SIGNED_CONTENT


# --- binding to us and to our request ------------------------------------------------------------


CONFIRMATION = "saml:Subject/saml:SubjectConfirmation"
SIGNED_CHANGES = {
    "audience": (
        _set_text("saml:Conditions/saml:AudienceRestriction/saml:Audience", ELSEWHERE),
        Reason.AUDIENCE_MISMATCH,
    ),
    "recipient": (
        _set(f"{CONFIRMATION}/saml:SubjectConfirmationData", "Recipient", ELSEWHERE + "/acs"),
        Reason.RECIPIENT_MISMATCH,
    ),
    "confirmation-in-response-to": (
        _set(f"{CONFIRMATION}/saml:SubjectConfirmationData", "InResponseTo", "_another_request"),
        Reason.IN_RESPONSE_TO_MISMATCH,
    ),
    "not-bearer": (
        _set(CONFIRMATION, "Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"),
        Reason.SUBJECT_CONFIRMATION,
    ),
    "assertion-issuer": (_set_text("saml:Issuer", ELSEWHERE), Reason.ISSUER_MISMATCH),
    "service-id": (
        _attribute(SERVICE_ID, OTHER_SERVICE_ID),
        Reason.SERVICE_MISMATCH,
    ),
    "service-uuid": (
        _attribute(SERVICE_UUID, "0d9c7f1e-3a5b-4c2d-8e6f-9a0b1c2d3e4f"),
        Reason.SERVICE_MISMATCH,
    ),
    "no-service": (_drop_attributes(SERVICE_ID, SERVICE_UUID), Reason.SERVICE_MISSING),
    "unknown-level": (
        _set_text(CLASS_REF, "urn:example:loa9"),
        Reason.LOA_UNKNOWN,
    ),
}


@pytest.mark.parametrize("change", list(SIGNED_CHANGES))
def test_a_signed_assertion_that_does_not_fit_is_refused(world: World, change: str) -> None:
    edit, reason = SIGNED_CHANGES[change]
    assert refusal(world, response(world, assertion(world, edit=edit))).reason is reason


RESPONSE_CHANGES = {
    "issuer": ("Issuer", ELSEWHERE, Reason.ISSUER_MISMATCH),
    "destination": ("Destination", ELSEWHERE + "/acs", Reason.DESTINATION_MISMATCH),
    "in-response-to": ("InResponseTo", "_another_request", Reason.IN_RESPONSE_TO_MISMATCH),
    "no-in-response-to": ("InResponseTo", None, Reason.IN_RESPONSE_TO_MISMATCH),
}


@pytest.mark.parametrize("signed", [True, False], ids=["signed-response", "unsigned-response"])
@pytest.mark.parametrize("change", list(RESPONSE_CHANGES))
def test_a_response_that_does_not_fit_is_refused(
    world: World, hm: SimulatorHm, change: str, signed: bool
) -> None:
    name, value, reason = RESPONSE_CHANGES[change]
    message = response(world, assertion(world))
    if name == "Issuer":
        only(message, "saml:Issuer").text = value
    elif value is None:
        del message.attrib[name]
    else:
        message.set(name, value)
    if signed:
        signature.sign(message, hm.key)
    assert refusal(world, message).reason is reason


def test_a_signed_posted_response_must_name_its_destination(world: World, hm: SimulatorHm) -> None:
    message = response(world, assertion(world))
    del message.attrib["Destination"]
    signature.sign(message, hm.key)
    assert refusal(world, message).reason is Reason.DESTINATION_MISMATCH


def test_a_response_to_another_request_is_refused(world: World) -> None:
    other = Expected("_another_request", world.service, LevelOfAssurance.LOA3, NOW)
    refused = refusal(world, response(world, assertion(world)), expected=other)
    assert refused.reason is Reason.IN_RESPONSE_TO_MISMATCH


def test_an_assertion_for_another_service_is_refused(world: World) -> None:
    """The HM answered our request for the second service; we started the sign-in for the first."""
    other_service = world.sp.services[1]
    asked = dataclasses.replace(world, request=received_request(world.sp, other_service))
    genuine = assertion(asked)
    assert attribute_value(genuine, SERVICE_UUID).text == other_service.uuid
    expected = Expected(asked.request.id, world.service, LevelOfAssurance.LOA2, NOW)
    assert refusal(asked, response(asked, genuine), expected=expected).reason is Reason.SERVICE_MISMATCH


# --- time ----------------------------------------------------------------------------------------

# The simulator's assertion is valid from NOW - 30 s until NOW + lifetime; the skew is 120 s.
NOT_BEFORE = NOW - timedelta(seconds=30)
UNTIL = NOW + LIFETIME
SECOND = timedelta(seconds=1)
MOMENTS = {
    "expired-beyond-skew": (lambda skew: UNTIL + skew + SECOND, Reason.EXPIRED),
    "expired-at-the-skew-edge": (lambda skew: UNTIL + skew, Reason.EXPIRED),
    "expired-within-skew": (lambda skew: UNTIL + skew - SECOND, None),
    "early-beyond-skew": (lambda skew: NOT_BEFORE - skew - SECOND, Reason.NOT_YET_VALID),
    "early-within-skew": (lambda skew: NOT_BEFORE - skew, None),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_the_validity_window_holds_with_the_clock_skew(world: World, moment: str) -> None:
    at, reason = MOMENTS[moment]
    now = at(world.saml.clock_skew)
    message = response(world, assertion(world))
    if reason is None:
        assert validate(world, message, now=now).identity.kvk_number == "12345678"
    else:
        assert refusal(world, message, now=now).reason is reason


# The Conditions stay valid; only the SubjectConfirmationData is out of its window, beyond the skew.
CONFIRMATION_TIMES = {
    "not-on-or-after-past": ("NotOnOrAfter", -1, Reason.EXPIRED),
    "not-before-future": ("NotBefore", 1, Reason.NOT_YET_VALID),
}


@pytest.mark.parametrize("change", list(CONFIRMATION_TIMES))
def test_the_subject_confirmation_has_its_own_window(world: World, change: str) -> None:
    name, direction, reason = CONFIRMATION_TIMES[change]
    moment = NOW + direction * (world.saml.clock_skew + SECOND)
    edit = _set(f"{CONFIRMATION}/saml:SubjectConfirmationData", name, format_instant(moment))
    assert refusal(world, response(world, assertion(world, edit=edit))).reason is reason


# Our request went out at NOW and asked ForceAuthn: an authentication from before it is an old one.
AUTHN_INSTANTS = {
    "after-the-request": (NOW + SECOND, None),
    "before-it-within-skew": (NOW - timedelta(seconds=119), None),
    "before-it-beyond-skew": (NOW - timedelta(seconds=121), Reason.AUTHN_NOT_FRESH),
    "hours-before-it": (NOW - timedelta(hours=3), Reason.AUTHN_NOT_FRESH),
}


@pytest.mark.parametrize("case", list(AUTHN_INSTANTS))
def test_an_authentication_older_than_our_request_is_refused(world: World, case: str) -> None:
    """A sign-in the HM kept from before (single sign-on) is not the new one ForceAuthn asks for."""
    instant, reason = AUTHN_INSTANTS[case]
    edit = _set("saml:AuthnStatement", "AuthnInstant", format_instant(instant))
    message = response(world, assertion(world, edit=edit))
    if reason is None:
        assert validate(world, message).identity.authn_instant == instant
    else:
        assert refusal(world, message).reason is reason


# --- who signed ----------------------------------------------------------------------------------


@pytest.mark.parametrize("signed_response", [True, False], ids=["signed-response", "unsigned-response"])
def test_an_unsigned_assertion_is_refused(world: World, signed_response: bool) -> None:
    message = response(world, unsigned_assertion(world), signed=signed_response)
    assert refusal(world, message).reason is Reason.SIGNATURE_MISSING


def test_an_unsigned_encrypted_assertion_is_refused(world: World) -> None:
    encrypted = encrypt_assertion(unsigned_assertion(world), recipients_for(world.sp, Shape()))
    assert refusal(world, response(world, encrypted)).reason is Reason.SIGNATURE_MISSING


SIGNED_BY_ANOTHER = {
    "assertion": lambda world, key: response(world, assertion(world, key=key)),
    "encrypted-assertion": lambda world, key: response(
        world, encrypt_assertion(assertion(world, key=key), recipients_for(world.sp, Shape()))
    ),
    "response": lambda world, key: response(world, assertion(world), signed=True, key=key),
}


@pytest.mark.parametrize("signed", list(SIGNED_BY_ANOTHER))
def test_a_signature_by_a_key_not_in_the_metadata_is_refused(
    world: World, attacker_key: KeyPair, signed: str
) -> None:
    """The intruder's certificate travels in the signature's KeyInfo: only the pinned ones count."""
    message = SIGNED_BY_ANOTHER[signed](world, attacker_key)
    if signed != "encrypted-assertion":
        embedded = {"".join(c.split()) for c in message.xpath("//ds:X509Certificate/text()", namespaces=NS)}
        assert certificate_base64(attacker_key.cert_pem) in embedded
    assert refusal(world, message).reason is Reason.SIGNATURE_INVALID


# --- level of assurance --------------------------------------------------------------------------

LEVELS = {
    "loa1-obsolete": (ObsoleteLevel.LOA1, LevelOfAssurance.LOA2, Reason.LOA_UNKNOWN),
    "loa2-below-loa3": (LevelOfAssurance.LOA2, LevelOfAssurance.LOA3, Reason.LOA_TOO_LOW),
    "loa2plus-below-loa3": (LevelOfAssurance.LOA2PLUS, LevelOfAssurance.LOA3, Reason.LOA_TOO_LOW),
    "loa3-below-loa4": (LevelOfAssurance.LOA3, LevelOfAssurance.LOA4, Reason.LOA_TOO_LOW),
    "loa4-above-loa3": (LevelOfAssurance.LOA4, LevelOfAssurance.LOA3, None),
}


@pytest.mark.parametrize("case", list(LEVELS))
def test_the_level_must_be_known_and_high_enough(world: World, case: str) -> None:
    level, minimum, reason = LEVELS[case]
    message = response(world, assertion(world, Scenario(level=level)))
    expected = world.expected(minimum)
    if reason is None:
        assert validate(world, message, expected=expected).identity.level is level
    else:
        assert refusal(world, message, expected=expected).reason is reason


# --- non-success statuses ------------------------------------------------------------------------

STATUSES = {
    "cancelled": (CANCELLED, Reason.CANCELLED),
    "cancelled-in-dutch": (
        Status((f"{STATUS}Responder", f"{STATUS}AuthnFailed"), "Inloggen afgebroken door gebruiker"),
        Reason.CANCELLED,
    ),
    "authn-failed": (
        Status((f"{STATUS}Responder", f"{STATUS}AuthnFailed"), "Wrong password"),
        Reason.AUTHN_FAILED,
    ),
    "request-denied": (NO_MANDATE, Reason.REQUEST_DENIED),
    "no-authn-context": (Status((f"{STATUS}Responder", f"{STATUS}NoAuthnContext")), Reason.NO_AUTHN_CONTEXT),
    "requester-only": (Status((f"{STATUS}Requester",)), Reason.STATUS_NOT_SUCCESS),
}


@pytest.mark.parametrize("case", list(STATUSES))
def test_a_non_success_status_is_a_status_error(world: World, case: str) -> None:
    status, reason = STATUSES[case]
    refused = refusal(world, response(world, None, signed=True, status=status))
    assert isinstance(refused, StatusError)
    assert refused.reason is reason
    assert refused.status_codes == status.codes


def test_a_status_in_a_response_signed_by_another_key_is_refused(world: World, attacker_key: KeyPair) -> None:
    message = response(world, None, signed=True, status=CANCELLED, key=attacker_key)
    assert refusal(world, message).reason is Reason.SIGNATURE_INVALID


# --- the XML itself ------------------------------------------------------------------------------

_LAUGHS = "".join(
    ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
)
_RESPONSE_ROOT = '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" Version="2.0">'
MALFORMED_DTD = "<!ELEMENT broken"  # refused when read: so reading it shows


def dtd_documents(folder: Path) -> dict[str, str]:
    """Documents with a DTD; the external ones point at a local file that breaks parsing if read."""
    target = folder / "external.dtd"
    target.write_text(MALFORMED_DTD)
    url = target.as_uri()
    return {
        "billion-laughs": f"<!DOCTYPE r [{_LAUGHS}]>{_RESPONSE_ROOT}&lol9;</samlp:Response>",
        "external-entity": f'<!DOCTYPE r [<!ENTITY x SYSTEM "{url}">]>{_RESPONSE_ROOT}&x;</samlp:Response>',
        "external-subset": f'<!DOCTYPE r SYSTEM "{url}">{_RESPONSE_ROOT}</samlp:Response>',
        "external-parameter-entity": (
            f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}"> %p;]>{_RESPONSE_ROOT}</samlp:Response>'
        ),
    }


DTD_CASES = [
    pytest.param(encoding, name, id=f"{encoding}-{name}")
    for encoding in ("utf-8", "utf-16", "utf-16-be")
    for name in ("billion-laughs", "external-entity", "external-subset", "external-parameter-entity")
]


@pytest.mark.parametrize(("encoding", "name"), DTD_CASES)
def test_a_document_with_a_dtd_is_refused_unread(tmp_path: Path, encoding: str, name: str) -> None:
    document = dtd_documents(tmp_path)[name]
    value = base64.b64encode(document.encode(encoding)).decode()
    with pytest.raises(SamlError) as refused:
        decode_post_response(value, 1024 * 1024)
    # UTF-8 is refused for its DTD; anything else before parsing, so no DTD is ever read.
    expected = Reason.DTD_FORBIDDEN if encoding == "utf-8" else Reason.MESSAGE_MALFORMED
    assert refused.value.reason is expected


def test_a_declared_encoding_other_than_utf8_is_refused() -> None:
    document = b'<?xml version="1.0" encoding="ISO-8859-1"?><samlp:Response/>'
    with pytest.raises(SamlError) as refused:
        decode_post_response(base64.b64encode(document).decode(), 1024)
    assert refused.value.reason is Reason.MESSAGE_MALFORMED


def test_an_oversize_message_is_refused_before_decoding(world: World) -> None:
    genuine = post_value(response(world, assertion(world)))
    limit = world.saml.max_message_bytes
    padded = genuine + " " * (limit + 1 - len(genuine))
    assert len(padded) == limit + 1
    with pytest.raises(SamlError) as refused:
        decode_post_response(padded, limit)
    assert refused.value.reason is Reason.MESSAGE_TOO_LARGE
    # One byte less is decoded (base64 ignores the spaces): the limit is exactly where it is said.
    assert decode_post_response(padded[:-1], limit).tag == qname("samlp", "Response")


# --- decryption ----------------------------------------------------------------------------------


def _ours_last(keys: list[etree._Element], ours: str) -> list[etree._Element]:
    return [k for k in keys if k.get("Recipient") != ours] + [k for k in keys if k.get("Recipient") == ours]


def bury_our_key(container: etree._Element, entity_id: str) -> None:
    """Put our EncryptedKey after everyone else's and drop Recipient, so only KeyName tells."""
    keys = container.findall(qname("xenc", "EncryptedKey"))
    for key in _ours_last(keys, entity_id):
        container.remove(key)
        container.append(key)
        del key.attrib["Recipient"]


@pytest.fixture(scope="module")
def others(attacker_key: KeyPair) -> tuple[Recipient, ...]:
    """More other recipients than we ever try keys for, so a wrong pick would show."""
    return tuple(Recipient(f"urn:example:other-party:{n}", attacker_key.cert_pem) for n in range(5))


def test_our_key_is_found_by_key_name_among_other_recipients(
    world: World, others: tuple[Recipient, ...]
) -> None:
    shape = Shape(other_recipients=others)

    def bury_in_every_encrypted_id(element: etree._Element) -> None:
        for encrypted_id in element.iter(qname("saml", "EncryptedID")):
            bury_our_key(encrypted_id, world.sp.entity_id)

    genuine = assertion(
        world, Scenario(mandate=Mandate.REPRESENTATIVE), shape, edit=bury_in_every_encrypted_id
    )
    legal = only(attribute_value(genuine, LEGAL_SUBJECT_ID), "saml:EncryptedID")
    assert len(legal.findall(qname("xenc", "EncryptedKey"))) == 6
    encrypted = encrypt_assertion(genuine, recipients_for(world.sp, shape))
    bury_our_key(encrypted, world.sp.entity_id)
    identity = validate(world, response(world, encrypted)).identity
    assert identity.kvk_number == "12345678"
    assert identity.intermediary == Identifier(IdentifierType.KVK, "87654321")


@pytest.fixture(scope="module")
def next_key() -> KeyPair:
    return generate_key_pair("eh-broker next")


ROLLOVER = {
    "encrypted-for-next-before-activation": (timedelta(days=1), True),
    "encrypted-for-previous-after-activation": (-timedelta(days=1), False),
}


@pytest.mark.parametrize("case", list(ROLLOVER))
def test_both_keys_decrypt_during_a_rollover(world: World, next_key: KeyPair, case: str) -> None:
    activates_in, for_next = ROLLOVER[case]
    rolling = dataclasses.replace(world.saml, next_key=NextKey(next_key, NOW + activates_in))
    certificate = next_key.cert_pem if for_next else world.saml.key.cert_pem
    addressed = dataclasses.replace(world.sp, certificates=(certificate,))
    assert addressed.certificates[0] != rolling.keys_at(NOW)[0].cert_pem
    encrypted = encrypt_assertion(assertion(world, sp=addressed), recipients_for(addressed, Shape()))
    message = response(world, encrypted)
    assert validate(world, message, saml=rolling).identity.kvk_number == "12345678"
    if for_next:
        # Without the next key configured the same answer cannot be read.
        assert refusal(world, message).reason is Reason.DECRYPTION_FAILED


# Encrypted for another key, addressed (Recipient) to our entityID or to another party's.
UNKNOWN_KEY = {
    "assertion-for-our-name": (True, False),
    "assertion-for-another-party": (True, True),
    "encrypted-ids-for-our-name": (False, False),
    "encrypted-ids-for-another-party": (False, True),
}


@pytest.mark.parametrize("case", list(UNKNOWN_KEY))
def test_a_value_encrypted_for_an_unknown_key_is_refused(
    world: World, attacker_key: KeyPair, case: str
) -> None:
    whole, other_name = UNKNOWN_KEY[case]
    entity_id = "urn:example:other-party" if other_name else world.sp.entity_id
    foreign = dataclasses.replace(world.sp, certificates=(attacker_key.cert_pem,))
    if whole:
        recipients = (Recipient(entity_id, attacker_key.cert_pem),)
        content = encrypt_assertion(assertion(world), recipients)
    else:

        def readdress(element: etree._Element) -> None:
            for key in element.iter(qname("xenc", "EncryptedKey")):
                key.set("Recipient", entity_id)

        content = assertion(world, sp=foreign, edit=readdress)
    assert refusal(world, response(world, content)).reason is Reason.DECRYPTION_FAILED


def test_rsa_pkcs1_v15_key_transport_is_refused(world: World) -> None:
    """A genuine RSA PKCS#1 v1.5 EncryptedKey for our key: refused, as it invites padding oracles."""
    encrypted = encrypt_assertion(assertion(world), recipients_for(world.sp, Shape()))
    to_pkcs1_v15(only(encrypted, "xenc:EncryptedKey"), world.saml.key)
    assert refusal(world, response(world, encrypted)).reason is Reason.ENCRYPTION_ALGORITHM


def test_rsa_pkcs1_v15_key_transport_in_an_encrypted_id_is_refused(world: World) -> None:
    def downgrade(element: etree._Element) -> None:
        legal = only(attribute_value(element, LEGAL_SUBJECT_ID), "saml:EncryptedID")
        to_pkcs1_v15(only(legal, "xenc:EncryptedKey"), world.saml.key)

    message = response(world, assertion(world, edit=downgrade))
    assert refusal(world, message).reason is Reason.ENCRYPTION_ALGORITHM


@pytest.mark.parametrize("whole", [True, False], ids=["encrypted-assertion", "encrypted-id"])
def test_data_encrypted_with_triple_des_is_refused(world: World, whole: bool) -> None:
    """Only the allowed ciphers open: a genuine 3DES-CBC value for our key (one xmlsec decrypts
    with a DES key) is refused, not decrypted."""
    if whole:
        content = encrypt_assertion(assertion(world), recipients_for(world.sp, Shape()))
        to_triple_des(content, world.saml.key)
    else:

        def downgrade(element: etree._Element) -> None:
            to_triple_des(
                only(attribute_value(element, LEGAL_SUBJECT_ID), "saml:EncryptedID"), world.saml.key
            )

        content = assertion(world, edit=downgrade)
    assert refusal(world, response(world, content)).reason is Reason.ENCRYPTION_ALGORITHM
