"""Identifiers, OINs, dates and numbers are ASCII digits: `\\d`, `str.isdigit()` and `int()` take any
script's digits, so "１２３４５６７８" (full-width) or "١٢٣٤٥٦٧٨" (Arabic-Indic) would pass for a
KvK number. Each place that checks one from outside refuses them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from broker.kvk import KvkError, KvkFailure, parse_profile, stand_in
from config import ConfigError, load_settings
from config.dev_keys import generate_key_pair
from saml.attributes import (
    ESTABLISHMENT_RESTRICTION,
    INTERMEDIARY_KVK,
    INTERMEDIARY_RSIN,
    PSEUDONYM,
    AssertionFacts,
    read_identity,
)
from saml.errors import Reason, SamlError
from saml.hm_metadata import MetadataError, parse_metadata
from saml.identifiers import (
    IdentifierType,
    is_bsn,
    is_establishment_number,
    is_kvk_number,
    is_rsin,
)
from saml.keys import certificate_base64
from saml.loa import LevelOfAssurance
from saml.xml import NS, qname
from tests.conftest import broker_environ

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SCRIPTS = pytest.mark.parametrize("script", [FULL_WIDTH, ARABIC_INDIC], ids=["full-width", "arabic-indic"])
KVK, RSIN, ESTABLISHMENT = "12345678", "123456782", "000012345678"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@SCRIPTS
def test_identifier_checks_take_ascii_digits_only(script: dict[int, str]) -> None:
    assert is_kvk_number(KVK) and is_rsin(RSIN) and is_bsn(RSIN) and is_establishment_number(ESTABLISHMENT)
    assert not is_kvk_number(KVK.translate(script))
    assert not is_rsin(RSIN.translate(script))
    assert not is_bsn(RSIN.translate(script))
    assert not is_establishment_number(ESTABLISHMENT.translate(script))
    with pytest.raises(SamlError):
        IdentifierType.KVK.check(KVK.translate(script))


def _assertion(attributes: dict[str, str]) -> etree._Element:
    """An assertion carrying `attributes` as plain values, the shape some HMs send."""
    assertion = etree.Element(qname("saml", "Assertion"), nsmap={"saml": NS["saml"]})
    statement = etree.SubElement(assertion, qname("saml", "AttributeStatement"))
    for name, value in attributes.items():
        attribute = etree.SubElement(statement, qname("saml", "Attribute"), Name=name)
        etree.SubElement(attribute, qname("saml", "AttributeValue")).text = value
    return assertion


def _identity(attributes: dict[str, str]) -> object:
    facts = AssertionFacts(None, LevelOfAssurance.LOA3, NOW, "https://hm.test")
    plain = {IdentifierType.KVK.value: KVK, PSEUDONYM: "pseudonym"} | attributes
    return read_identity(_assertion(plain), facts, lambda encrypted: encrypted)


@SCRIPTS
@pytest.mark.parametrize(
    ("name", "value"),
    [
        (IdentifierType.KVK.value, KVK),
        (IdentifierType.RSIN.value, RSIN),
        (ESTABLISHMENT_RESTRICTION, ESTABLISHMENT),
        (INTERMEDIARY_KVK, "87654321"),
        (INTERMEDIARY_RSIN, RSIN),
    ],
    ids=["kvk", "rsin", "establishment", "intermediary-kvk", "intermediary-rsin"],
)
def test_an_assertion_with_other_digits_is_refused(script: dict[int, str], name: str, value: str) -> None:
    _identity({name: value})
    with pytest.raises(SamlError) as refused:
        _identity({name: value.translate(script)})
    assert refused.value.reason is Reason.ATTRIBUTE_INVALID


def _profile(**changes: object) -> bytes:
    document = {
        "vestigingsnummer": ESTABLISHMENT,
        "kvkNummer": KVK,
        "eersteHandelsnaam": "Bakkerij",
        "materieleRegistratie": {"datumAanvang": "20100101"},
    } | changes
    return json.dumps(document).encode()


@SCRIPTS
def test_a_kvk_answer_with_other_digits_is_malformed(script: dict[int, str]) -> None:
    parse_profile(_profile(), ESTABLISHMENT)
    for changes in (
        {"kvkNummer": KVK.translate(script)},
        {"materieleRegistratie": {"datumEinde": "20240630".translate(script)}},
    ):
        with pytest.raises(KvkError) as refused:
            parse_profile(_profile(**changes), ESTABLISHMENT)
        assert refused.value.failure is KvkFailure.MALFORMED


@SCRIPTS
def test_the_kvk_stand_in_knows_no_number_in_other_digits(script: dict[int, str]) -> None:
    assert stand_in.answer(f"/api/v1/basisprofielen/{stand_in.SEVERAL}/vestigingen").status == 200
    other = stand_in.answer(f"/api/v1/basisprofielen/{stand_in.SEVERAL.translate(script)}/vestigingen")
    assert (other.status, json.loads(other.body)["fout"][0]["code"]) == (400, "IPD0004")


@SCRIPTS
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BROKER_OIN", "00000001234567890000"),
        ("BROKER_SAML_CLOCK_SKEW", "60"),
        ("BROKER_KVK_CACHE_HOURS", "12"),
    ],
)
def test_settings_take_ascii_digits_only(
    tmp_path: Path, script: dict[int, str], name: str, value: str
) -> None:
    load_settings(broker_environ(tmp_path, **{name: value}))
    with pytest.raises(ConfigError, match=name):
        load_settings(broker_environ(tmp_path, **{name: value.translate(script)}))


@SCRIPTS
def test_an_hm_metadata_endpoint_index_in_other_digits_is_refused(script: dict[int, str]) -> None:
    certificate = certificate_base64(generate_key_pair("hm").cert_pem)

    def metadata(index: str) -> bytes:
        return f"""<md:EntityDescriptor xmlns:md="{NS["md"]}" xmlns:ds="{NS["ds"]}" entityID="https://hm.test">
          <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
            <md:KeyDescriptor><ds:KeyInfo><ds:X509Data>
              <ds:X509Certificate>{certificate}</ds:X509Certificate>
            </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
            <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
              Location="https://hm.test/sso"/>
            <md:ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP"
              Location="https://hm.test/ars" index="{index}"/>
          </md:IDPSSODescriptor>
        </md:EntityDescriptor>""".encode()

    assert parse_metadata(metadata("1"), NOW).artifact_resolution_urls == {1: "https://hm.test/ars"}
    with pytest.raises(MetadataError, match="index"):
        parse_metadata(metadata("1".translate(script)), NOW)
