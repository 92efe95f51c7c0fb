"""Interoperability: pysaml2, an independent SAML implementation, as the HM signing a user in.

Nothing of ours builds the answer: pysaml2's `saml2.server.Server` reads our signed metadata,
parses and verifies our signed AuthnRequest from the test-login form, and answers over HTTP-POST
with a Response and an Assertion it signs itself (RSA-SHA256, SHA-256 digests, via `xmlsec1`).
The broker runs with the built-in simulator off and pysaml2's metadata as `BROKER_HM_METADATA`.

The attributes travel in the plain shape some HMs use: the KvK number in an attribute named
after its identifier type, the acting person's pseudonym as the Subject NameID, and the
ServiceID and ServiceUUID as strings.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from broker import create_app
from broker.web.errors import explanation_for
from config import load_settings
from saml.errors import Reason
from tests.conftest import TEST_BASE_URL, broker_environ

pytest.importorskip("saml2", reason="pysaml2 is not installed: the interoperability test needs it")
with warnings.catch_warnings():
    # pysaml2 reaches for cryptography's CFB mode at import time, which cryptography now warns
    # has moved; that warning is pysaml2's to fix, so it alone is silenced, and only here.
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=r"saml2\.")
    import saml2.cryptography.symmetric  # noqa: F401

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml
from saml2.assertion import Policy
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor, metadata_tostring_fix
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT
from saml2.server import Server
from saml2.validate import valid_instance
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

XMLSEC1 = shutil.which("xmlsec1")
pytestmark = [
    pytest.mark.skipif(
        XMLSEC1 is None,
        reason="xmlsec1 is missing: pysaml2 signs and verifies with the xmlsec1 program "
        "(apt-get install xmlsec1)",
    ),
]

IDP_ENTITY_ID = "https://pysaml2-hm.test/idp/metadata"
IDP_SSO_URL = "https://pysaml2-hm.test/idp/sso"
SERVICE_SLUG = "ind-portaal-zakelijk"
KVK_NUMBER = "01234567"
PSEUDONYM = "d1a2c3e4f5-pysaml2-pseudonym"
LOA3 = "urn:etoegang:core:assurance-class:loa3"
KVK_ATTRIBUTE = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
SERVICE_ID_ATTRIBUTE = "urn:etoegang:core:ServiceID"
SERVICE_UUID_ATTRIBUTE = "urn:etoegang:core:ServiceUUID"
ACS_URL = f"{TEST_BASE_URL}/saml/acs"
_FORM_FIELD = re.compile(r'<input type="hidden" name="(?P<name>[^"]+)" value="(?P<value>[^"]*)">')
_FORM_ACTION = re.compile(r'<form method="post" action="(?P<action>[^"]+)"')


@dataclass(frozen=True)
class Interop:
    app: Flask
    idp: Server


def _idp_key_pair(folder: Path) -> tuple[Path, Path]:
    """A fresh RSA key and self-signed certificate for the pysaml2 HM, as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pysaml2 interop HM")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = folder / "idp.key", folder / "idp.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def _idp_config(key_file: Path, cert_file: Path, sp_metadata: Path | None) -> IdPConfig:
    settings: dict[str, Any] = {
        "entityid": IDP_ENTITY_ID,
        "key_file": str(key_file),
        "cert_file": str(cert_file),
        "xmlsec_binary": XMLSEC1,
        "valid_for": 24,  # hours: the metadata carries a validUntil
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "service": {
            "idp": {
                "name": "pysaml2 interop HM",
                "endpoints": {
                    "single_sign_on_service": [
                        (IDP_SSO_URL, BINDING_HTTP_POST),
                        (IDP_SSO_URL, BINDING_HTTP_REDIRECT),
                    ],
                },
                # An unsigned or badly signed AuthnRequest makes parse_authn_request fail.
                "want_authn_requests_signed": True,
                "sign_response": True,
                "sign_assertion": True,
                "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_URI}},
            },
        },
    }
    if sp_metadata is not None:
        settings["metadata"] = {"local": [str(sp_metadata)]}
    config = IdPConfig()
    config.load(settings)
    return config


@pytest.fixture
def interop(tmp_path: Path) -> Interop:
    key_file, cert_file = _idp_key_pair(tmp_path)
    # The HM's metadata first: the broker needs it to start.
    descriptor = entity_descriptor(_idp_config(key_file, cert_file, None))
    valid_instance(descriptor)
    idp_metadata = tmp_path / "idp-metadata.xml"
    idp_metadata.write_bytes(metadata_tostring_fix(descriptor, {}))

    instance = tmp_path / "instance"
    environ = broker_environ(
        instance,
        BROKER_SIMULATOR="0",
        BROKER_HM_METADATA=str(idp_metadata),
        BROKER_SAML_RESPONSE_BINDING="post",
    )
    app = create_app(load_settings(environ))
    with app.app_context():
        upgrade()

    # Then the HM learns about us from our own metadata endpoint.
    answer = app.test_client().get("/saml/metadata")
    assert answer.status_code == 200
    sp_metadata = tmp_path / "sp-metadata.xml"
    sp_metadata.write_bytes(answer.data)
    return Interop(app=app, idp=Server(config=_idp_config(key_file, cert_file, sp_metadata)))


def _post_form(page: str) -> tuple[str, dict[str, str]]:
    action = _FORM_ACTION.search(page)
    assert action is not None, "no auto-submitting form"
    fields = {m["name"]: html.unescape(m["value"]) for m in _FORM_FIELD.finditer(page)}
    return html.unescape(action["action"]), fields


def _sign_in(client: FlaskClient, interop: Interop) -> dict[str, str]:
    """Start a test login, let pysaml2 answer it; the fields to POST to our ACS."""
    started = client.get(f"/saml/test-login?service={SERVICE_SLUG}")
    assert started.status_code == 200
    action, fields = _post_form(started.get_data(as_text=True))
    assert action == IDP_SSO_URL
    assert set(fields) == {"SAMLRequest", "RelayState"}

    idp = interop.idp
    request = idp.parse_authn_request(fields["SAMLRequest"], BINDING_HTTP_POST)
    authn_request = request.message
    # pysaml2 verified the signature against the certificate in our metadata (it must, see
    # want_authn_requests_signed); check that there was one to verify.
    assert authn_request.signature is not None
    assert authn_request.force_authn == "true"
    response_args = idp.response_args(authn_request)
    assert response_args["binding"] == BINDING_HTTP_POST
    assert response_args["destination"] == ACS_URL

    state = interop.app.extensions["broker"]
    settings, service = state.settings.saml, state.registry().service(SERVICE_SLUG)
    assert service is not None
    identity = {
        KVK_ATTRIBUTE: [KVK_NUMBER],
        SERVICE_ID_ATTRIBUTE: [settings.service_id(service)],
        SERVICE_UUID_ATTRIBUTE: [service.uuid],
    }
    response = idp.create_authn_response(
        identity,
        in_response_to=response_args["in_response_to"],
        destination=response_args["destination"],
        sp_entity_id=response_args["sp_entity_id"],
        name_id=saml.NameID(format=NAMEID_FORMAT_PERSISTENT, text=PSEUDONYM),
        authn={"class_ref": LOA3, "authn_auth": IDP_ENTITY_ID},
        sign_response=True,
        sign_assertion=True,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
        # eHerkenning metadata names the service in its RequestedAttribute instead of requesting
        # attributes; pysaml2 would release only what metadata requests, so release all here.
        release_policy=Policy({"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_URI}}),
    )
    encoded = base64.b64encode(str(response).encode("utf-8")).decode("ascii")
    return {"SAMLResponse": encoded, "RelayState": fields["RelayState"]}


def test_pysaml2_idp_signs_a_user_in_over_http_post(interop: Interop) -> None:
    client = interop.app.test_client()
    fields = _sign_in(client, interop)

    answer = client.post("/saml/acs", data=fields)

    page = answer.get_data(as_text=True)
    assert answer.status_code == 200, page
    assert f'<dd id="legal-subject">kvk: {KVK_NUMBER}</dd>' in page
    assert f'<dd id="acting-subject">{PSEUDONYM}</dd>' in page
    assert f'<dd id="level">EH3 ({LOA3})</dd>' in page


def test_the_same_pysaml2_response_is_refused_a_second_time(interop: Interop) -> None:
    client = interop.app.test_client()
    fields = _sign_in(client, interop)
    assert client.post("/saml/acs", data=fields).status_code == 200

    replayed = client.post("/saml/acs", data=fields)

    page = replayed.get_data(as_text=True)
    assert 400 <= replayed.status_code < 500
    stale = explanation_for(Reason.REQUEST_USED)
    assert stale.title_nl in page
    assert stale.title_en in page
    assert '<section lang="nl"' in page and '<section lang="en"' in page
    assert KVK_NUMBER not in page
