"""Enveloped XML signatures: strict verification against pinned certificates, and signing.

Verification happens in document context (never on a node cut out of its document), and only
accepts a signature whose single reference points at the element that holds it, by an ID that
occurs once in the whole document: the usual signature-wrapping forms fail one of those checks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import xmlsec
from lxml import etree

from config import KeyPair
from saml.errors import Reason, SamlError
from saml.xml import NS, child, qname

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

# SHA-1 is refused outright (eHerkenning and eIDAS crypto requirements).
_SIGNATURE_METHODS = frozenset(
    {
        RSA_SHA256,
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    }
)
_DIGEST_METHODS = frozenset(
    {SHA256, "http://www.w3.org/2001/04/xmldsig-more#sha384", "http://www.w3.org/2001/04/xmlenc#sha512"}
)
_TRANSFORMS = frozenset({ENVELOPED, EXC_C14N})
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"


@functools.lru_cache(maxsize=64)
def certificate_key(cert_pem: bytes) -> xmlsec.Key:
    """The public key of a PEM certificate, loaded once."""
    return xmlsec.Key.from_memory(cert_pem, xmlsec.KeyFormat.CERT_PEM)


@functools.lru_cache(maxsize=16)
def private_key(key_pem: bytes, cert_pem: bytes) -> xmlsec.Key:
    """A PEM private key with its certificate attached, loaded once."""
    key = xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM)
    key.load_cert_from_memory(cert_pem, xmlsec.KeyFormat.CERT_PEM)
    return key


def register_ids(root: etree._Element) -> None:
    """Make `ID` attributes resolvable for xmlsec, refusing any ID that occurs twice.

    A duplicated ID is how most signature-wrapping attacks point a valid signature at one
    element while the reader looks at another; `xml:id` counts too, as libxml2 resolves it.
    """
    seen: set[str] = set()
    for value in root.xpath("//@ID | //@xml:id"):
        if value in seen:
            raise SamlError(Reason.DUPLICATE_ID, "an ID occurs more than once in the document")
        seen.add(value)
    xmlsec.tree.add_ids(root, ["ID"])


def is_signed(element: etree._Element) -> bool:
    """Whether `element` carries an enveloped signature as a direct child."""
    return child(element, "ds", "Signature") is not None


def verify(element: etree._Element, certificates: Iterable[bytes]) -> None:
    """Check `element`'s enveloped signature against the pinned `certificates`.

    `register_ids` must have run on the element's document. Raises SamlError when the
    signature is missing, references anything but `element`, uses a weak algorithm, covers
    a comment, or verifies with none of the certificates.
    """
    signature = child(element, "ds", "Signature")
    if signature is None:
        raise SamlError(Reason.SIGNATURE_MISSING, f"{etree.QName(element).localname} is not signed")
    _check_signed_info(element, signature)
    if element.xpath(".//comment()"):
        # Comments fall outside exclusive c14n, so they can split a signed value unnoticed.
        raise SamlError(Reason.COMMENT_IN_SIGNED_CONTENT, "comment inside signed element")
    for cert in certificates:
        context = xmlsec.SignatureContext()
        context.key = certificate_key(cert)
        try:
            context.verify(signature)
        except xmlsec.Error:
            continue
        return
    raise SamlError(Reason.SIGNATURE_INVALID, f"{etree.QName(element).localname} signature does not verify")


def _check_signed_info(element: etree._Element, signature: etree._Element) -> None:
    signed_info = signature.find(qname("ds", "SignedInfo"))
    if signed_info is None:
        raise SamlError(Reason.SIGNATURE_INVALID, "SignedInfo missing")
    references = signed_info.findall(qname("ds", "Reference"))
    element_id = element.get("ID")
    if len(references) != 1 or not element_id or references[0].get("URI") != f"#{element_id}":
        raise SamlError(Reason.SIGNATURE_REFERENCE, "signature does not reference its own element")
    methods = {
        "c14n": signed_info.xpath("ds:CanonicalizationMethod/@Algorithm", namespaces=NS),
        "signature": signed_info.xpath("ds:SignatureMethod/@Algorithm", namespaces=NS),
        "digest": references[0].xpath("ds:DigestMethod/@Algorithm", namespaces=NS),
    }
    transforms = references[0].xpath("ds:Transforms/ds:Transform/@Algorithm", namespaces=NS)
    if (
        methods["c14n"] != [EXC_C14N]
        or len(methods["signature"]) != 1
        or methods["signature"][0] not in _SIGNATURE_METHODS
        or len(methods["digest"]) != 1
        or methods["digest"][0] not in _DIGEST_METHODS
        or not set(transforms) <= _TRANSFORMS
    ):
        raise SamlError(Reason.SIGNATURE_ALGORITHM, "signature uses an algorithm that is not allowed")


def sign(element: etree._Element, pair: KeyPair) -> None:
    """Add an enveloped RSA-SHA256 signature to `element` (which must carry an `ID`).

    The signature goes right after the element's `Issuer` (where the SAML schemas put it),
    or first when there is none. Call with the element inside its final document.
    """
    element_id = element.get("ID")
    if not element_id:
        raise ValueError("an element to sign needs an ID")
    signature = xmlsec.template.create(
        element, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns="ds"
    )
    issuer = child(element, "saml", "Issuer")
    if issuer is not None:
        issuer.addnext(signature)
    else:
        element.insert(0, signature)
    reference = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri=f"#{element_id}")
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    xmlsec.tree.add_ids(element, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = private_key(pair.key_pem, pair.cert_pem)
    context.sign(signature)
