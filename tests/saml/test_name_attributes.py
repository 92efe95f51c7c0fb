"""The acting person's name and date of birth in the assertion: plain Attributes or
EncryptedAttributes, a value that cannot be read left out (the sign-in goes on), none sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from lxml import etree

from config import Registry, Settings
from config.dev_keys import ensure_key_pair, generate_key_pair
from saml.errors import Reason, SamlError
from saml.hm_metadata import parse_metadata
from saml.person import DATE_OF_BIRTH, FAMILY_NAME, FIRST_NAME, INITIALS, Person
from saml.simulator import (
    PersonRelease,
    Recipient,
    Scenario,
    ServiceProvider,
    Shape,
    SimulatorHm,
    encrypt_assertion,
)
from saml.simulator.assertion import recipients_for
from saml.simulator.attributes import attribute, encrypted_attribute
from saml.xml import NS, qname
from tests.saml.crafting import NOW, World, assertion, only, received_request, response, validate

PLAIN = Shape(encrypt_ids=False)
ENCRYPTED = Shape()
NAMES = (FIRST_NAME, FAMILY_NAME, INITIALS, DATE_OF_BIRTH)
EVERYTHING = Person("Jan", "Jansen", "J.", date(1980, 1, 31))
ALL = Scenario(person=PersonRelease.ALL)


@pytest.fixture(scope="module")
def hm(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> SimulatorHm:
    base = f"{settings.saml.base_url}/simulator"
    key = ensure_key_pair(tmp_path_factory.mktemp("simulator"), "hm", "eh-broker HM simulator")
    return SimulatorHm(entity_id=f"{base}/metadata", key=key, sso_url=f"{base}/sso", ars_url=f"{base}/ars")


def _world(settings: Settings, registry: Registry, hm: SimulatorHm, slug: str) -> World:
    idp = parse_metadata(hm.metadata(NOW), NOW, (hm.key.cert_pem,))
    sp = ServiceProvider.from_settings(settings.saml, registry.services, NOW)
    service = next(service for service in registry.services if service.slug == slug)
    return World(settings.saml, hm, idp, sp, service, received_request(sp, service))


@pytest.fixture
def world(settings: Settings, registry: Registry, hm: SimulatorHm) -> World:
    """A sign-in pending for a service that requests the first and family name and date of birth."""
    return _world(settings, registry, hm, "ind-named")


def person_of(world: World, element: etree._Element) -> Person:
    return validate(world, response(world, element)).identity.person


def names_in(element: etree._Element, kind: str) -> set[str]:
    found = element.findall(f"saml:AttributeStatement/saml:{kind}", NS)
    return {a.get("Name", "") for a in found} & set(NAMES)


# --- the shapes ---------------------------------------------------------------------------------------


def test_plain_attributes_are_read(world: World) -> None:
    sent = assertion(world, ALL, PLAIN)
    assert names_in(sent, "Attribute") == set(NAMES)
    assert not sent.findall("saml:AttributeStatement/saml:EncryptedAttribute", NS)
    assert person_of(world, sent) == EVERYTHING


def test_encrypted_attributes_are_decrypted_and_read(world: World) -> None:
    sent = assertion(world, ALL, ENCRYPTED)
    assert not names_in(sent, "Attribute")
    assert len(sent.findall("saml:AttributeStatement/saml:EncryptedAttribute", NS)) == 4
    assert b"Jansen" not in etree.tostring(sent)
    assert person_of(world, sent) == EVERYTHING


def test_encrypted_attributes_in_an_encrypted_assertion_are_read(world: World) -> None:
    sealed = encrypt_assertion(assertion(world, ALL, ENCRYPTED), recipients_for(world.sp, ENCRYPTED))
    assert person_of(world, sealed) == EVERYTHING


def test_an_encrypted_attribute_for_several_recipients_is_read_with_our_key(world: World) -> None:
    other = Recipient("https://other-dv.example", generate_key_pair("other").cert_pem)
    shape = Shape(other_recipients=(other,))
    assert person_of(world, assertion(world, ALL, shape)) == EVERYTHING


def test_the_simulator_sends_only_what_the_service_requested(world: World) -> None:
    sent = assertion(world, Scenario(), PLAIN)
    assert names_in(sent, "Attribute") == {FIRST_NAME, FAMILY_NAME, DATE_OF_BIRTH}
    assert person_of(world, sent) == Person("Jan", "Jansen", None, date(1980, 1, 31))


def test_nothing_sent_is_nothing_read(world: World) -> None:
    assert person_of(world, assertion(world, Scenario(person=PersonRelease.NONE), ENCRYPTED)) == Person()


def test_an_hm_sends_nothing_for_a_service_that_requested_nothing(
    settings: Settings, registry: Registry, hm: SimulatorHm
) -> None:
    world = _world(settings, registry, hm, "ind-portaal-zakelijk")
    sent = assertion(world, Scenario(), PLAIN)
    assert not names_in(sent, "Attribute")
    assert person_of(world, sent) == Person()


# --- dates ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("1980-01-31", date(1980, 1, 31)),
        ("19800131", date(1980, 1, 31)),
        ("1980-01-31Z", date(1980, 1, 31)),
        ("1980-01-31+01:00", date(1980, 1, 31)),
        ("2000-02-29", date(2000, 2, 29)),
    ],
)
def test_a_date_of_birth_as_xs_date_or_yyyymmdd(world: World, sent: str, read: date) -> None:
    person = person_of(world, assertion(world, Scenario(date_of_birth=sent), ENCRYPTED))
    assert person.date_of_birth == read
    assert person.unreadable == ()


@pytest.mark.parametrize(
    "sent", ["31-01-1980", "1980-02-30", "19800000", "1980-1-31", "yesterday", "1980-01-31T00:00:00"]
)
def test_an_unreadable_date_of_birth_is_left_out_and_named(world: World, sent: str) -> None:
    person = person_of(world, assertion(world, Scenario(date_of_birth=sent), PLAIN))
    assert person == Person("Jan", "Jansen", None, None, ("DateOfBirth",))


# --- malformed values: left out, named, the sign-in goes on ---------------------------------------------


def _replace_first_name(element: etree._Element, *values: str | etree._Element) -> None:
    statement = only(element, "saml:AttributeStatement")
    for old in statement.findall(f"saml:Attribute[@Name='{FIRST_NAME}']", NS):
        statement.remove(old)
    new = attribute(FIRST_NAME, values[0]) if values else attribute(FIRST_NAME, "")
    if not values:
        new.remove(new[0])
    for value in values[1:]:
        etree.SubElement(new, qname("saml", "AttributeValue")).text = str(value)
    statement.append(new)


@pytest.mark.parametrize(
    ("values", "what"),
    [
        (("Jan", "Piet"), "two values"),
        ((), "no value"),
        (("",), "an empty value"),
        (("x" * 201,), "too long"),
        (("Jan\tPiet",), "a tab"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_an_unreadable_name_is_left_out_and_named(world: World, values: tuple[str, ...], what: str) -> None:
    element = assertion(world, ALL, PLAIN, edit=lambda a: _replace_first_name(a, *values))
    person = person_of(world, element)
    assert person.first_name is None, what
    assert person.unreadable == ("FirstName",)
    assert (person.family_name, person.initials) == ("Jansen", "J.")


def test_a_value_holding_elements_is_left_out(world: World) -> None:
    element = assertion(
        world, ALL, PLAIN, edit=lambda a: _replace_first_name(a, etree.Element(qname("saml", "NameID")))
    )
    assert person_of(world, element).unreadable == ("FirstName",)


# --- encrypted attributes that cannot be used: refused, as any encrypted part -------------------------


def _add_encrypted(
    world: World, content: etree._Element, recipients: tuple[Recipient, ...] | None = None
) -> Callable[[etree._Element], None]:
    def edit(element: etree._Element) -> None:
        statement = only(element, "saml:AttributeStatement")
        statement.append(encrypted_attribute(content, recipients or recipients_for(world.sp, ENCRYPTED)))

    return edit


def test_an_encrypted_attribute_not_for_us_is_refused(world: World) -> None:
    stranger = Recipient("https://other-dv.example", generate_key_pair("stranger").cert_pem)
    edit = _add_encrypted(world, attribute(INITIALS, "J."), (stranger,))
    with pytest.raises(SamlError) as refused:
        person_of(world, assertion(world, Scenario(), PLAIN, edit=edit))
    assert refused.value.reason is Reason.DECRYPTION_FAILED


def test_an_encrypted_attribute_holding_something_else_is_refused(world: World) -> None:
    edit = _add_encrypted(world, etree.Element(qname("saml", "NameID")))
    with pytest.raises(SamlError) as refused:
        person_of(world, assertion(world, Scenario(), PLAIN, edit=edit))
    assert refused.value.reason is Reason.DECRYPTION_FAILED


def test_an_attribute_both_plain_and_encrypted_is_refused(world: World) -> None:
    edit = _add_encrypted(world, attribute(FIRST_NAME, "Piet"))
    with pytest.raises(SamlError) as refused:
        person_of(world, assertion(world, Scenario(), PLAIN, edit=edit))
    assert refused.value.reason is Reason.ATTRIBUTE_INVALID


def test_more_encrypted_attributes_than_a_sign_in_needs_are_refused(world: World) -> None:
    def edit(element: etree._Element) -> None:
        statement = only(element, "saml:AttributeStatement")
        for n in range(9):
            content = attribute(f"urn:example:extra:{n}", "x")
            statement.append(encrypted_attribute(content, recipients_for(world.sp, ENCRYPTED)))

    with pytest.raises(SamlError) as refused:
        person_of(world, assertion(world, Scenario(person=PersonRelease.NONE), PLAIN, edit=edit))
    assert refused.value.reason is Reason.ATTRIBUTE_INVALID


def test_an_encrypted_identifier_attribute_is_read_too(world: World) -> None:
    """Not only the person's: any attribute may come encrypted whole, an identifier as well."""

    def edit(element: etree._Element) -> None:
        statement = only(element, "saml:AttributeStatement")
        (kvk,) = statement.findall("saml:Attribute[@Name='urn:etoegang:1.9:EntityConcernedID:KvKnr']", NS)
        statement.remove(kvk)
        statement.append(encrypted_attribute(kvk, recipients_for(world.sp, ENCRYPTED)))

    identity = validate(
        world, response(world, assertion(world, Scenario(kvk_number="24444001"), PLAIN, edit=edit))
    )
    assert identity.identity.kvk_number == "24444001"


def test_names_are_read_as_sent(world: World) -> None:
    scenario = Scenario(first_name="Anne-Marie Zoë", family_name="van 't Hof-Öztürk")
    person = person_of(world, assertion(world, scenario, ENCRYPTED))
    assert (person.first_name, person.family_name) == ("Anne-Marie Zoë", "van 't Hof-Öztürk")
