"""`flask eherkenning check`: a good configuration passes; each kind of fault is named, with what
to do, and an error makes the command fail."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
import xmlsec
from flask import Flask
from lxml import etree

from config import Binding, KeyPair, NextKey, SamlSettings, Service, Settings
from config.dev_keys import generate_key_pair
from saml import catalogue, signature
from saml.metadata import sp_metadata
from saml.self_check import (
    Finding,
    Level,
    check_agreement,
    check_catalogue,
    check_hm_metadata,
    check_keys,
    check_metadata,
)
from saml.simulator.hm import SimulatorHm
from saml.xml import NS, format_instant, new_id, parse
from tests.conftest import MovableClock, migrated_app

HM = "00000003244440010000"


def ten_services() -> str:
    """A configuration of ten services, of every profile, level and establishment policy."""
    entries = []
    for n in range(1, 11):
        profile = ("custom", "ind", "olo")[n % 3]
        level = {"ind": "loa3", "olo": "loa2plus", "custom": ("loa2", "loa2plus", "loa3", "loa4")[n % 4]}[
            profile
        ]
        attributes = (
            "    requested_attributes:\n"
            "      - name: FamilyName\n"
            "        purpose: {nl: De dienst toont uw naam, en: The service shows your name}\n"
            "      - name: Initials\n"
            "        purpose: {nl: De dienst toont uw voorletters, en: The service shows your initials}\n"
            if n % 2
            else ""
        )
        entries.append(
            f"  - slug: service-{n}\n"
            f"    uuid: 00000000-0000-4000-8000-{n:012d}\n"
            f"    index: {n}\n"
            f"    profile: {profile}\n"
            f"    minimum_loa: {level}\n"
            f"    name: {{nl: Dienst {n}, en: Service {n}}}\n"
            f"    description: {{nl: Wat dienst {n} doet, en: What service {n} does}}\n"
            f"    service_url: https://service-{n}.example.nl/\n"
            f"    privacy_policy_url: https://service-{n}.example.nl/privacy\n"
            f"    instance_uuid: 00000000-0000-4000-9000-{n:012d}\n"
            f"{attributes}"
            + ("    establishment_restrictions: false\n" if n == 10 else "")
            + ('    hm_ids: ["00000003244440010000", "00000001823288444000"]\n' if n == 7 else "")
        )
    return "services:\n" + "".join(entries)


@pytest.fixture(scope="module")
def xsd(shared: Path) -> Path:
    return shared / "xsd"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "broker.yaml"
    path.write_text(ten_services())
    return path


def app_for(tmp_path: Path, clock: MovableClock, config: Path, **overrides: str) -> Flask:
    return migrated_app(
        tmp_path / "instance", clock, **{"BROKER_CONFIG": str(config), "BROKER_HM_ID": HM, **overrides}
    )


def invoke(app: Flask, *args: str) -> tuple[int, list[str]]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output.splitlines()


def errors(findings: list[Finding]) -> list[str]:
    return [f"{f.subject}: {f.text}" for f in findings if f.level is Level.ERROR]


def warnings(findings: list[Finding]) -> list[str]:
    return [f"{f.subject}: {f.text}" for f in findings if f.level is Level.WARNING]


def test_ten_services_validate_and_pass_the_check(
    tmp_path: Path, clock: MovableClock, config: Path, xsd: Path
) -> None:
    app = app_for(tmp_path, clock, config)
    out = tmp_path / "catalogue.xml"
    code, lines = invoke(app, "eherkenning", "catalogue", "--out", str(out))
    assert code == 0, lines
    catalogue_schema = etree.XMLSchema(etree.parse(str(xsd / "eherkenning-dc.xml")))
    metadata_schema = etree.XMLSchema(etree.parse(str(xsd / "saml-schema-metadata-2.0.xsd")))
    document = etree.parse(str(out))
    assert catalogue_schema.validate(document), catalogue_schema.error_log
    assert len(document.findall("esc:ServiceProvider/esc:ServiceInstance", NS)) == 10
    metadata = etree.fromstring(app.test_client().get("/saml/metadata").data)
    assert metadata_schema.validate(metadata), metadata_schema.error_log
    assert len(metadata.findall("md:SPSSODescriptor/md:AttributeConsumingService", NS)) == 10

    code, lines = invoke(app, "eherkenning", "check", "--xsd", str(xsd))
    assert code == 0, "\n".join(lines)
    assert not [line for line in lines if line.startswith("error:")]
    for expected in (
        "ok: our key: certificate CN=eh-broker development valid until",
        "ok: our metadata: is valid against its XML schema",
        "ok: our metadata: signed with rsa-sha256 with sha256 digests, verified with our key",
        "ok: our metadata: lists 10 services, requesting only their ServiceIDs",
        "ok: our catalogue: unchanged since version 1",
        "ok: our catalogue: is valid against its XML schema",
        "ok: metadata and catalogue: agree on 10 services, their indexes and UUIDs",
        "ok: HM http://localhost/simulator/metadata: resolves artifacts at http://localhost/simulator/ars",
    ):
        assert any(line.startswith(expected) for line in lines), expected
    assert lines[-1].startswith("0 errors, ")


def test_ten_services_on_two_hms_validate_and_pass_the_check(
    tmp_path: Path, clock: MovableClock, config: Path, xsd: Path
) -> None:
    """Services 1 to 5 prefer the built-in simulator (`first`), 6 to 10 the second HM; both HMs'
    metadata are signed, pinned and examined."""
    second = SimulatorHm(
        "https://hm2.example.nl/saml",
        generate_key_pair("second HM"),
        "https://hm2.example.nl/sso",
        "https://hm2.example.nl/ars",
    )
    metadata, signer = tmp_path / "second-metadata.xml", tmp_path / "second-signer.pem"
    metadata.write_bytes(second.metadata(clock()))
    signer.write_bytes(second.key.cert_pem)
    text = ten_services()
    for n in range(1, 11):
        order = "[first, second]" if n <= 5 else "[second, first]"
        text = text.replace(f"    index: {n}\n", f"    index: {n}\n    hms: {order}\n")
    config.write_text(text)
    app = app_for(
        tmp_path,
        clock,
        config,
        BROKER_HM_ID=f"{HM},00000001823288444000",
        BROKER_HMS="first,second",
        BROKER_HM_SECOND_METADATA=str(metadata),
        BROKER_HM_SECOND_METADATA_SIGNER=str(signer),
    )
    services = app.extensions["broker"].registry().services
    assert [service.hms for service in services] == [("first", "second")] * 5 + [("second", "first")] * 5
    out = tmp_path / "catalogue.xml"
    code, lines = invoke(app, "eherkenning", "catalogue", "--out", str(out))
    assert code == 0, lines
    catalogue_schema = etree.XMLSchema(etree.parse(str(xsd / "eherkenning-dc.xml")))
    metadata_schema = etree.XMLSchema(etree.parse(str(xsd / "saml-schema-metadata-2.0.xsd")))
    assert catalogue_schema.validate(etree.parse(str(out))), catalogue_schema.error_log
    assert metadata_schema.validate(etree.fromstring(app.test_client().get("/saml/metadata").data))

    code, lines = invoke(app, "eherkenning", "check", "--xsd", str(xsd))
    assert code == 0, "\n".join(lines)
    assert not [line for line in lines if line.startswith("error:")]
    for expected in (
        "ok: metadata and catalogue: agree on 10 services, their indexes and UUIDs",
        "ok: HM http://localhost/simulator/metadata: resolves artifacts at http://localhost/simulator/ars",
        "ok: HM https://hm2.example.nl/saml: signed with rsa-sha256 with sha256 digests, verified with"
        " BROKER_HM_SECOND_METADATA_SIGNER",
        "ok: HM https://hm2.example.nl/saml: resolves artifacts at https://hm2.example.nl/ars",
    ):
        assert any(line.startswith(expected) for line in lines), expected


def test_the_check_says_when_the_catalogue_is_to_be_sent_anew(
    tmp_path: Path, clock: MovableClock, config: Path
) -> None:
    app = app_for(tmp_path, clock, config)
    _, lines = invoke(app, "eherkenning", "check")
    assert (
        "warning: our catalogue: never made for preprod: make it (flask --app wsgi eherkenning catalogue"
        in ("\n".join(lines))
    )
    invoke(app, "eherkenning", "catalogue", "--out", str(tmp_path / "c.xml"))
    config.write_text(ten_services().replace("What service 3 does", "What service 3 does now"))
    code, lines = invoke(app, "eherkenning", "check")
    assert code == 0
    assert any(line.startswith("warning: our catalogue: changed since version 1 of ") for line in lines), (
        lines
    )


def test_what_the_catalogue_lacks_is_an_error_naming_file_service_and_field(
    tmp_path: Path, clock: MovableClock, config: Path
) -> None:
    config.write_text(ten_services().replace("    instance_uuid: 00000000-0000-4000-9000-000000000004\n", ""))
    code, lines = invoke(app_for(tmp_path, clock, config), "eherkenning", "check")
    assert code == 1
    assert (
        f"error: our catalogue: {config}: services[3] (service-4): field 'instance_uuid' is missing:"
        " the service catalogue needs it: fill it in"
    ) in lines


def test_an_expired_key_fails_the_check_and_one_expiring_soon_warns(
    tmp_path: Path, clock: MovableClock, config: Path
) -> None:
    pair = generate_key_pair("short-lived", days=90)
    (tmp_path / "key.pem").write_bytes(pair.key_pem)
    (tmp_path / "cert.pem").write_bytes(pair.cert_pem)
    app = app_for(
        tmp_path,
        clock,
        config,
        BROKER_SAML_KEY=str(tmp_path / "key.pem"),
        BROKER_SAML_CERT=str(tmp_path / "cert.pem"),
    )
    invoke(app, "eherkenning", "catalogue", "--out", str(tmp_path / "c.xml"))
    clock.advance(timedelta(days=50))
    code, lines = invoke(app, "eherkenning", "check")
    assert code == 0, lines
    assert any(
        line.startswith("warning: our key: certificate CN=short-lived expires on ")
        and "BROKER_SAML_NEXT_KEY" in line
        for line in lines
    ), lines
    clock.advance(timedelta(days=50))
    code, lines = invoke(app, "eherkenning", "check")
    assert code == 1
    assert any(line.startswith("error: our key: certificate CN=short-lived expired on ") for line in lines), (
        lines
    )


def test_another_hms_metadata_is_checked_too(tmp_path: Path, clock: MovableClock, config: Path) -> None:
    hm = simulator_hm(generate_key_pair("other HM"))
    element = parse(hm.metadata(clock()))
    idp = element.find("md:IDPSSODescriptor", NS)
    idp.remove(idp.find("md:ArtifactResolutionService", NS))
    path = tmp_path / "other-hm.xml"
    path.write_bytes(resigned(element, hm.key))
    code, lines = invoke(app_for(tmp_path, clock, config), "eherkenning", "check", "--hm-metadata", str(path))
    assert code == 1
    assert (
        "error: HM https://hm.example.nl/saml: has no ArtifactResolutionService (SOAP): artifacts cannot be"
        " resolved; ask the HM"
    ) in lines


# The checks one by one, on documents made faulty on purpose (and signed again, so that only the
# fault counts).


def simulator_hm(key: KeyPair) -> SimulatorHm:
    return SimulatorHm(
        "https://hm.example.nl/saml", key, "https://hm.example.nl/sso", "https://hm.example.nl/ars"
    )


def resigned(element: etree._Element, pair: KeyPair) -> bytes:
    """`element` with its signature replaced by a fresh one of `pair`."""
    old = element.find("ds:Signature", NS)
    if old is not None:
        element.remove(old)
    signature.sign(element, pair)
    return etree.tostring(element)


def signed_with_sha1(element: etree._Element, pair: KeyPair) -> bytes:
    """`element` signed with RSA-SHA1 and a SHA-1 digest, as older software still does."""
    element.remove(element.find("ds:Signature", NS))
    element.set("ID", new_id())
    template = xmlsec.template.create(element, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA1)
    element.insert(0, template)
    reference = xmlsec.template.add_reference(template, xmlsec.Transform.SHA1, uri=f"#{element.get('ID')}")
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    xmlsec.tree.add_ids(element, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(pair.key_pem, xmlsec.KeyFormat.PEM)
    context.sign(template)
    return etree.tostring(element)


@pytest.fixture
def world(tmp_path: Path, clock: MovableClock, config: Path) -> tuple[SamlSettings, tuple[Service, ...]]:
    """Our settings (with an HM id) and the ten services of the configuration."""
    app = app_for(tmp_path, clock, config)
    state = app.extensions["broker"]
    return state.settings.saml, state.settings.config.read().services


def test_the_signature_algorithm_of_an_hms_metadata(settings: Settings, clock: MovableClock) -> None:
    hm = simulator_hm(generate_key_pair("HM"))
    now = clock()
    good = check_hm_metadata(
        hm.metadata(now), settings.saml, now, production=False, signers=[hm.key.cert_pem]
    )
    assert not errors(good)
    assert (
        "HM https://hm.example.nl/saml: signed with rsa-sha256 with sha256 digests, verified with"
        in " ".join(f"{f.subject}: {f.text}" for f in good)
    )
    sha1 = signed_with_sha1(parse(hm.metadata(now)), hm.key)
    assert errors(
        check_hm_metadata(sha1, settings.saml, now, production=False, signers=[hm.key.cert_pem])
    ) == [
        "HM https://hm.example.nl/saml: signed with rsa-sha1 with sha1 digests: only RSA-SHA256 or stronger,"
        " never SHA-1"
    ]
    # Signed by another key than the pinned one.
    assert errors(
        check_hm_metadata(hm.metadata(now), settings.saml, now, False, [settings.saml.key.cert_pem])
    )[0].startswith("HM https://hm.example.nl/saml: signature does not verify with BROKER_HM_METADATA_SIGNER")


def test_the_signature_algorithm_of_our_metadata(
    world: tuple[SamlSettings, tuple[Service, ...]], clock: MovableClock
) -> None:
    saml, services = world
    now = clock()
    sha1 = signed_with_sha1(parse(sp_metadata(saml, services, now)), saml.key)
    assert (
        "our metadata: signed with rsa-sha1 with sha1 digests: only RSA-SHA256 or stronger, never SHA-1"
        in (errors(check_metadata(sha1, saml, services, now, production=False)))
    )


def test_an_hms_certificate_expired_or_expiring(settings: Settings, clock: MovableClock) -> None:
    hm = simulator_hm(generate_key_pair("short HM", days=30))
    now = clock()
    data = hm.metadata(now)
    soon = check_hm_metadata(data, settings.saml, now + timedelta(days=5), False, [hm.key.cert_pem])
    assert any(
        w.startswith("HM https://hm.example.nl/saml: signing certificate CN=short HM expires on ")
        for w in warnings(soon)
    )
    assert not errors(soon)
    later = now + timedelta(days=40)
    # Its metadata has expired by then too (the simulator's lasts a week).
    assert errors(check_hm_metadata(data, settings.saml, later, False, [hm.key.cert_pem])) == [
        f"HM https://hm.example.nl/saml: expired at {parse(data).get('validUntil')}: get it anew",
        f"HM https://hm.example.nl/saml: signing certificate CN=short HM expired on"
        f" {(now + timedelta(days=30)).date().isoformat()}: ask the HM for metadata with its next"
        " certificate",
    ]


def test_an_hms_endpoints_for_our_bindings(settings: Settings, clock: MovableClock) -> None:
    hm = simulator_hm(generate_key_pair("HM"))
    now = clock()
    element = parse(hm.metadata(now))
    idp = element.find("md:IDPSSODescriptor", NS)
    for sso in idp.findall("md:SingleSignOnService", NS):
        if sso.get("Binding") == Binding.POST:
            idp.remove(sso)
    data = resigned(element, hm.key)
    found = errors(check_hm_metadata(data, settings.saml, now, False, [hm.key.cert_pem]))
    assert found == [
        "HM https://hm.example.nl/saml: has no SingleSignOnService for POST: set"
        " BROKER_SAML_REQUEST_BINDING=redirect if it has that one, or ask the HM"
    ]
    redirect = dataclasses.replace(settings.saml, request_binding=Binding.REDIRECT)
    assert not errors(check_hm_metadata(data, redirect, now, False, [hm.key.cert_pem]))
    # Over plain http: refused in production, a warning elsewhere.
    plain = SimulatorHm(
        "http://hm.example.nl/saml", hm.key, "http://hm.example.nl/sso", "http://hm.example.nl/ars"
    )
    assert (
        len(errors(check_hm_metadata(plain.metadata(now), settings.saml, now, True, [hm.key.cert_pem]))) == 2
    )
    relaxed = warnings(check_hm_metadata(plain.metadata(now), settings.saml, now, False, [hm.key.cert_pem]))
    assert len([w for w in relaxed if "is not https:// (refused in production)" in w]) == 2


def test_our_acs_binding_and_location(
    world: tuple[SamlSettings, tuple[Service, ...]], clock: MovableClock
) -> None:
    saml, services = world
    now = clock()
    element = parse(sp_metadata(saml, services, now))
    acs = element.find("md:SPSSODescriptor/md:AssertionConsumerService", NS)
    acs.set("Binding", Binding.POST)
    found = errors(check_metadata(resigned(element, saml.key), saml, services, now, production=False))
    assert found == [f"our metadata: ACS binding {Binding.POST} is not the one our requests ask for"]
    assert errors(check_metadata(sp_metadata(saml, services, now), saml, services, now, production=True)) == [
        f"our metadata: ACS location {saml.acs_url} is not https://"
    ]


def test_identifying_requested_attributes_in_our_metadata(
    world: tuple[SamlSettings, tuple[Service, ...]], clock: MovableClock
) -> None:
    saml, services = world
    now = clock()
    element = parse(sp_metadata(saml, services, now))
    service = element.find("md:SPSSODescriptor/md:AttributeConsumingService", NS)
    etree.SubElement(
        service, f"{{{NS['md']}}}RequestedAttribute", Name="urn:etoegang:1.9:EntityConcernedID:KvKnr"
    )
    found = errors(check_metadata(resigned(element, saml.key), saml, services, now, production=False))
    assert found == [
        "our metadata: service 1 requests urn:etoegang:1.9:EntityConcernedID:KvKnr: HMs reject metadata"
        " asking for identifiers"
    ]


def test_indexes_and_uuids_must_agree_between_metadata_and_catalogue(
    world: tuple[SamlSettings, tuple[Service, ...]], clock: MovableClock
) -> None:
    saml, services = world
    now = clock()
    metadata = sp_metadata(saml, services, now)

    def made(listed: tuple[Service, ...]) -> bytes:
        return catalogue.signed(
            catalogue.content(saml, listed, now), catalogue.version("preprod", 1), saml, now
        )

    assert not errors(check_agreement(metadata, made(services), saml, services))
    assert errors(check_agreement(metadata, made(services[:9]), saml, services)) == [
        "metadata and catalogue: service index 10 is in our metadata, not in our catalogue: send both anew"
    ]
    moved = (*services[:9], dataclasses.replace(services[9], index=11))
    assert errors(check_agreement(metadata, made(moved), saml, services)) == [
        "metadata and catalogue: service index 10 is in our metadata, not in our catalogue: send both anew",
        "metadata and catalogue: service index 11 is in our catalogue, not in our metadata: send both anew",
    ]
    other_uuid = "11111111-2222-4333-8444-555555555555"
    renamed = (*services[:9], dataclasses.replace(services[9], uuid=other_uuid))
    assert errors(check_agreement(metadata, made(renamed), saml, services)) == [
        f"metadata and catalogue: service index 10 is ServiceUUID {other_uuid} in the catalogue,"
        f" {services[9].uuid} in the configuration: assertions would be refused; publish the catalogue anew"
    ]


def test_a_catalogue_with_a_repeated_instance_uuid_or_another_key(
    world: tuple[SamlSettings, tuple[Service, ...]], clock: MovableClock
) -> None:
    saml, services = world
    now = clock()
    twice = (
        *services[:9],
        dataclasses.replace(
            services[9],
            catalogue=dataclasses.replace(
                services[9].catalogue, instance_uuid=services[8].catalogue.instance_uuid
            ),
        ),
    )
    content = catalogue.content(saml, twice, now)
    data = catalogue.signed(content, catalogue.version("preprod", 1), saml, now)
    assert errors(check_catalogue(data, saml, services, now, "preprod")) == [
        f"our catalogue: urn:etoegang:DV:{saml.oin}:services:10: instance UUID"
        f" {services[8].catalogue.instance_uuid} is used twice: give each instance its own"
    ]
    stranger = dataclasses.replace(saml, key=generate_key_pair("not ours"))
    service_id = f"urn:etoegang:DV:{saml.oin}:services:1"
    content = catalogue.content(stranger, services[:1], now)
    data = catalogue.signed(content, catalogue.version("prod", 1), saml, now)
    assert errors(check_catalogue(data, saml, services, now, "preprod")) == [
        "our catalogue: Version urn:etoegang:1.13:service-catalogue:P:1 is not for preprod",
        f"our catalogue: {service_id}: does not publish our current certificate: send it anew",
        f"our catalogue: {service_id}: publishes a certificate that is not one of our keys: remove it",
    ]


def test_the_next_key_in_keys_metadata_and_catalogue(
    world: tuple[SamlSettings, tuple[Service, ...]], clock: MovableClock
) -> None:
    saml, services = world
    now = clock()
    upcoming = NextKey(generate_key_pair("next", days=365), now + timedelta(days=10))
    activation = format_instant(upcoming.activates_at)
    rollover = dataclasses.replace(saml, next_key=upcoming)
    assert not errors(check_keys(rollover, now))
    metadata = sp_metadata(rollover, services, now)
    assert not errors(check_metadata(metadata, rollover, services, now, production=False))
    # Metadata made before the rollover lacks the next certificate and its announcement.
    assert errors(
        check_metadata(sp_metadata(saml, services, now), rollover, services, now, production=False)
    ) == [
        "our metadata: does not publish our next certificate: send it anew",
        f"our metadata: does not announce the next key's activation ({activation})",
    ]
    # A next certificate that has lapsed by its activation is no successor.
    late = dataclasses.replace(saml, next_key=NextKey(upcoming.pair, now + timedelta(days=400)))
    assert any("its certificate is not valid at its activation" in e for e in errors(check_keys(late, now)))
    # Once it has taken over, the rollover is to be finished.
    assert any(
        w.startswith("our next key: took over signing at ")
        for w in warnings(check_keys(rollover, now + timedelta(days=11)))
    )
