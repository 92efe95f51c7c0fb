"""Signed AuthnRequests to the HM, over HTTP-POST or HTTP-Redirect (saml-bindings-2.0-os §3.4–3.5)."""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from lxml import etree
from lxml.builder import ElementMaker

from config import Binding, SamlSettings, Service
from saml import signature
from saml.hm_metadata import IdentityProvider
from saml.xml import NS, format_instant, new_id

_SAMLP = ElementMaker(namespace=NS["samlp"], nsmap={"samlp": NS["samlp"], "saml": NS["saml"]})
_SAML = ElementMaker(namespace=NS["saml"])


@dataclass(frozen=True)
class OutgoingRequest:
    """An AuthnRequest ready for the browser: where to send it and with which fields.

    `method` is "POST" (an auto-submitting form with `fields`) or "GET" (a redirect to `url`).
    """

    request_id: str
    method: str
    url: str
    fields: dict[str, str]


def authn_request(
    settings: SamlSettings, idp: IdentityProvider, service: Service, request_id: str, now: datetime
) -> etree._Element:
    """The unsigned AuthnRequest element for `service`.

    ForceAuthn always; no NameIDPolicy and no Scoping, as eHerkenning asks.
    """
    return _SAMLP.AuthnRequest(
        _SAML.Issuer(settings.entity_id),
        ID=request_id,
        Version="2.0",
        IssueInstant=format_instant(now),
        Destination=idp.sso_urls[settings.request_binding],
        ForceAuthn="true",
        ProtocolBinding=settings.response_binding,
        AssertionConsumerServiceURL=settings.acs_url,
        AttributeConsumingServiceIndex=str(service.index),
    )


def outgoing_request(
    settings: SamlSettings,
    idp: IdentityProvider,
    service: Service,
    relay_state: str,
    now: datetime,
    request_id: str | None = None,
) -> OutgoingRequest:
    """A signed AuthnRequest for `service`, bound as the settings ask (POST or Redirect)."""
    request_id = request_id or new_id()
    element = authn_request(settings, idp, service, request_id, now)
    key = settings.keys_at(now)[0]
    destination = idp.sso_urls[settings.request_binding]
    if settings.request_binding is Binding.REDIRECT:
        # Redirect binding: the signature covers the query string, not the XML (§3.4.4.1).
        # Raw DEFLATE (RFC 1951), without zlib's header and checksum, as the binding prescribes.
        deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        deflated = deflater.compress(etree.tostring(element)) + deflater.flush()
        encoded = base64.b64encode(deflated).decode("ascii")
        query = urlencode(
            {"SAMLRequest": encoded, "RelayState": relay_state, "SigAlg": signature.RSA_SHA256},
            quote_via=quote,
        )
        signed = signature.sign_query(query, key)
        signature_param = quote(base64.b64encode(signed).decode("ascii"), safe="")
        separator = "&" if "?" in destination else "?"
        url = f"{destination}{separator}{query}&Signature={signature_param}"
        return OutgoingRequest(request_id=request_id, method="GET", url=url, fields={})
    signature.sign(element, key)
    encoded = base64.b64encode(etree.tostring(element)).decode("ascii")
    return OutgoingRequest(
        request_id=request_id,
        method="POST",
        url=destination,
        fields={"SAMLRequest": encoded, "RelayState": relay_state},
    )
