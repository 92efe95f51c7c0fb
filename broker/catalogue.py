"""Our service catalogue as the broker hands it out, numbered, and the self-check before going live.

A catalogue is made from the services and settings of the moment: what it cannot do without is
named first (file, service and field, or the setting), and nothing is made while anything is
missing. Its content's digest is numbered per HM environment (`broker.models.catalogue`): the same
content keeps its number, any change gets the next one. `flask eherkenning catalogue` and
`/saml/catalogue.xml` number it; the self-check only looks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
from flask import Response, abort
from lxml import etree

from broker.extensions import db
from broker.models.catalogue import last_catalogue, number_catalogue
from broker.runtime import runtime
from config import HmSettings, Profile, Registry, Settings
from config.catalogue_entry import NAME_LIMIT
from config.services import catalogue_gaps
from saml import catalogue, self_check
from saml.hm_metadata import MetadataError, read_metadata_source
from saml.metadata import sp_metadata
from saml.self_check import Finding, Level

log = logging.getLogger("broker.catalogue")
# The schemas `--xsd` names a folder of.
METADATA_SCHEMA = "saml-schema-metadata-2.0.xsd"
CATALOGUE_SCHEMA = "eherkenning-dc.xml"
_METADATA_LIMIT = 4 * 1024 * 1024


class CatalogueIncomplete(Exception):
    """The catalogue cannot be made: each gap names the file, service and field, or the setting."""

    def __init__(self, gaps: Sequence[str]) -> None:
        super().__init__("\n".join(gaps))
        self.gaps = tuple(gaps)


@dataclass(frozen=True)
class Catalogue:
    xml: bytes
    version: str
    # Whether its content differs from the catalogue made before: it got a new number.
    changed: bool


def gaps(settings: Settings, registry: Registry) -> tuple[str, ...]:
    """What the catalogue lacks in the configuration file and the settings."""
    found = list(catalogue_gaps(settings.config.path, registry.services, settings.saml.hm_ids))
    for name, value in (
        ("BROKER_ORGANISATION_NAME", settings.saml.organisation_name),
        ("BROKER_ORGANISATION_NAME_EN", settings.saml.organisation_name_en),
    ):
        if len(value) > NAME_LIMIT:
            found.append(f"{name} has {len(value)} characters; the catalogue allows {NAME_LIMIT}")
    return tuple(found)


def make(environment: str) -> Catalogue:
    """The signed catalogue of now for `environment`, numbered; the caller commits the number.

    Raises CatalogueIncomplete, before anything is numbered, when the configuration lacks anything.
    """
    state = runtime()
    settings, registry, now = state.settings, state.registry(), state.upstream.clock()
    missing = gaps(settings, registry)
    if missing:
        raise CatalogueIncomplete(missing)
    saml = state.upstream.saml(now)  # the keys of now: during a rollover, the next one too
    content = catalogue.content(saml, registry.services, now)
    numbered = number_catalogue(environment, catalogue.digest(content), now)
    version = catalogue.version(environment, numbered.sequence)
    return Catalogue(catalogue.signed(content, version, saml, now), version, numbered.changed)


def response() -> Response:
    """`/saml/catalogue.xml`: the catalogue for the environment the broker is connected to."""
    try:
        made = make(runtime().settings.saml.catalogue_environment)
    except CatalogueIncomplete as incomplete:
        log.warning("service catalogue not served: %d gaps in the configuration", len(incomplete.gaps))
        abort(404)
    db.session.commit()
    return Response(made.xml, mimetype="application/xml")


def self_check_findings(
    environment: str, other_hm_metadata: Sequence[Path] = (), schemas: Path | None = None
) -> list[Finding]:
    """Every finding about our keys, metadata and catalogue, and each HM's metadata; nothing is written."""
    state = runtime()
    settings, registry, now = state.settings, state.registry(), state.upstream.clock()
    saml, services = state.upstream.saml(now), registry.services
    production = settings.profile is Profile.PRODUCTION
    metadata_schema, catalogue_schema = _schema(schemas, METADATA_SCHEMA), _schema(schemas, CATALOGUE_SCHEMA)
    findings = self_check.check_keys(saml, now)
    metadata = sp_metadata(saml, services, now)
    findings += self_check.check_metadata(metadata, saml, services, now, production, metadata_schema)
    missing = gaps(settings, registry)
    findings += [Finding(Level.ERROR, "our catalogue", f"{gap}: fill it in") for gap in missing]
    if not missing:
        content = catalogue.content(saml, services, now)
        draft, status = _draft(environment, catalogue.digest(content))
        findings.append(status)
        xml = catalogue.signed(content, catalogue.version(environment, draft), saml, now)
        findings += self_check.check_catalogue(xml, saml, services, now, environment, catalogue_schema)
        findings += self_check.check_agreement(metadata, xml, saml, services)
    for source, data, hm in _hm_metadata(settings, other_hm_metadata, now):
        if data is None:
            findings.append(Finding(Level.ERROR, "HM metadata", f"{source}: cannot be read"))
            continue
        findings += self_check.check_hm_metadata(data, saml, now, production, hm.signers, hm.signer_setting)
    return findings


def _draft(environment: str, digest: str) -> tuple[int, Finding]:
    """The number the catalogue has, or would get when made now, and what to do about it."""
    published = last_catalogue(environment)
    subject = "our catalogue"
    command = f"flask --app wsgi eherkenning catalogue --env {environment}"
    if published is None:
        return 1, Finding(
            Level.WARNING, subject, f"never made for {environment}: make it ({command}), send it to the HM"
        )
    if published.content_hash != digest:
        when = published.changed_at.date().isoformat()
        return published.sequence + 1, Finding(
            Level.WARNING,
            subject,
            f"changed since version {published.sequence} of {when}: make it anew ({command}),"
            " send it to the HM",
        )
    return published.sequence, Finding(Level.OK, subject, f"unchanged since version {published.sequence}")


def _schema(folder: Path | None, name: str) -> etree.XMLSchema | None:
    """The schema `name` in `folder`; OSError or XMLSchemaParseError when it is not there or not one."""
    return None if folder is None else etree.XMLSchema(etree.parse(str(folder / name)))


def _hm_metadata(
    settings: Settings, others: Sequence[Path], now: datetime
) -> list[tuple[str | None, bytes | None, HmSettings]]:
    """Each configured HM's metadata as it is now (the simulator's, for one without), and the
    other files (pinning nothing)."""
    found: list[tuple[str | None, bytes | None, HmSettings]] = []
    for hm in settings.saml.configured_hms:
        if hm.metadata is None:
            simulator = runtime().simulator
            assert simulator is not None  # config.env refuses the combination
            found.append((None, simulator.metadata(now), hm))
            continue
        try:
            found.append((hm.metadata, read_metadata_source(hm.metadata, _fetch), hm))
        except (MetadataError, requests.RequestException, ValueError):
            found.append((hm.metadata, None, hm))
    for path in others:
        try:
            found.append((str(path), path.read_bytes(), HmSettings(path.name, str(path))))
        except OSError:
            found.append((str(path), None, HmSettings(path.name, str(path))))
    return found


def _fetch(url: str) -> bytes:
    answer = requests.get(url, timeout=10)
    answer.raise_for_status()
    if len(answer.content) > _METADATA_LIMIT:
        raise ValueError(f"metadata at {url} is larger than {_METADATA_LIMIT} bytes")
    return answer.content
