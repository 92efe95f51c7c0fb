"""Safe XML parsing and small helpers shared by the SAML modules."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from lxml import etree

from saml.errors import Reason, SamlError

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "xenc11": "http://www.w3.org/2009/xmlenc11#",
    "soap": "http://schemas.xmlsoap.org/soap/envelope/",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "ec": "http://www.w3.org/2001/10/xml-exc-c14n#",
    "mdui": "urn:oasis:names:tc:SAML:metadata:ui",
    "esc": "urn:etoegang:1.13:service-catalog",
}


def new_id() -> str:
    """An xs:ID for a message or element: starts with an underscore, carries 128 random bits."""
    return f"_{secrets.token_hex(16)}"


def qname(prefix: str, local: str) -> str:
    """Clark notation, `{namespace}local`, for element and attribute names."""
    return f"{{{NS[prefix]}}}{local}"


# One parser per process is fine: lxml parsers are used under the GIL, one call at a time.
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_pis=True,
    collect_ids=False,
)


_DECLARED_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")


def parse(data: bytes) -> etree._Element:
    """Parse untrusted XML: UTF-8 only, no DTD, no entities, no network; raises SamlError."""
    _require_utf8(data)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        # Refused before parsing: a DTD has no place in SAML (saml-core-2.0-os §1.3).
        raise SamlError(Reason.DTD_FORBIDDEN, "document type declaration present")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SamlError(Reason.MESSAGE_MALFORMED, f"not well-formed XML: {exc.msg}") from None
    if root.getroottree().docinfo.internalDTD is not None:
        raise SamlError(Reason.DTD_FORBIDDEN, "document type declaration present")
    return root


def _require_utf8(data: bytes) -> None:
    # In any other encoding a DOCTYPE would slip past the byte check above, and libxml2
    # would then read its external subset (a UTF-16 message naming file:///...).
    if b"\x00" in data:
        raise SamlError(Reason.MESSAGE_MALFORMED, "NUL byte: not UTF-8 XML")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise SamlError(Reason.MESSAGE_MALFORMED, "not UTF-8") from None
    declared = _DECLARED_ENCODING.match(data)
    if declared and declared.group(1).lower() not in {b"utf-8", b"utf8"}:
        raise SamlError(Reason.MESSAGE_MALFORMED, "declared encoding is not UTF-8")


def child(element: etree._Element, prefix: str, local: str) -> etree._Element | None:
    """The single direct child with this name, None if absent; more than one is refused."""
    found = element.findall(qname(prefix, local))
    if len(found) > 1:
        raise SamlError(
            Reason.MESSAGE_MALFORMED, f"more than one {local} in {etree.QName(element).localname}"
        )
    return found[0] if found else None


def required_child(element: etree._Element, prefix: str, local: str) -> etree._Element:
    found = child(element, prefix, local)
    if found is None:
        raise SamlError(Reason.MESSAGE_MALFORMED, f"{local} missing in {etree.QName(element).localname}")
    return found


def text(element: etree._Element) -> str:
    """The element's whole text content, stripped; child elements are refused."""
    if len(element):
        raise SamlError(Reason.MESSAGE_MALFORMED, f"{etree.QName(element).localname} has child elements")
    return (element.text or "").strip()


def parse_instant(value: str | None, what: str) -> datetime:
    """An xs:dateTime from a SAML message as an aware UTC datetime."""
    if not value:
        raise SamlError(Reason.MESSAGE_MALFORMED, f"{what} missing")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SamlError(Reason.MESSAGE_MALFORMED, f"{what} is not a dateTime") from None
    # SAML times are UTC; a value without a zone is read as UTC (saml-core-2.0-os §1.3.3).
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_instant(moment: datetime) -> str:
    """An aware datetime as a SAML xs:dateTime in UTC with milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
