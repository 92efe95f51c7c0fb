"""The built-in HM simulator against our own SP code: real keys, signatures and encryption, no mocks.

Every answer goes through the same path a real HM's does: `saml.response.validate_response`
for HTTP-POST, `saml.artifact.resolve` (with the simulator answering the SOAP call in-process)
for HTTP-Artifact.
"""

from __future__ import annotations

import base64
import dataclasses
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import xmlsec
from lxml import etree

from config import Binding, KeyPair, SamlSettings, Service
from config.dev_keys import generate_key_pair
from saml import encryption, signature
from saml.artifact import artifact_resolve, parse_artifact, read_artifact_response, resolve
from saml.attributes import LEGAL_SUBJECT_ID
from saml.authn_request import authn_request, outgoing_request
from saml.errors import Reason, SamlError, StatusError
from saml.hm_metadata import IdentityProvider, parse_metadata
from saml.identifiers import IdentifierType
from saml.identity import EherkenningIdentity, Identifier
from saml.keys import key_name
from saml.loa import LevelOfAssurance
from saml.response import Expected, decode_post_response, validate_response
from saml.simulator import (
    Action,
    Delivery,
    Mandate,
    MandateScope,
    ObsoleteLevel,
    PersonRelease,
    ReceivedRequest,
    Recipient,
    Scenario,
    ScenarioError,
    ServiceProvider,
    Shape,
    SimulatorHm,
    answer_artifact_resolve,
    build_assertion,
    build_response,
    deliver,
    pseudonym,
    read_post_request,
    read_redirect_request,
    respond,
    soap_fault,
)
from saml.simulator.shape import DEFAULT_SHAPE
from saml.xml import NS, new_id, parse, qname

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
XSD = Path(__file__).resolve().parents[3] / "shared" / "xsd"
PORTAL = Service("portal", "3f2b6a3e-0d5c-4c8e-9f61-2a7d9b1e4c11", 1, "loa3", "Portaal", "Portal")
VIEWER = Service("viewer", "8a0c1d52-6b7e-4f3a-a1d9-5e2c7b9f0a22", 2, "loa2", "Inzage", "Viewer")
OTHER_PARTY = "urn:example:other-party"
# The two ways a sign-in travels: request binding, then the response binding it asks for.
ROUTES = {
    "post": (Binding.POST, Binding.POST),
    "redirect-artifact": (Binding.REDIRECT, Binding.ARTIFACT),
}


@pytest.fixture(scope="module")
def sp_key() -> KeyPair:
    return generate_key_pair("broker.test SP")


@pytest.fixture(scope="module")
def other_key() -> KeyPair:
    return generate_key_pair("other party")


@pytest.fixture(scope="module")
def hm() -> SimulatorHm:
    return SimulatorHm(
        entity_id="https://broker.test/simulator/metadata",
        key=generate_key_pair("simulator HM"),
        sso_url="https://broker.test/simulator/sso",
        ars_url="https://broker.test/simulator/ars",
    )


@pytest.fixture(scope="module")
def idp(hm: SimulatorHm) -> IdentityProvider:
    return parse_metadata(hm.metadata(NOW), NOW, (hm.key.cert_pem,))


@pytest.fixture(scope="module")
def settings(sp_key: KeyPair) -> SamlSettings:
    return SamlSettings(
        entity_id="https://broker.test/saml/metadata",
        oin="00000001234567890000",
        base_url="https://broker.test",
        acs_url="https://broker.test/saml/acs",
        key=sp_key,
        hm_metadata=None,
    )


@pytest.fixture(scope="module")
def sp(settings: SamlSettings) -> ServiceProvider:
    return ServiceProvider.from_settings(settings, (PORTAL, VIEWER), NOW)


@pytest.fixture(params=sorted(ROUTES))
def route(request: pytest.FixtureRequest, settings: SamlSettings) -> SamlSettings:
    """Our settings for one route (request binding, response binding)."""
    request_binding, response_binding = ROUTES[request.param]
    return dataclasses.replace(settings, request_binding=request_binding, response_binding=response_binding)


def receive(
    settings: SamlSettings,
    idp: IdentityProvider,
    hm: SimulatorHm,
    sp: ServiceProvider,
    service: Service = PORTAL,
) -> ReceivedRequest:
    """Our AuthnRequest for `service`, as the simulator reads it."""
    outgoing = outgoing_request(settings, idp, service, "relay-state", NOW)
    if outgoing.method == "GET":
        return read_redirect_request(urlsplit(outgoing.url).query, hm, sp, NOW)
    return read_post_request(outgoing.fields, hm, sp, NOW)


def arrive(
    delivery: Delivery, settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> etree._Element:
    """The Response element our ACS gets out of `delivery`, resolving an artifact in-process."""
    if delivery.binding is Binding.POST:
        return decode_post_response(delivery.fields["SAMLResponse"], settings.max_message_bytes)
    store = {delivery.artifact_handle: delivery.response}

    def transport(url: str, body: bytes) -> bytes:
        assert url == hm.ars_url
        return answer_artifact_resolve(hm, sp, body, lambda handle: store.pop(handle, None), NOW)

    return resolve(parse_artifact(delivery.fields["SAMLart"]), settings, idp, transport, NOW, new_id())


def sign_in(
    settings: SamlSettings,
    idp: IdentityProvider,
    hm: SimulatorHm,
    sp: ServiceProvider,
    scenario: Scenario,
    shape: Shape = DEFAULT_SHAPE,
    service: Service = PORTAL,
) -> EherkenningIdentity:
    """A whole sign-in through the simulator and our validator; the identity it establishes."""
    request = receive(settings, idp, hm, sp, service)
    delivery = respond(hm, sp, request, scenario, NOW, shape)
    assert delivery.fields["RelayState"] == "relay-state"
    response = arrive(delivery, settings, idp, hm, sp)
    expected = Expected(request.id, service, LevelOfAssurance.LOA2, NOW)
    return validate_response(response, settings, idp, expected, NOW).identity


# --- metadata -----------------------------------------------------------------------------------


def test_metadata_round_trips(hm: SimulatorHm, idp: IdentityProvider) -> None:
    assert idp.entity_id == hm.entity_id
    assert idp.signing_certificates == (hm.key.cert_pem,)
    assert idp.sso_urls == {Binding.POST: hm.sso_url, Binding.REDIRECT: hm.sso_url}
    assert idp.artifact_resolution_urls == {0: hm.ars_url}
    assert idp.source_id == hm.source_id


def test_metadata_names_its_signing_key(hm: SimulatorHm) -> None:
    root = parse(hm.metadata(NOW))
    names = root.xpath(
        "md:IDPSSODescriptor/md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:KeyName/text()", namespaces=NS
    )
    assert names == [key_name(hm.key.cert_pem)]
    assert root.xpath("string(md:IDPSSODescriptor/@WantAuthnRequestsSigned)", namespaces=NS) == "true"


def schema(name: str) -> etree.XMLSchema:
    if not (XSD / name).is_file():
        pytest.skip(f"{XSD / name} is absent: the shared XML schemas are not available here")
    return etree.XMLSchema(etree.parse(str(XSD / name)))


def test_metadata_is_valid_against_the_saml_schema(hm: SimulatorHm) -> None:
    metadata_schema = schema("saml-schema-metadata-2.0.xsd")
    metadata_schema.assertValid(parse(hm.metadata(NOW)))


@pytest.mark.parametrize("encrypt_ids", [True, False], ids=["encrypted", "plain"])
def test_assertion_is_valid_against_the_saml_schema(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider, encrypt_ids: bool
) -> None:
    assertion_schema = schema("saml-schema-assertion-2.0.xsd")
    request = receive(settings, idp, hm, sp)
    scenario = Scenario(
        mandate=Mandate.REPRESENTATIVE, establishment="000012345678", advice=True, person=PersonRelease.ALL
    )
    assertion = build_assertion(hm, sp, request, scenario, NOW, Shape(encrypt_ids=encrypt_ids))
    # The person's attributes are there, plain or encrypted whole.
    kinds = {etree.QName(a).localname for a in assertion.find("saml:AttributeStatement", NS)}
    assert kinds == ({"Attribute", "EncryptedAttribute"} if encrypt_ids else {"Attribute"})
    signature.sign(assertion, hm.key)
    assertion_schema.assertValid(parse(etree.tostring(assertion)))


# --- reading our AuthnRequest -------------------------------------------------------------------


def test_reads_a_post_request(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    outgoing = outgoing_request(settings, idp, VIEWER, "relay-state", NOW)
    request = read_post_request(outgoing.fields, hm, sp, NOW)
    assert request == ReceivedRequest(
        id=outgoing.request_id,
        issuer=settings.entity_id,
        acs_url=settings.acs_url,
        protocol_binding=Binding.ARTIFACT,
        attribute_consuming_service_index=VIEWER.index,
        force_authn=True,
        relay_state="relay-state",
    )


def test_reads_a_redirect_request(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    redirect = dataclasses.replace(settings, request_binding=Binding.REDIRECT, response_binding=Binding.POST)
    outgoing = outgoing_request(redirect, idp, PORTAL, "relay state/with+odd=chars", NOW)
    request = read_redirect_request(urlsplit(outgoing.url).query, hm, sp, NOW)
    assert request.id == outgoing.request_id
    assert request.protocol_binding is Binding.POST
    assert request.attribute_consuming_service_index == PORTAL.index
    assert request.relay_state == "relay state/with+odd=chars"


def post_fields(element: etree._Element) -> dict[str, str]:
    return {"SAMLRequest": base64.b64encode(etree.tostring(element)).decode(), "RelayState": "r"}


def test_refuses_an_unsigned_post_request(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    unsigned = authn_request(settings, idp, PORTAL, "_unsigned", NOW)
    with pytest.raises(SamlError) as refused:
        read_post_request(post_fields(unsigned), hm, sp, NOW)
    assert refused.value.reason is Reason.SIGNATURE_MISSING


def test_refuses_a_tampered_post_request(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    element = authn_request(settings, idp, PORTAL, "_tampered", NOW)
    signature.sign(element, settings.key)
    element.set("AssertionConsumerServiceURL", "https://attacker.example/acs")
    with pytest.raises(SamlError) as refused:
        read_post_request(post_fields(element), hm, sp, NOW)
    assert refused.value.reason is Reason.SIGNATURE_INVALID


def test_refuses_a_post_request_signed_by_another_key(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider, other_key: KeyPair
) -> None:
    element = authn_request(settings, idp, PORTAL, "_other_key", NOW)
    signature.sign(element, other_key)
    with pytest.raises(SamlError) as refused:
        read_post_request(post_fields(element), hm, sp, NOW)
    assert refused.value.reason is Reason.SIGNATURE_INVALID


def redirect_query(settings: SamlSettings, idp: IdentityProvider) -> str:
    redirect = dataclasses.replace(settings, request_binding=Binding.REDIRECT)
    return urlsplit(outgoing_request(redirect, idp, PORTAL, "relay-state", NOW).url).query


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda q: q.replace("RelayState=relay-state", "RelayState=other-state"), Reason.SIGNATURE_INVALID),
        (lambda q: q.split("&Signature=")[0], Reason.SIGNATURE_MISSING),
        (lambda q: q.replace("rsa-sha256", "rsa-sha1"), Reason.SIGNATURE_ALGORITHM),
        (lambda q: q + "&RelayState=again", Reason.MESSAGE_MALFORMED),
    ],
    ids=["tampered", "unsigned", "sha1", "repeated-parameter"],
)
def test_refuses_a_bad_redirect_request(
    settings: SamlSettings,
    idp: IdentityProvider,
    hm: SimulatorHm,
    sp: ServiceProvider,
    change,
    reason: Reason,
) -> None:
    with pytest.raises(SamlError) as refused:
        read_redirect_request(change(redirect_query(settings, idp)), hm, sp, NOW)
    assert refused.value.reason is reason


def test_refuses_a_redirect_request_that_inflates_beyond_the_limit(
    hm: SimulatorHm, sp: ServiceProvider, sp_key: KeyPair
) -> None:
    deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    bomb = deflater.compress(b" " * 1_000_000) + deflater.flush()
    request = quote(base64.b64encode(bomb).decode(), safe="")
    query = f"SAMLRequest={request}&SigAlg={quote(signature.RSA_SHA256, safe='')}"
    context = xmlsec.SignatureContext()
    context.key = signature.private_key(sp_key.key_pem)
    value = context.sign_binary(query.encode(), xmlsec.Transform.RSA_SHA256)
    with pytest.raises(SamlError) as refused:
        read_redirect_request(
            f"{query}&Signature={quote(base64.b64encode(value).decode(), safe='')}", hm, sp, NOW
        )
    assert refused.value.reason is Reason.MESSAGE_TOO_LARGE


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda s, sp: (dataclasses.replace(s, entity_id="https://intruder.example/sp"), sp),
            Reason.ISSUER_MISMATCH,
        ),
        (
            lambda s, sp: (s, dataclasses.replace(sp, acs_url="https://broker.test/other-acs")),
            Reason.RECIPIENT_MISMATCH,
        ),
        (lambda s, sp: (s, dataclasses.replace(sp, services=(VIEWER,))), Reason.SERVICE_MISSING),
    ],
    ids=["issuer", "acs", "service"],
)
def test_refuses_a_request_the_sp_did_not_register(
    settings: SamlSettings,
    idp: IdentityProvider,
    hm: SimulatorHm,
    sp: ServiceProvider,
    change,
    reason: Reason,
) -> None:
    our_settings, known_sp = change(settings, sp)
    outgoing = outgoing_request(our_settings, idp, PORTAL, "relay-state", NOW)
    with pytest.raises(SamlError) as refused:
        read_post_request(outgoing.fields, hm, known_sp, NOW)
    assert refused.value.reason is reason


def test_refuses_a_stale_request(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    outgoing = outgoing_request(settings, idp, PORTAL, "relay-state", NOW)
    later = NOW + timedelta(hours=1)
    with pytest.raises(SamlError) as refused:
        read_post_request(outgoing.fields, hm, sp, later)
    assert refused.value.reason is Reason.REQUEST_EXPIRED


def test_refuses_a_request_that_is_not_xml(hm: SimulatorHm, sp: ServiceProvider) -> None:
    with pytest.raises(SamlError) as refused:
        read_post_request({"SAMLRequest": base64.b64encode(b"<not xml").decode()}, hm, sp, NOW)
    assert refused.value.reason is Reason.MESSAGE_MALFORMED


# --- answers through our validator ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "intermediary", "restriction"),
    [
        (Scenario(), None, None),
        (
            Scenario(kvk_number="01234567", mandate=Mandate.REPRESENTATIVE, intermediary_kvk="76543210"),
            Identifier(IdentifierType.KVK, "76543210"),
            None,
        ),
        (Scenario(establishment="000038509504"), None, "000038509504"),
        (Scenario(advice=True), None, None),
        (
            Scenario(mandate=Mandate.REPRESENTATIVE, establishment="000012345678", advice=True),
            Identifier(IdentifierType.KVK, "87654321"),
            "000012345678",
        ),
    ],
    ids=["own", "representative", "establishment", "advice", "all-together"],
)
def test_sign_in_is_accepted(
    route: SamlSettings,
    idp: IdentityProvider,
    hm: SimulatorHm,
    sp: ServiceProvider,
    scenario: Scenario,
    intermediary: Identifier | None,
    restriction: str | None,
) -> None:
    identity = sign_in(route, idp, hm, sp, scenario)
    assert identity.legal_subject == Identifier(IdentifierType.KVK, scenario.kvk_number)
    assert identity.acting_subject == pseudonym(hm, sp, scenario)
    assert identity.intermediary == intermediary
    assert identity.establishment_restriction == restriction
    assert identity.level is LevelOfAssurance.LOA3
    assert identity.authn_instant == NOW
    assert identity.hm_entity_id == hm.entity_id
    assert identity.service_id == f"urn:etoegang:DV:{route.oin}:services:{PORTAL.index}"
    assert identity.service_uuid == PORTAL.uuid


@pytest.mark.parametrize("level", list(LevelOfAssurance))
def test_every_level_arrives(
    route: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider, level: LevelOfAssurance
) -> None:
    assert sign_in(route, idp, hm, sp, Scenario(level=level)).level is level


def test_the_service_asked_for_is_the_one_answered(
    route: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    identity = sign_in(route, idp, hm, sp, Scenario(), service=VIEWER)
    assert identity.service_uuid == VIEWER.uuid


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        (Scenario(action=Action.CANCEL), Reason.CANCELLED),
        (Scenario(mandate=Mandate.NONE), Reason.REQUEST_DENIED),
    ],
    ids=["cancel", "no-mandate"],
)
def test_a_refused_sign_in_is_a_status_error(
    route: SamlSettings,
    idp: IdentityProvider,
    hm: SimulatorHm,
    sp: ServiceProvider,
    scenario: Scenario,
    reason: Reason,
) -> None:
    with pytest.raises(StatusError) as refused:
        sign_in(route, idp, hm, sp, scenario)
    assert refused.value.reason is reason
    assert refused.value.status_codes[0] == "urn:oasis:names:tc:SAML:2.0:status:Responder"


def test_loa1_is_refused(
    route: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    with pytest.raises(SamlError) as refused:
        sign_in(route, idp, hm, sp, Scenario(level=ObsoleteLevel.LOA1))
    assert refused.value.reason is Reason.LOA_UNKNOWN


def test_the_pseudonym_is_stable_per_user_and_company(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    first = sign_in(settings, idp, hm, sp, Scenario(user="anna"))
    again = sign_in(settings, idp, hm, sp, Scenario(user="anna"))
    other_company = sign_in(settings, idp, hm, sp, Scenario(user="anna", kvk_number="11223344"))
    other_user = sign_in(settings, idp, hm, sp, Scenario(user="bert"))
    assert first.acting_subject == again.acting_subject
    assert len({first.acting_subject, other_company.acting_subject, other_user.acting_subject}) == 3


@pytest.mark.parametrize(
    "shape",
    [
        Shape(encrypt_ids=False),
        Shape(encrypt_assertion=True),
        Shape(encrypt_ids=False, encrypt_assertion=True),
        Shape(sign_response=False),
        Shape(sign_response=True),
    ],
    ids=[
        "plain-ids",
        "encrypted-assertion",
        "plain-ids-in-encrypted-assertion",
        "unsigned-response",
        "signed-response",
    ],
)
def test_every_shape_is_accepted(
    route: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider, shape: Shape
) -> None:
    scenario = Scenario(mandate=Mandate.REPRESENTATIVE, establishment="000012345678", advice=True)
    identity = sign_in(route, idp, hm, sp, scenario, shape)
    assert identity.legal_subject.value == scenario.kvk_number
    assert identity.intermediary == Identifier(IdentifierType.KVK, scenario.intermediary_kvk)
    assert identity.acting_subject == pseudonym(hm, sp, scenario)


def legal_subject(assertion: etree._Element) -> etree._Element:
    """The EncryptedID in the assertion's LegalSubjectID attribute."""
    attribute = f"saml:AttributeStatement/saml:Attribute[@Name='{LEGAL_SUBJECT_ID}']"
    path = f"{attribute}/saml:AttributeValue/saml:EncryptedID"
    return assertion.xpath(path, namespaces=NS)[0]


def test_a_value_for_several_recipients_opens_for_each_with_its_own_key(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider, other_key: KeyPair
) -> None:
    shape = Shape(other_recipients=(Recipient(OTHER_PARTY, other_key.cert_pem),))
    post = dataclasses.replace(settings, response_binding=Binding.POST)
    request = receive(post, idp, hm, sp)
    delivery = respond(hm, sp, request, Scenario(kvk_number="24680135"), NOW, shape)
    other_party = dataclasses.replace(settings, key=other_key, next_key=None, entity_id=OTHER_PARTY)
    for party in (other_party, settings):
        legal = legal_subject(parse(delivery.response).find("saml:Assertion", NS))
        assert [k.get("Recipient") for k in legal.findall(qname("xenc", "EncryptedKey"))] == [
            settings.entity_id,
            OTHER_PARTY,
        ]
        assert encryption.decrypt(legal, party, NOW).text == "24680135"
    identity = validate_response(
        decode_post_response(delivery.fields["SAMLResponse"], settings.max_message_bytes),
        post,
        idp,
        Expected(request.id, PORTAL, LevelOfAssurance.LOA2, NOW),
        NOW,
    ).identity
    assert identity.kvk_number == "24680135"


def test_a_value_only_for_another_party_is_not_ours(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider, other_key: KeyPair
) -> None:
    request = receive(settings, idp, hm, sp)
    foreign = dataclasses.replace(sp, certificates=(other_key.cert_pem,), entity_id=OTHER_PARTY)
    assertion = build_assertion(hm, foreign, request, Scenario(), NOW)
    with pytest.raises(SamlError) as refused:
        encryption.decrypt(legal_subject(assertion), settings, NOW)
    assert refused.value.reason is Reason.DECRYPTION_FAILED


# --- the steps, for tests that tamper -----------------------------------------------------------


def post_response(settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider):
    post = dataclasses.replace(settings, response_binding=Binding.POST)
    return post, receive(post, idp, hm, sp)


def validate_delivery(
    delivery: Delivery, settings: SamlSettings, idp: IdentityProvider, request: ReceivedRequest
):
    response = decode_post_response(delivery.fields["SAMLResponse"], settings.max_message_bytes)
    return validate_response(
        response, settings, idp, Expected(request.id, PORTAL, LevelOfAssurance.LOA2, NOW), NOW
    )


def test_an_assertion_changed_before_signing_is_checked_on_its_content(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    post, request = post_response(settings, idp, hm, sp)
    assertion = build_assertion(hm, sp, request, Scenario(), NOW)
    assertion.find(
        "saml:Conditions/saml:AudienceRestriction/saml:Audience", NS
    ).text = "https://other.example/sp"
    signature.sign(assertion, hm.key)
    response = build_response(hm, request, NOW, assertion=assertion)
    delivery = deliver(hm, request, etree.tostring(response), Binding.POST)
    with pytest.raises(SamlError) as refused:
        validate_delivery(delivery, post, idp, request)
    assert refused.value.reason is Reason.AUDIENCE_MISMATCH


def test_an_unsigned_assertion_is_refused(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    post, request = post_response(settings, idp, hm, sp)
    response = build_response(hm, request, NOW, assertion=build_assertion(hm, sp, request, Scenario(), NOW))
    signature.sign(response, hm.key)
    with pytest.raises(SamlError) as refused:
        validate_delivery(deliver(hm, request, etree.tostring(response), Binding.POST), post, idp, request)
    assert refused.value.reason is Reason.SIGNATURE_MISSING


def test_an_assertion_changed_after_signing_is_refused(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    post, request = post_response(settings, idp, hm, sp)
    assertion = build_assertion(hm, sp, request, Scenario(), NOW)
    signature.sign(assertion, hm.key)
    assertion.find(
        "saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef", NS
    ).text = LevelOfAssurance.LOA4.uri
    response = build_response(hm, request, NOW, assertion=assertion)
    with pytest.raises(SamlError) as refused:
        validate_delivery(deliver(hm, request, etree.tostring(response), Binding.POST), post, idp, request)
    assert refused.value.reason is Reason.SIGNATURE_INVALID


# --- artifact resolution ------------------------------------------------------------------------


def artifact_delivery(settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider):
    request = receive(settings, idp, hm, sp)
    return request, respond(hm, sp, request, Scenario(), NOW)


def test_an_artifact_resolves_once(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    _, delivery = artifact_delivery(settings, idp, hm, sp)
    assert delivery.binding is Binding.ARTIFACT
    assert parse_artifact(delivery.fields["SAMLart"]).message_handle == delivery.artifact_handle
    store = {delivery.artifact_handle: delivery.response}

    def transport(url: str, body: bytes) -> bytes:
        return answer_artifact_resolve(hm, sp, body, lambda handle: store.pop(handle, None), NOW)

    artifact = parse_artifact(delivery.fields["SAMLart"])
    assert resolve(artifact, settings, idp, transport, NOW, new_id()).tag == qname("samlp", "Response")
    with pytest.raises(SamlError) as refused:
        resolve(artifact, settings, idp, transport, NOW, new_id())
    assert refused.value.reason is Reason.ARTIFACT_RESOLUTION_FAILED


def resolve_request(settings: SamlSettings, hm: SimulatorHm, artifact: str) -> bytes:
    return artifact_resolve(settings, parse_artifact(artifact), "_resolve", hm.ars_url, NOW)


def test_an_unsigned_artifact_resolve_is_refused_with_a_fault(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    _, delivery = artifact_delivery(settings, idp, hm, sp)
    envelope = parse(resolve_request(settings, hm, delivery.fields["SAMLart"]))
    for element in envelope.iter(qname("ds", "Signature")):
        element.getparent().remove(element)
    with pytest.raises(SamlError) as refused:
        answer_artifact_resolve(hm, sp, etree.tostring(envelope), lambda handle: delivery.response, NOW)
    assert refused.value.reason is Reason.SIGNATURE_MISSING
    with pytest.raises(SamlError) as failed:
        read_artifact_response(soap_fault(refused.value), idp, "_resolve")
    assert failed.value.reason is Reason.ARTIFACT_RESOLUTION_FAILED


def test_an_artifact_resolve_from_another_sp_is_refused(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    _, delivery = artifact_delivery(settings, idp, hm, sp)
    intruder = dataclasses.replace(settings, entity_id="https://intruder.example/sp")
    with pytest.raises(SamlError) as refused:
        answer_artifact_resolve(
            hm, sp, resolve_request(intruder, hm, delivery.fields["SAMLart"]), {}.get, NOW
        )
    assert refused.value.reason is Reason.ISSUER_MISMATCH


def test_the_artifact_response_is_signed_and_answers_the_resolve(
    settings: SamlSettings, idp: IdentityProvider, hm: SimulatorHm, sp: ServiceProvider
) -> None:
    _, delivery = artifact_delivery(settings, idp, hm, sp)
    answer = answer_artifact_resolve(
        hm,
        sp,
        resolve_request(settings, hm, delivery.fields["SAMLart"]),
        lambda handle: delivery.response,
        NOW,
    )
    envelope = parse(answer)
    artifact_response = envelope.find("soap:Body/samlp:ArtifactResponse", NS)
    assert artifact_response.get("InResponseTo") == "_resolve"
    assert signature.is_signed(artifact_response)
    response = read_artifact_response(answer, idp, "_resolve")
    assert not signature.is_signed(response)


# --- scenarios ----------------------------------------------------------------------------------


def test_scenario_defaults() -> None:
    scenario = Scenario.from_params({})
    assert scenario == Scenario()
    assert (scenario.kvk_number, scenario.intermediary_kvk, scenario.user) == (
        "12345678",
        "87654321",
        "tester",
    )
    assert scenario.level is LevelOfAssurance.LOA3


def test_scenario_from_params() -> None:
    params = {
        "kvk": " 01234567 ",
        "establishment": "000012345678",
        "mandate": "representative",
        "intermediary": "76543210",
        "loa": "loa2plus",
        "advice": "1",
        "action": "login",
        "binding": "post",
        "user": "anna",
        "SAMLRequest": "ignored",
    }
    assert Scenario.from_params(params) == Scenario(
        kvk_number="01234567",
        establishment="000012345678",
        mandate=Mandate.REPRESENTATIVE,
        intermediary_kvk="76543210",
        level=LevelOfAssurance.LOA2PLUS,
        advice=True,
        binding=Binding.POST,
        user="anna",
    )


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(),
        Scenario(
            establishment="000012345678",
            mandate=Mandate.REPRESENTATIVE,
            advice=True,
            binding=Binding.ARTIFACT,
        ),
        Scenario(level=ObsoleteLevel.LOA1, action=Action.CANCEL, mandate=Mandate.NONE, user="bert"),
        Scenario(person=PersonRelease.ALL, first_name="Anne", family_name="", date_of_birth="19991231"),
        Scenario(person=PersonRelease.NONE),
    ],
)
def test_scenario_params_round_trip(scenario: Scenario) -> None:
    assert Scenario.from_params(scenario.to_params()) == scenario


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"kvk": "1234567O"}, "kvk", ("character 8", "LATIN CAPITAL LETTER O")),
        ({"kvk": "I2345678"}, "kvk", ("character 1", "LATIN CAPITAL LETTER I")),
        ({"establishment": "00001234567l"}, "establishment", ("character 12", "LATIN SMALL LETTER L")),
        ({"intermediary": "8765 4321"}, "intermediary", ("character 5", "SPACE")),
        ({"kvk": "1234567"}, "kvk", ("must be 8 digits, not 7",)),
        ({"kvk": ""}, "kvk", ("must be 8 digits, not 0",)),
        ({"establishment": "12345678"}, "establishment", ("must be 12 digits",)),
        ({"mandate": "boss"}, "mandate", ("own, representative, none",)),
        ({"loa": "loa5"}, "loa", ("loa2", "loa1")),
        ({"advice": "maybe"}, "advice", ("1 or 0",)),
        ({"action": "logout"}, "action", ("login, cancel",)),
        ({"binding": "redirect"}, "binding", ("post or artifact",)),
        ({"user": ""}, "user", ("printable",)),
        ({"person": "some"}, "person", ("requested, all, none",)),
        ({"first_name": "x" * 65}, "first_name", ("at most 64",)),
        ({"birthdate": "1980\t01-31"}, "birthdate", ("printable",)),
        ({"mandate": "representative", "intermediary": "12345678"}, "intermediary", ("must differ",)),
    ],
)
def test_scenario_errors_name_the_field(params: dict[str, str], field: str, words: tuple[str, ...]) -> None:
    with pytest.raises(ScenarioError) as wrong:
        Scenario.from_params(params)
    assert wrong.value.field == field
    for word in words:
        assert word in str(wrong.value.problem)


def test_a_mandate_for_another_service_names_another_service() -> None:
    assert Scenario.from_params({"mandate_for": "other"}).mandate_for is MandateScope.OTHER
    assert Scenario.from_params({}).mandate_for is MandateScope.SERVICE
    with pytest.raises(ScenarioError, match="mandate_for"):
        Scenario.from_params({"mandate_for": "some"})
