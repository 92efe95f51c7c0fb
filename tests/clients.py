"""The portals the tests sign in for (one per client authentication method) and their config file."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from joserfc.jwk import ECKey, RSAKey

from config.clients import ClientSecret
from tests.e2e.server import free_port
from tests.pki import client_certificate

# The private_key_jwt portal's key: generated per test run, only its public half is registered.
PORTAL_KEY = RSAKey.generate_key(2048, {"kid": "portal-key-1"})
# The NL GOV portals' keys to have ID tokens (RSA-OAEP-256) and userinfo (ECDH-ES) encrypted to.
ENCRYPTION_KEY = RSAKey.generate_key(2048, {"kid": "portal-enc-rsa", "use": "enc"})
EC_ENCRYPTION_KEY = ECKey.generate_key("P-256", {"kid": "portal-enc-ec", "use": "enc"})
SECRET = "s3cret-for-the-test-portal-0123456789abcdef"
REDIRECT = "https://portal.test/callback"
# Where the request_uri portal serves its request objects (tests/oidc/test_request_object.py
# serves them there over https, with a certificate of tests.pki's).
REQUEST_URI_PORT = free_port()
REQUEST_URI = f"https://127.0.0.1:{REQUEST_URI_PORT}/request.jwt"

SERVICES = """
services:
  - slug: ind-portaal-zakelijk
    uuid: 6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01
    index: 1
    minimum_loa: loa3
    name: {nl: IND Portaal Zakelijk, en: IND business portal}
  - slug: omgevingsloket
    uuid: 2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02
    index: 2
    minimum_loa: loa2plus
    name: {nl: Omgevingsloket, en: Environment desk}
  - slug: own-company-only
    uuid: 9c1e4b7a-3d2f-4a6b-8e5c-1f0a2b3c4d03
    index: 3
    minimum_loa: loa3
    mandates: [own_company]
    name: {nl: Alleen eigen organisatie, en: Own company only}
  - slug: establishment-required
    uuid: 4d2c6b1e-8a3f-4e5d-9c7b-2a1f0e3d4c05
    index: 4
    minimum_loa: loa2plus
    establishment: required
    requested_attributes: [{name: Initials, purpose: {nl: Om u aan te spreken, en: To address you}}]
    name: {nl: Vestiging verplicht, en: Establishment required}
  - slug: ind-sponsors
    uuid: 7e3a5c1d-2b4f-4d6e-8a9c-0b1d2e3f4a06
    index: 5
    minimum_loa: loa3
    mandates: [own_company, recognised_sponsor]
    name: {nl: Alleen erkende referenten, en: Recognised sponsors only}
  - slug: ind-labour-sponsors
    uuid: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c07
    index: 6
    minimum_loa: loa3
    mandates: [own_company, recognised_sponsor]
    sponsor_categories: [labour]
    name: {nl: Erkende referenten arbeid, en: Recognised sponsors for labour}
  - slug: ind-named
    uuid: 8b4d6f2a-1c3e-4a5b-9d7f-0e2c4a6b8d12
    index: 31
    minimum_loa: loa3
    requested_attributes:
      - {name: FirstName, purpose: {nl: Om u aan te spreken, en: To address you}}
      - {name: FamilyName, purpose: {nl: Om u aan te spreken, en: To address you}}
      - {name: DateOfBirth, purpose: {nl: Om u te herkennen in uw dossier, en: To find you in your file}}
    name: {nl: IND Portaal Zakelijk op naam, en: IND business portal by name}
"""


# The tls_client_auth portals' certificates: one registered by subject DN, one by thumbprint.
MTLS_CERT, MTLS_PEM = client_certificate("nlgov-mtls.portal.test")
PINNED_CERT, PINNED_PEM = client_certificate("pinned.portal.test")


CLIENTS = f"""
clients:
  - client_id: ind-portal
    service: ind-portaal-zakelijk
    redirect_uris: [{REDIRECT}]
    secret_sha256: {ClientSecret.of(SECRET).sha256}
  - client_id: olo-post
    service: omgevingsloket
    redirect_uris: [{REDIRECT}]
    token_endpoint_auth_method: client_secret_post
    secret: {SECRET}
    id_token_signed_response_alg: ES256
    access_token_format: jwt
  - client_id: olo-jwt
    service: omgevingsloket
    redirect_uris: [{REDIRECT}]
    token_endpoint_auth_method: private_key_jwt
    jwks_file: portal-jwks.json
  - client_id: own-only
    name: {{nl: Eigen zaken, en: Own business}}
    service: own-company-only
    redirect_uris: [{REDIRECT}]
    secret: {SECRET}
  - client_id: olo-public
    service: omgevingsloket
    redirect_uris: [{REDIRECT}]
    token_endpoint_auth_method: none
    scopes: [openid, kvk]
  - client_id: olo-establishment
    service: establishment-required
    redirect_uris: [{REDIRECT}]
    secret: {SECRET}
  - client_id: ind-sponsors
    service: ind-sponsors
    redirect_uris: [{REDIRECT}]
    secret: {SECRET}
  - client_id: ind-labour
    service: ind-labour-sponsors
    redirect_uris: [{REDIRECT}]
    secret: {SECRET}
  - client_id: legacy-no-pkce
    service: ind-portaal-zakelijk
    redirect_uris: [{REDIRECT}]
    secret: {SECRET}
    require_pkce: false
  - client_id: ind-own-page
    name: IND portal with its own refusal page
    service: ind-portaal-zakelijk
    redirect_uris: [{REDIRECT}]
    secret: {SECRET}
    refusal_page: false
  - client_id: nlgov-portal
    name: A portal on the NL GOV Assurance profile's claims
    service: ind-portaal-zakelijk
    redirect_uris: [{REDIRECT}]
    token_endpoint_auth_method: private_key_jwt
    jwks_file: nlgov-jwks.json
    claims_profile: nlgov-v1
    acr_format: eidas
    userinfo_signed_response_alg: RS256
  - client_id: nlgov-sealed
    name: A portal on the NL GOV claims, with encrypted ID tokens and userinfo
    service: omgevingsloket
    redirect_uris: [{REDIRECT}]
    token_endpoint_auth_method: private_key_jwt
    jwks_file: nlgov-jwks.json
    claims_profile: nlgov-v1
    id_token_encrypted_response_alg: RSA-OAEP-256
    id_token_encrypted_response_enc: A256GCM
    userinfo_signed_response_alg: ES256
    userinfo_encrypted_response_alg: ECDH-ES
  - client_id: multi-portal
    name: A portal signing in for several services
    services: [ind-portaal-zakelijk, omgevingsloket, own-company-only, establishment-required]
    redirect_uris: [{REDIRECT}]
    secret: {SECRET}
  - client_id: ind-named
    name: A portal whose service requests the person's name
    service: ind-named
    redirect_uris: [{REDIRECT}]
    secret: {SECRET}
  - client_id: ind-named-nlgov
    name: A portal on the NL GOV claims whose service requests the person's name
    service: ind-named
    redirect_uris: [{REDIRECT}]
    token_endpoint_auth_method: private_key_jwt
    jwks_file: nlgov-jwks.json
    claims_profile: nlgov-v1
  - client_id: olo-request-uri
    name: A portal serving its request objects by reference
    service: omgevingsloket
    redirect_uris: [{REDIRECT}]
    token_endpoint_auth_method: private_key_jwt
    jwks_file: portal-jwks.json
    request_uris: [{REQUEST_URI}]
  - client_id: nlgov-pushed
    name: A portal that pushes every authorization request
    service: ind-portaal-zakelijk
    redirect_uris: [{REDIRECT}]
    jwks_file: nlgov-jwks.json
    claims_profile: nlgov-v1
    require_pushed_authorization_requests: true
  - client_id: nlgov-mtls
    name: A portal authenticating with its TLS client certificate, by subject
    service: ind-portaal-zakelijk
    redirect_uris: [{REDIRECT}]
    token_endpoint_auth_method: tls_client_auth
    tls_client_auth_subject_dn: "{MTLS_CERT.subject.rfc4514_string()}"
    claims_profile: nlgov-v1
  - client_id: nlgov-pinned
    name: A portal authenticating with its TLS client certificate, by thumbprint
    service: ind-portaal-zakelijk
    redirect_uris: [{REDIRECT}]
    token_endpoint_auth_method: tls_client_auth
    tls_client_certificate_sha256: {PINNED_CERT.fingerprint(hashes.SHA256()).hex()}
    claims_profile: nlgov-v1
  - client_id: ind-signed
    name: A portal with a secret that signs its request objects
    service: ind-portaal-zakelijk
    redirect_uris: [{REDIRECT}]
    secret: {SECRET}
    jwks_file: portal-jwks.json
"""


def write_config(folder: Path) -> Path:
    """The broker config file for the tests, with the portal's public JWKS beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "portal-jwks.json").write_text(json.dumps({"keys": [PORTAL_KEY.as_dict(private=False)]}))
    nlgov_keys = [key.as_dict(private=False) for key in (PORTAL_KEY, ENCRYPTION_KEY, EC_ENCRYPTION_KEY)]
    (folder / "nlgov-jwks.json").write_text(json.dumps({"keys": nlgov_keys}))
    path = folder / "broker.yaml"
    path.write_text(SERVICES + CLIENTS)
    return path
