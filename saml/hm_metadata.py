"""The HM (herkenningsmakelaar) as its SAML metadata describes it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree

from config import Binding
from saml import signature
from saml.errors import SamlError
from saml.keys import pem_from_base64
from saml.xml import NS, parse, parse_instant


class MetadataError(Exception):
    """The HM's metadata is unusable: start-up stops with this message, a refresh keeps the copy before."""


class MetadataExpired(Exception):
    """The HM's metadata in use is past its validUntil: no sign-in may trust its keys any more."""

    def __init__(self, valid_until: datetime) -> None:
        super().__init__(f"the HM's metadata expired at {valid_until.isoformat()}")
        self.valid_until = valid_until


@dataclass(frozen=True)
class IdentityProvider:
    """What we need of the HM: who it is, its pinned signing keys, and where to reach it."""

    entity_id: str
    signing_certificates: tuple[bytes, ...]
    sso_urls: Mapping[Binding, str]
    artifact_resolution_urls: Mapping[int, str]
    # The metadata's earliest validUntil (the entity's or its parent's); None: it names none.
    valid_until: datetime | None = None

    @property
    def source_id(self) -> bytes:
        return source_id(self.entity_id)


def source_id(entity_id: str) -> bytes:
    """The SourceID in artifacts an HM issues: SHA-1 of its entityID (saml-bindings §3.6.4)."""
    return hashlib.sha1(entity_id.encode("utf-8"), usedforsecurity=False).digest()


def parse_metadata(
    data: bytes, now: datetime, signer_certificates: tuple[bytes, ...] = ()
) -> IdentityProvider:
    """The one IdP described in `data`; with `signer_certificates`, its signature must verify."""
    try:
        root = parse(data)
    except SamlError as exc:
        raise MetadataError(f"HM metadata is not acceptable XML: {exc}") from None
    if signer_certificates:
        try:
            signature.register_ids(root)
            signature.verify(root, signer_certificates)
        except SamlError as exc:
            raise MetadataError(f"HM metadata signature: {exc}") from None
    entities = root.xpath("descendant-or-self::md:EntityDescriptor[md:IDPSSODescriptor]", namespaces=NS)
    if len(entities) != 1:
        raise MetadataError(f"HM metadata must describe exactly one IdP, found {len(entities)}")
    entity = entities[0]
    valid_until = _valid_until(entity, now)
    idp = entity.find("md:IDPSSODescriptor", NS)
    certificates = tuple(
        pem_from_base64(value)
        for value in idp.xpath(
            "md:KeyDescriptor[not(@use) or @use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()",
            namespaces=NS,
        )
    )
    if not certificates:
        raise MetadataError("HM metadata has no signing certificate")
    sso = {
        Binding(b): loc
        for b, loc in (
            (e.get("Binding"), e.get("Location")) for e in idp.findall("md:SingleSignOnService", NS)
        )
        if b in {Binding.POST, Binding.REDIRECT} and loc
    }
    if not sso:
        raise MetadataError("HM metadata has no SingleSignOnService for HTTP-POST or HTTP-Redirect")
    ars = {
        _index(e): e.get("Location")
        for e in idp.findall("md:ArtifactResolutionService", NS)
        if e.get("Binding") == Binding.SOAP and e.get("Location")
    }
    return IdentityProvider(
        entity_id=entity.get("entityID", ""),
        signing_certificates=certificates,
        sso_urls=sso,
        artifact_resolution_urls=ars,
        valid_until=valid_until,
    )


def _index(endpoint: etree._Element) -> int:
    # An unsignedShort, in ASCII digits: int() would take "+1", "1_0" and any script's digits.
    value = endpoint.get("index", "0")
    if not re.fullmatch(r"[0-9]{1,5}", value) or int(value) > 65535:
        raise MetadataError("HM metadata has an ArtifactResolutionService index that is not a number")
    return int(value)


def _valid_until(entity: etree._Element, now: datetime) -> datetime | None:
    """The earliest validUntil of the entity and its parent; MetadataError once it is past."""
    elements = [element for element in (entity, entity.getparent()) if element is not None]
    instants = [
        parse_instant(element.get("validUntil", ""), "validUntil")
        for element in elements
        if element.get("validUntil")
    ]
    earliest = min(instants, default=None)
    if earliest is not None and earliest <= now:
        raise MetadataError("HM metadata has expired (validUntil is past)")
    return earliest


def read_metadata_source(source: str, fetch: Callable[[str], bytes]) -> bytes:
    """The bytes of `source`: fetched when it is an http(s) URL, read when it is a path."""
    if source.startswith(("https://", "http://")):
        return fetch(source)
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise MetadataError(f"BROKER_HM_METADATA: cannot read {source}: {exc.strerror}") from None
