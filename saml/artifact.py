"""HTTP-Artifact binding: parse the artifact, resolve it over SOAP, unwrap the answer.

saml-bindings-2.0-os §3.6: a type 0x0004 artifact is 44 bytes: type code, endpoint index,
SourceID (SHA-1 of the issuer's entityID) and a 20-byte message handle.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
import urllib3
from lxml import etree
from lxml.builder import ElementMaker

from config import SamlSettings
from saml import signature
from saml.errors import Reason, SamlError
from saml.hm_metadata import IdentityProvider
from saml.response import raise_for_status
from saml.xml import NS, child, format_instant, parse, qname, text

TYPE_CODE = b"\x00\x04"
_SOAP = ElementMaker(namespace=NS["soap"], nsmap={"soap11": NS["soap"]})
_SAMLP = ElementMaker(namespace=NS["samlp"], nsmap={"samlp": NS["samlp"], "saml": NS["saml"]})
_SAML = ElementMaker(namespace=NS["saml"])

_HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": "http://www.oasis-open.org/committees/security",
    "Accept-Encoding": "gzip, deflate",
}
# Posts a SOAP envelope to a URL and returns the answer's body bytes; raises SamlError.
Transport = Callable[[str, bytes], bytes]


@dataclass(frozen=True)
class Artifact:
    value: str
    endpoint_index: int
    source_id: bytes
    message_handle: bytes


def parse_artifact(value: str | None) -> Artifact:
    """A type 0x0004 artifact; anything else is refused."""
    if not value:
        raise SamlError(Reason.MESSAGE_MISSING, "SAMLart missing")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SamlError(Reason.ARTIFACT_INVALID, "SAMLart is not base64") from None
    if len(raw) != 44 or raw[:2] != TYPE_CODE:
        raise SamlError(Reason.ARTIFACT_INVALID, "SAMLart is not a type 0x0004 artifact")
    return Artifact(value, int.from_bytes(raw[2:4], "big"), raw[4:24], raw[24:44])


def encode_artifact(idp_entity_id_sha1: bytes, message_handle: bytes, endpoint_index: int = 0) -> str:
    """A type 0x0004 artifact, as an HM builds it."""
    return base64.b64encode(
        TYPE_CODE + endpoint_index.to_bytes(2, "big") + idp_entity_id_sha1 + message_handle
    ).decode()


def resolve(
    artifact: Artifact,
    settings: SamlSettings,
    idp: IdentityProvider,
    transport: Transport,
    now: datetime,
    resolve_id: str,
) -> etree._Element:
    """Exchange `artifact` for the Response it stands for, via the HM's resolution service."""
    if artifact.source_id != idp.source_id:
        raise SamlError(
            Reason.ARTIFACT_SOURCE_UNKNOWN,
            "artifact was not issued by the configured HM",
            facts={
                "check": "artifact SourceID",
                "expected": f"{idp.source_id.hex()} (SHA-1 of {idp.entity_id})",
                "received": artifact.source_id.hex(),
            },
        )
    url = idp.artifact_resolution_urls.get(artifact.endpoint_index)
    if url is None:
        raise SamlError(Reason.ARTIFACT_SOURCE_UNKNOWN, "HM has no resolution service with that index")
    answer = transport(url, artifact_resolve(settings, artifact, resolve_id, url, now))
    return read_artifact_response(answer, idp, resolve_id)


def artifact_resolve(
    settings: SamlSettings, artifact: Artifact, resolve_id: str, destination: str, now: datetime
) -> bytes:
    """A signed ArtifactResolve inside a SOAP 1.1 envelope."""
    request = _SAMLP.ArtifactResolve(
        _SAML.Issuer(settings.entity_id),
        _SAMLP.Artifact(artifact.value),
        ID=resolve_id,
        Version="2.0",
        IssueInstant=format_instant(now),
        Destination=destination,
    )
    envelope = _SOAP.Envelope(_SOAP.Body(request))
    signature.sign(request, settings.keys_at(now)[0])
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def read_artifact_response(data: bytes, idp: IdentityProvider, resolve_id: str) -> etree._Element:
    """The Response inside the HM's SOAP ArtifactResponse, after checking the wrapper."""
    envelope = parse(data)
    body = envelope.find(qname("soap", "Body")) if envelope.tag == qname("soap", "Envelope") else None
    if body is None or len(body) != 1:
        raise SamlError(Reason.ARTIFACT_RESOLUTION_FAILED, "answer is not a SOAP envelope with one body")
    answer = body[0]
    if answer.tag == qname("soap", "Fault"):
        raise SamlError(Reason.ARTIFACT_RESOLUTION_FAILED, "HM answered with a SOAP fault")
    if answer.tag != qname("samlp", "ArtifactResponse"):
        raise SamlError(Reason.ARTIFACT_RESOLUTION_FAILED, "answer is not an ArtifactResponse")
    signature.register_ids(envelope)
    if signature.is_signed(answer):
        signature.verify(answer, idp.signing_certificates)
    issuer = child(answer, "saml", "Issuer")
    if issuer is not None and text(issuer) != idp.entity_id:
        raise SamlError(
            Reason.ISSUER_MISMATCH,
            "ArtifactResponse Issuer is not the HM",
            facts={
                "check": "ArtifactResponse Issuer",
                "expected": idp.entity_id,
                "received": text(issuer)[:300],
            },
        )
    if answer.get("InResponseTo") != resolve_id:
        raise SamlError(Reason.IN_RESPONSE_TO_MISMATCH, "ArtifactResponse does not answer our resolve")
    raise_for_status(answer)
    responses = answer.findall(qname("samlp", "Response"))
    if len(responses) != 1:
        # An unknown or already-resolved artifact yields an empty ArtifactResponse (§3.6.6).
        raise SamlError(Reason.ARTIFACT_RESOLUTION_FAILED, "ArtifactResponse carries no Response")
    return responses[0]


def https_transport(settings: SamlSettings, max_bytes: int) -> Transport:
    """SOAP over mutual TLS with our key and certificate, `Content-Type: text/xml`."""
    key = settings.key
    if key.key_path is None or key.cert_path is None:
        raise ValueError("mutual TLS needs the key and certificate as files")
    # The HM's TLS CA (PKIoverheid, say) when it is not in the default bundle; else the CA bundle
    # the environment names, as requests reads it, or certifi's.
    ca = str(
        settings.hm_tls_ca_bundle
        or os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or requests.certs.where()
    )
    tls: dict[str, Any] = {
        "cert_reqs": "CERT_REQUIRED",
        "ca_cert_dir" if os.path.isdir(ca) else "ca_certs": ca,
        "cert_file": str(key.cert_path),
        "key_file": str(key.key_path),
    }
    # One pool manager per process and proxy: its kept-alive connections spare a TLS handshake
    # per artifact, and urllib3 directly spares requests' preparation of every request.
    direct = urllib3.PoolManager(**tls)
    proxied: dict[str, urllib3.ProxyManager] = {}

    # The environment's proxies (HTTPS_PROXY, NO_PROXY, …) as requests would take them, read once
    # per URL rather than with every request.
    @functools.lru_cache(maxsize=8)
    def manager_for(url: str) -> urllib3.PoolManager:
        proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
        if not proxy:
            return direct
        proxy = requests.utils.prepend_scheme_if_needed(proxy, "http")
        if proxy not in proxied:
            username, password = requests.utils.get_auth_from_url(proxy)
            headers = (
                urllib3.util.make_headers(proxy_basic_auth=f"{username}:{password}") if username else None
            )
            proxied[proxy] = urllib3.ProxyManager(proxy, proxy_headers=headers, **tls)
        return proxied[proxy]

    timeout = urllib3.Timeout(settings.artifact_timeout_seconds)

    def post(url: str, body: bytes) -> bytes:
        deadline = time.monotonic() + settings.artifact_timeout_seconds
        try:
            answer = manager_for(url).urlopen(
                "POST",
                url,
                body=body,
                headers=_HEADERS,
                timeout=timeout,
                # The SOAP binding has no redirects: never resend a signed resolve elsewhere.
                redirect=False,
                retries=False,
                preload_content=False,
            )
            complete = False
            try:
                content = _capped_body(answer, max_bytes + 1, deadline)
                complete = len(content) <= max_bytes
            finally:
                if not complete:
                    # An answer cut short or left unread: its connection cannot carry another.
                    answer.close()
                answer.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            raise SamlError(
                Reason.ARTIFACT_RESOLUTION_FAILED,
                f"HM unreachable: {type(exc).__name__}",
                facts={"check": "artifact resolution", "url": url, "received": type(exc).__name__},
            ) from None
        if answer.status != 200:
            raise SamlError(
                Reason.ARTIFACT_RESOLUTION_FAILED,
                f"HM answered HTTP {answer.status}",
                facts={"check": "artifact resolution", "url": url, "received": f"HTTP {answer.status}"},
            )
        if len(content) > max_bytes:
            raise SamlError(Reason.MESSAGE_TOO_LARGE, "ArtifactResponse exceeds the size limit")
        return content

    return post


def _capped_body(raw: urllib3.BaseHTTPResponse, most: int, deadline: float) -> bytes:
    """At most `most` bytes of the decoded body, taken as they arrive and all of them by
    `deadline`: a timeout per read alone would let an answer that trickles in hold a worker without
    end. Decoding stops at the cap, so a compressed answer cannot swell past it."""
    content = b""
    while len(content) < most:
        chunk = raw.read1(most - len(content), decode_content=True)
        if not chunk:
            break
        content += chunk
        if time.monotonic() > deadline:
            raise SamlError(Reason.ARTIFACT_RESOLUTION_FAILED, "the HM's answer took too long to arrive")
    return content
