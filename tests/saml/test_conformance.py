"""Conformance with a real HM: a recorded Signicat pre-production exchange (../shared/samples).

The recorded ArtifactResponse goes through the ACS's own path (`Upstream.finish`: artifact
parsing, resolution, wrapper checks, response validation, replay store) with the clock set
inside its validity window. Tampered copies are refused.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, update

from broker import models
from broker.extensions import db
from broker.upstream import Upstream
from config import KeyPair, Registry, SamlSettings, Service
from config.dev_keys import generate_key_pair
from saml import relay_state
from saml.artifact import parse_artifact
from saml.errors import Reason, SamlError
from saml.hm_metadata import MetadataError, parse_metadata
from saml.identifiers import IdentifierType
from saml.loa import LevelOfAssurance
from saml.signature import register_ids, verify
from saml.xml import parse

REQUEST_ID = "ONELOGIN_123456"
ARTIFACT = "AAQAACtFCwW1R7216asQ/LLPzqzV85bXs9AtkR0HV9YPBjBxfHXdr6fs21w="
INSIDE_WINDOW = datetime(2025, 9, 22, 10, 49, 30, tzinfo=UTC)
SENT = datetime(2025, 9, 22, 10, 48, 43, tzinfo=UTC)  # the recorded AuthnRequest's IssueInstant
HM = "https://maykin.pre.ie01.signicat.pro/broker/sp/saml"
SERVICE = Service("sample", "6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01", 9302, "loa3", "Voorbeeld", "Sample")
REGISTRY = Registry((SERVICE,), ())


@pytest.fixture(scope="module")
def samples(shared: Path) -> Path:
    return shared / "samples" / "signicat-preprod"


@pytest.fixture(scope="module")
def service() -> Service:
    return SERVICE


@pytest.fixture(scope="module")
def sample_settings(samples: Path) -> SamlSettings:
    return SamlSettings(
        entity_id="https://localhost:8000/eherkenning",
        oin="00000003244440010000",
        base_url="https://localhost:8000/eherkenning",
        acs_url="https://localhost:8000/eherkenning/acs/",
        key=KeyPair((samples / "sp-key.pem").read_bytes(), (samples / "sp-certificate.pem").read_bytes()),
        hm_metadata=str(samples / "hm-metadata.xml"),
    )


@pytest.fixture
def pending(app: Flask, service: Service) -> Iterator[str]:
    """The recorded request, pending in our store; returns its sealed RelayState reference."""
    with app.app_context():
        db.session.add(
            models.SamlRequest(
                id=REQUEST_ID,
                reference="conformance",
                service_slug=service.slug,
                minimum_level="loa3",
                purpose="test_login",
                created_at=SENT,
                expires_at=datetime(2025, 9, 22, 11, 3, tzinfo=UTC),
            )
        )
        db.session.commit()
        yield "conformance"
        db.session.execute(delete(models.SamlRequest).where(models.SamlRequest.id == REQUEST_ID))
        db.session.execute(delete(models.SeenAssertion).where(models.SeenAssertion.issuer == HM))
        db.session.commit()


def finish(samples: Path, settings: SamlSettings, reference: str, answer: bytes) -> object:
    """Run the ACS path with the recorded answer as what the HM's resolution service returns."""
    idp = parse_metadata((samples / "hm-metadata.xml").read_bytes(), INSIDE_WINDOW)
    sent: list[bytes] = []

    def transport(url: str, body: bytes) -> bytes:
        assert url == "https://maykin.pre.ie01.signicat.pro/broker/sp/saml/ars"
        sent.append(body)
        return answer

    upstream = Upstream.create(settings, idp, transport, lambda: INSIDE_WINDOW, "s" * 40, lambda: REGISTRY)
    upstream = dataclasses.replace(upstream, new_id=lambda: REQUEST_ID)
    sealed = relay_state.seal(reference, upstream.secret)
    answer_value = upstream.finish({"SAMLart": ARTIFACT, "RelayState": sealed})
    # What we sent was a signed ArtifactResolve carrying the artifact, verifiable with our certificate.
    resolve = parse(sent[0])
    register_ids(resolve)
    artifact_resolve = resolve.find(".//{urn:oasis:names:tc:SAML:2.0:protocol}ArtifactResolve")
    verify(artifact_resolve, [settings.key.cert_pem])
    assert ARTIFACT.encode() in sent[0]
    return answer_value


def test_recorded_response_gives_the_expected_identity(app, samples, sample_settings, pending):
    with app.app_context():
        answer = finish(samples, sample_settings, pending, (samples / "artifact-response.xml").read_bytes())
    identity = answer.validated.identity
    assert identity.legal_subject.type is IdentifierType.KVK
    assert identity.kvk_number == "24444001"
    assert identity.rsin == "819935177"
    assert identity.company_name == "ExampleCompanyName"
    assert identity.acting_subject.startswith("03659FB1FAE5D26DB2D28866C1A4FE7F")
    assert identity.level is LevelOfAssurance.LOA4
    assert identity.service_id == "urn:etoegang:DV:00000003244440010000:services:9302"
    assert identity.service_uuid is None
    assert identity.intermediary is None and identity.establishment_restriction is None
    assert identity.hm_entity_id == HM
    assert identity.authn_instant == datetime(2025, 9, 22, 10, 48, 45, 815000, tzinfo=UTC)
    assert answer.validated.assertion_id == "_d717bf36ee26f74293d20d1e695bee02"


def test_recorded_response_is_refused_outside_its_window(app, samples, sample_settings, pending):
    late = datetime(2025, 9, 22, 10, 53, tzinfo=UTC)
    with app.app_context():
        idp = parse_metadata((samples / "hm-metadata.xml").read_bytes(), late)
        upstream = Upstream(
            sample_settings,
            idp,
            lambda u, b: (samples / "artifact-response.xml").read_bytes(),
            lambda: late,
            b"k" * 32,
            lambda: REGISTRY,
            lambda: REQUEST_ID,
        )
        with pytest.raises(SamlError) as refused:
            upstream.finish({"SAMLart": ARTIFACT, "RelayState": relay_state.seal(pending, b"k" * 32)})
    assert refused.value.reason is Reason.EXPIRED


def test_recorded_response_is_refused_a_second_time(app, samples, sample_settings, pending):
    data = (samples / "artifact-response.xml").read_bytes()
    with app.app_context():
        finish(samples, sample_settings, pending, data)
        with pytest.raises(SamlError) as used:
            finish(samples, sample_settings, pending, data)
        # Even were the request not marked answered, the assertion ID is remembered.
        db.session.execute(
            update(models.SamlRequest).where(models.SamlRequest.id == REQUEST_ID).values(consumed_at=None)
        )
        db.session.commit()
        with pytest.raises(SamlError) as replayed:
            finish(samples, sample_settings, pending, data)
    assert used.value.reason is Reason.REQUEST_USED
    assert replayed.value.reason is Reason.ASSERTION_REPLAYED


def _drop_outer_signature(data: bytes) -> bytes:
    # The ArtifactResponse signature is optional; dropping it leaves the assertion's to decide.
    return re.sub(
        rb"(<saml2p:ArtifactResponse .*?</saml2:Issuer>)<ds:Signature.*?</ds:Signature>",
        rb"\1",
        data,
        count=1,
        flags=re.S,
    )


TAMPERINGS = {
    "kvk number changed": (lambda d: d.replace(b">24444001<", b">24444002<"), Reason.SIGNATURE_INVALID),
    "level changed": (
        lambda d: d.replace(b"assurance-class:loa4", b"assurance-class:loa3"),
        Reason.SIGNATURE_INVALID,
    ),
    "rsin changed": (lambda d: d.replace(b">819935177<", b">819935178<"), Reason.SIGNATURE_INVALID),
    "assertion signature moved into the response": (
        lambda d: re.sub(
            rb"(<saml2p:Status><saml2p:StatusCode "
            rb"Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></saml2p:Status>"
            rb"<saml2:Assertion[^>]*>)(<saml2:Issuer>[^<]*</saml2:Issuer>)(<ds:Signature.*?</ds:Signature>)",
            rb"\1\2",
            d,
            count=1,
            flags=re.S,
        ),
        Reason.SIGNATURE_MISSING,
    ),
}


@pytest.mark.parametrize("outer_signed", [True, False], ids=["outer-signed", "outer-unsigned"])
@pytest.mark.parametrize("tampering", list(TAMPERINGS), ids=list(TAMPERINGS))
def test_tampered_copies_are_refused(app, samples, sample_settings, pending, tampering, outer_signed):
    data = (samples / "artifact-response.xml").read_bytes()
    change, reason_when_unsigned_wrapper = TAMPERINGS[tampering]
    if not outer_signed:
        data = _drop_outer_signature(data)
        assert b"#_fd9df8803951ea387ff9066678ff5d1b" not in data
    tampered = change(data)
    assert tampered != data
    with app.app_context(), pytest.raises(SamlError) as refused:
        finish(samples, sample_settings, pending, tampered)
    # A signed wrapper catches any change first; without it, the assertion's own signature does.
    expected = Reason.SIGNATURE_INVALID if outer_signed else reason_when_unsigned_wrapper
    assert refused.value.reason is expected


def test_recorded_artifact_names_the_recorded_hm(samples):
    idp = parse_metadata((samples / "hm-metadata.xml").read_bytes(), INSIDE_WINDOW)
    assert parse_artifact(ARTIFACT).source_id == idp.source_id


def test_the_recorded_metadata_verifies_with_its_signer_and_not_tampered(samples: Path) -> None:
    """The HM signs its metadata; with BROKER_HM_METADATA_SIGNER its signature is checked."""
    data = (samples / "hm-metadata.xml").read_bytes()
    idp = parse_metadata(data, INSIDE_WINDOW)
    signer = idp.signing_certificates[0]  # Signicat signs its metadata with its signing key
    assert parse_metadata(data, INSIDE_WINDOW, (signer,)).entity_id == HM
    # Pointing artifact resolution elsewhere breaks the signature.
    tampered = data.replace(b"/broker/sp/saml/ars", b"/elsewhere/ars")
    with pytest.raises(MetadataError, match="HM metadata signature"):
        parse_metadata(tampered, INSIDE_WINDOW, (signer,))
    other = generate_key_pair("not the HM").cert_pem
    with pytest.raises(MetadataError, match="HM metadata signature"):
        parse_metadata(data, INSIDE_WINDOW, (other,))
