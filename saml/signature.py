"""Enveloped XML signatures: strict verification against pinned certificates, and signing; and the
signature over an HTTP-Redirect query string.

Verification is xmlsec's. Signing, of our own messages in one fixed shape (RSA-SHA256, SHA-256,
exclusive c14n), is lxml's canonicalisation and `cryptography`'s RSA; every test that reads a
message we signed checks it with xmlsec, and the pysaml2 interoperability test with xmlsec1.

Verification happens in document context (never on a node cut out of its document), and only
accepts a signature whose single reference points at the element that holds it, by an ID that
occurs once in the whole document: the usual signature-wrapping forms fail one of those checks.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Iterable

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
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
# Compiled once: `element.xpath(...)` compiles its expression on every call.
_IDS = etree.XPath("//@ID | //@xml:id")
_COMMENTS = etree.XPath(".//comment()")
_C14N_METHOD = etree.XPath("ds:CanonicalizationMethod/@Algorithm", namespaces=NS)
_SIGNATURE_METHOD = etree.XPath("ds:SignatureMethod/@Algorithm", namespaces=NS)
_DIGEST_METHOD = etree.XPath("ds:DigestMethod/@Algorithm", namespaces=NS)
_TRANSFORM_METHODS = etree.XPath("ds:Transforms/ds:Transform/@Algorithm", namespaces=NS)


@functools.lru_cache(maxsize=64)
def certificate_key(cert_pem: bytes) -> xmlsec.Key:
    """The public key of a PEM certificate, loaded once, without the certificate: xmlsec copies a
    key into every context it is used in, and a certificate in it would be copied too."""
    public_key = x509.load_pem_x509_certificate(cert_pem).public_key()
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return xmlsec.Key.from_memory(pem, xmlsec.KeyFormat.PEM)


@functools.lru_cache(maxsize=16)
def private_key(key_pem: bytes) -> xmlsec.Key:
    """A PEM private key, loaded once."""
    return xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM)


def register_ids(root: etree._Element) -> None:
    """Make `ID` attributes resolvable for xmlsec, refusing any ID that occurs twice.

    A duplicated ID is how most signature-wrapping attacks point a valid signature at one
    element while the reader looks at another; `xml:id` counts too, as libxml2 resolves it.
    """
    seen: set[str] = set()
    for value in _IDS(root):
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
    if _COMMENTS(element):
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
        "c14n": _C14N_METHOD(signed_info),
        "signature": _SIGNATURE_METHOD(signed_info),
        "digest": _DIGEST_METHOD(references[0]),
    }
    transforms = _TRANSFORM_METHODS(references[0])
    if (
        methods["c14n"] != [EXC_C14N]
        or len(methods["signature"]) != 1
        or methods["signature"][0] not in _SIGNATURE_METHODS
        or len(methods["digest"]) != 1
        or methods["digest"][0] not in _DIGEST_METHODS
        or not set(transforms) <= _TRANSFORMS
    ):
        raise SamlError(
            Reason.SIGNATURE_ALGORITHM,
            "signature uses an algorithm that is not allowed",
            facts={
                "check": "Signature algorithms",
                "received": "; ".join(
                    f"{name}: {', '.join(found)[:200] or '(none)'}"
                    for name, found in (*methods.items(), ("transforms", transforms))
                ),
                "expected": "; ".join(
                    (
                        f"c14n: {EXC_C14N}",
                        f"signature: {', '.join(sorted(_SIGNATURE_METHODS))}",
                        f"digest: {', '.join(sorted(_DIGEST_METHODS))}",
                        f"transforms: {', '.join(sorted(_TRANSFORMS))}",
                    )
                ),
            },
        )


def sign(element: etree._Element, pair: KeyPair) -> None:
    """Add an enveloped RSA-SHA256 signature to `element` (which must carry an `ID`).

    The signature goes right after the element's `Issuer` (where the SAML schemas put it),
    or first when there is none. Call with the element inside its final document.
    """
    element_id = element.get("ID")
    if not element_id:
        raise ValueError("an element to sign needs an ID")
    # Digested before the signature goes in: the enveloped-signature transform takes it out again.
    digest = hashlib.sha256(_exclusive_c14n(element)).digest()
    signature, signed_info, signature_value = _signature_template(element_id, digest, pair.cert_pem)
    issuer = child(element, "saml", "Issuer")
    if issuer is not None:
        issuer.addnext(signature)
    else:
        element.insert(0, signature)
    value = _signing_key(pair.key_pem).sign(_exclusive_c14n(signed_info), padding.PKCS1v15(), hashes.SHA256())
    signature_value.text = base64.b64encode(value).decode("ascii")


def sign_query(query: str, pair: KeyPair) -> bytes:
    """The RSA-SHA256 signature over an HTTP-Redirect query string (saml-bindings-2.0-os §3.4.4.1)."""
    return _signing_key(pair.key_pem).sign(query.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())


def _exclusive_c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _signature_template(
    element_id: str, digest: bytes, cert_pem: bytes
) -> tuple[etree._Element, etree._Element, etree._Element]:
    """`ds:Signature` with its SignedInfo (exclusive c14n, one reference to `element_id`) and our
    certificate, the shape xmlsec's templates produce; and its SignedInfo and empty SignatureValue."""
    signature = etree.Element(qname("ds", "Signature"), nsmap={"ds": NS["ds"]})
    signed_info = etree.SubElement(signature, qname("ds", "SignedInfo"))
    etree.SubElement(signed_info, qname("ds", "CanonicalizationMethod"), Algorithm=EXC_C14N)
    etree.SubElement(signed_info, qname("ds", "SignatureMethod"), Algorithm=RSA_SHA256)
    reference = etree.SubElement(signed_info, qname("ds", "Reference"), URI=f"#{element_id}")
    transforms = etree.SubElement(reference, qname("ds", "Transforms"))
    etree.SubElement(transforms, qname("ds", "Transform"), Algorithm=ENVELOPED)
    etree.SubElement(transforms, qname("ds", "Transform"), Algorithm=EXC_C14N)
    etree.SubElement(reference, qname("ds", "DigestMethod"), Algorithm=SHA256)
    etree.SubElement(reference, qname("ds", "DigestValue")).text = base64.b64encode(digest).decode("ascii")
    signature_value = etree.SubElement(signature, qname("ds", "SignatureValue"))
    key_info = etree.SubElement(signature, qname("ds", "KeyInfo"))
    x509_data = etree.SubElement(key_info, qname("ds", "X509Data"))
    etree.SubElement(x509_data, qname("ds", "X509Certificate")).text = _certificate_base64(cert_pem)
    return signature, signed_info, signature_value


@functools.lru_cache(maxsize=16)
def _signing_key(key_pem: bytes) -> rsa.RSAPrivateKey:
    """A PEM RSA private key, loaded once and kept (a signature costs 0.3 ms so; through xmlsec, which
    copies its key into each signing context, it cost 0.5)."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("SAML signing needs an RSA key")
    return key


@functools.lru_cache(maxsize=16)
def _certificate_base64(cert_pem: bytes) -> str:
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode("ascii")
