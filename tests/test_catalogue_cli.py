"""`flask eherkenning catalogue` and `/saml/catalogue.xml`: refused whole while the configuration
lacks anything, else signed, schema-valid, and numbered anew whenever the content changes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import text

from broker.extensions import db
from broker.models.catalogue import last_catalogue, number_catalogue
from config import Settings
from saml.xml import NS
from tests.conftest import MovableClock, apps_on, migrated_app, postgres_url

HM = "00000003244440010000"
SERVICES = """
services:
  - slug: portal
    uuid: 6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01
    index: 1
    minimum_loa: loa3
    name: {nl: Portaal, en: Portal}
    description: {nl: Zaken doen namens uw organisatie, en: Doing business for your organisation}
    service_url: https://portal.example.nl/
    privacy_policy_url: https://portal.example.nl/privacy
    instance_uuid: 0c5e2a7d-4f1b-4e8a-9d36-5b7c1e2f3a11
  - slug: desk
    uuid: 2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02
    index: 2
    minimum_loa: loa2plus
    name: {nl: Loket, en: Desk}
    description: {nl: Vergunningen aanvragen, en: Applying for permits}
    service_url: https://desk.example.nl/
    privacy_policy_url: https://desk.example.nl/privacy
    instance_uuid: 7a1d3e5f-2b4c-4d6e-8f90-1a2b3c4d5e22
    requested_attributes:
      - name: FamilyName
        purpose: {nl: Het loket toont uw naam, en: The desk shows your name}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "broker.yaml"
    path.write_text(SERVICES)
    return path


@pytest.fixture
def cli_app(tmp_path: Path, clock: MovableClock, config: Path) -> Flask:
    return migrated_app(tmp_path / "instance", clock, BROKER_CONFIG=str(config), BROKER_HM_ID=HM)


@pytest.fixture(scope="module")
def schema(shared: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(shared / "xsd" / "eherkenning-dc.xml")))


def invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def version_of(xml: bytes) -> str:
    return etree.fromstring(xml).get("{urn:etoegang:1.13:service-catalog}Version")


def rows(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(text("SELECT count(*) FROM catalogue_version")).scalar_one()


def test_refused_whole_naming_file_service_and_field_and_nothing_written(
    tmp_path: Path, clock: MovableClock, config: Path
) -> None:
    config.write_text(SERVICES.replace("    service_url: https://desk.example.nl/\n", ""))
    app = migrated_app(tmp_path / "instance", clock, BROKER_CONFIG=str(config))
    out = tmp_path / "catalogue.xml"
    code, output = invoke(app, "eherkenning", "catalogue", "--out", str(out))
    assert code == 1
    assert f"{config}: services[1] (desk): field 'service_url' is missing" in output
    for n, slug in ((0, "portal"), (1, "desk")):
        assert (
            f"{config}: services[{n}] ({slug}): field 'hm_ids' is missing and BROKER_HM_ID is not set"
            in output
        )
    assert not out.exists()
    assert rows(app) == 0
    # The route serves nothing either.
    assert app.test_client().get("/saml/catalogue.xml").status_code == 404
    assert rows(app) == 0


def test_written_signed_and_schema_valid(cli_app: Flask, tmp_path: Path, schema: etree.XMLSchema) -> None:
    out = tmp_path / "catalogue.xml"
    code, output = invoke(cli_app, "eherkenning", "catalogue", "--out", str(out))
    assert code == 0, output
    assert output == f"{out}: urn:etoegang:1.13:service-catalogue:T:1 (new: its content changed)\n"
    assert schema.validate(etree.parse(str(out))), schema.error_log


def test_printed_without_out(cli_app: Flask) -> None:
    result = cli_app.test_cli_runner().invoke(args=["eherkenning", "catalogue"])
    assert result.exit_code == 0, result.output
    assert version_of(result.stdout_bytes) == "urn:etoegang:1.13:service-catalogue:T:1"
    assert result.stderr == "urn:etoegang:1.13:service-catalogue:T:1 (new: its content changed)\n"


def test_the_number_goes_up_with_each_change_of_content_per_environment(cli_app: Flask, config: Path) -> None:
    def made(*args: str) -> str:
        code, output = invoke(
            cli_app, "eherkenning", "catalogue", "--out", str(config.with_suffix(".xml")), *args
        )
        assert code == 0, output
        return output.partition(": ")[2].strip()

    assert made() == "urn:etoegang:1.13:service-catalogue:T:1 (new: its content changed)"
    assert made() == "urn:etoegang:1.13:service-catalogue:T:1 (unchanged)"
    config.write_text(SERVICES.replace("Applying for permits", "Applying for permits and notifying"))
    assert made() == "urn:etoegang:1.13:service-catalogue:T:2 (new: its content changed)"
    assert made("--env", "preprod") == "urn:etoegang:1.13:service-catalogue:T:2 (unchanged)"
    # Production has a sequence of its own.
    assert made("--env", "prod") == "urn:etoegang:1.13:service-catalogue:P:1 (new: its content changed)"
    # Back to the old content is a change too.
    config.write_text(SERVICES)
    assert made() == "urn:etoegang:1.13:service-catalogue:T:3 (new: its content changed)"


def test_a_catalogue_that_cannot_be_written_keeps_no_number(cli_app: Flask, tmp_path: Path) -> None:
    code, output = invoke(cli_app, "eherkenning", "catalogue", "--out", str(tmp_path / "missing" / "c.xml"))
    assert code == 1
    assert "cannot write" in output
    assert rows(cli_app) == 0


def test_the_route_serves_the_catalogue_of_the_connected_environment(
    cli_app: Flask, config: Path, schema: etree.XMLSchema
) -> None:
    client = cli_app.test_client()
    answer = client.get("/saml/catalogue.xml")
    assert answer.status_code == 200
    assert answer.mimetype == "application/xml"
    assert schema.validate(etree.fromstring(answer.data)), schema.error_log
    assert version_of(answer.data) == "urn:etoegang:1.13:service-catalogue:T:1"
    assert version_of(client.get("/saml/catalogue.xml").data) == "urn:etoegang:1.13:service-catalogue:T:1"
    config.write_text(SERVICES.replace("name: {nl: Loket, en: Desk}", "name: {nl: Loket, en: Permit desk}"))
    assert version_of(client.get("/saml/catalogue.xml").data) == "urn:etoegang:1.13:service-catalogue:T:2"
    # The command line numbers the same sequence.
    _, output = invoke(cli_app, "eherkenning", "catalogue", "--out", str(config.with_suffix(".xml")))
    assert "urn:etoegang:1.13:service-catalogue:T:2 (unchanged)" in output, output


def test_numbering_on_postgresql(settings: Settings, clock: MovableClock) -> None:
    with (
        apps_on(dataclasses.replace(settings, database_url=postgres_url()), clock) as (app,),
        app.app_context(),
    ):
        db.session.execute(text("DELETE FROM catalogue_version"))
        now = clock()
        assert number_catalogue("prod", "a" * 64, now).sequence == 1
        assert number_catalogue("prod", "a" * 64, now) == dataclasses.replace(
            number_catalogue("prod", "a" * 64, now), changed=False
        )
        assert number_catalogue("prod", "b" * 64, now).sequence == 2
        db.session.commit()
        published = last_catalogue("prod")
        assert published is not None
        assert (published.content_hash, published.sequence) == ("b" * 64, 2)
        db.session.execute(text("DELETE FROM catalogue_version"))
        db.session.commit()


def test_one_service_definition_per_service_however_many_clients_sign_in_for_it(
    cli_app: Flask, config: Path
) -> None:
    secret = "s" * 32
    config.write_text(
        SERVICES
        + f"""
clients:
  - client_id: both
    services: [portal, desk]
    redirect_uris: [https://portal.example.nl/callback]
    secret: {secret}
  - client_id: desk-only
    service: desk
    redirect_uris: [https://desk.example.nl/callback]
    secret: {secret}
"""
    )
    result = cli_app.test_cli_runner().invoke(args=["eherkenning", "catalogue"])
    assert result.exit_code == 0, result.output
    catalogue = etree.fromstring(result.stdout_bytes)
    uuids = [element.text for element in catalogue.iterfind(".//esc:ServiceDefinition/esc:ServiceUUID", NS)]
    assert uuids == ["6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01", "2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02"]
