"""Client authentication at the token endpoint: private_key_jwt (OpenID Connect Core §9, RFC 7523),
with one use per jti and a short lifetime; tls_client_auth (RFC 8705) behind a proxy that verifies
client certificates; and client_secret_basic strict about its header."""

from __future__ import annotations

import base64
import hmac
import math
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Request
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.registry import JWS_HEADER_REGISTRY, check_registry_header
from sqlalchemy.exc import IntegrityError

from broker.extensions import db
from broker.models import UsedClientAssertion
from broker.oidc.clients import OidcClient
from broker.oidc.provider import Provider

# The longest a client assertion may be good for, from its iat and from now (RFC 7523 §3 lets us
# refuse an exp unreasonably far in the future): one that leaks is of no use for long.
MAX_ASSERTION_LIFETIME = timedelta(minutes=5)


class PrivateKeyJwt(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, provider: Provider) -> None:
        super().__init__(validate_jti=True)
        self.provider = provider

    def __call__(self, query_client: Any, request: OAuth2Request) -> OidcClient | None:
        client = super().__call__(query_client, request)
        named = request.form.get("client_id")
        if client is not None and named is not None and named != client.get_client_id():
            # The assertion's subject is the client; a client_id naming another is not ignored.
            raise InvalidClientError(description="client_id is not the client assertion's subject")
        return client

    def get_audiences(self) -> list[str]:
        # Core §9: the audience SHOULD be the token endpoint; the issuer is accepted too, and the
        # introspection, revocation and PAR endpoints, which take the same assertions (each names us).
        return [
            self.provider.endpoint("/oidc/token"),
            self.provider.issuer,
            self.provider.endpoint("/oidc/introspect"),
            self.provider.endpoint("/oidc/revoke"),
            self.provider.endpoint("/oidc/par"),
        ]

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The assertion's header and claims, unverified; a header member of the wrong type (a `crit`
        that is not a list of names, say) is refused here, before a JOSE library trips over it."""
        header, claims = super().extract_assertion(assertion)
        try:
            check_registry_header(JWS_HEADER_REGISTRY, header)
        except JoseError as error:
            raise InvalidClientError(description="the assertion's header is malformed") from error
        return header, claims

    def resolve_client_public_key(self, client: OidcClient) -> KeySet:
        if client.config.token_endpoint_auth_method != self.CLIENT_AUTH_METHOD or not client.config.jwks:
            # A client with a secret, or a public one, has no keys to check an assertion with.
            raise InvalidClientError(
                description=f"the client does not authenticate with {self.CLIENT_AUTH_METHOD}"
            )
        return KeySet.import_key_set(dict(client.config.jwks))

    def verify_claims(self, claims: dict[str, Any]) -> None:
        self.check_lifetime(claims)
        super().verify_claims(claims)

    def check_lifetime(self, claims: dict[str, Any]) -> None:
        """exp (and iat, when present) are times, and exp lies at most MAX_ASSERTION_LIFETIME after
        iat and after now; after now, with the leeway for clocks that run ahead."""
        longest = MAX_ASSERTION_LIFETIME.total_seconds()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not _is_time(exp) or ("iat" in claims and not _is_time(iat)):
            raise InvalidClientError(description="exp and iat must be NumericDate values")
        if exp > self.provider.clock().timestamp() + longest + self.leeway or (
            iat is not None and exp - iat > longest
        ):
            raise InvalidClientError(
                description=f"a client assertion may be good for at most {longest:.0f} seconds"
            )

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        """Remember the jti until the assertion expires; a second use is refused by the primary key."""
        db.session.add(
            UsedClientAssertion(
                client_id=str(claims["sub"]),
                jti=str(jti)[:256],
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        )
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return False
        return True


def _is_time(value: object) -> bool:
    """A NumericDate (RFC 7519 §2): a JSON number, finite; never a boolean."""
    return not isinstance(value, bool) and (
        isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    )


def client_secret_basic(query_client: Any, request: OAuth2Request) -> OidcClient | None:
    """client_secret_basic (RFC 6749 §2.3.1), as authlib does it, once the header is readable.

    A Basic header without credentials, or with credentials that are not base64 of UTF-8 text, is a
    failed attempt to authenticate with it: invalid_client, 401 with WWW-Authenticate (§5.2).
    """
    scheme, *credentials = (request.headers.get("Authorization") or "").split(None, 1) or [""]
    if scheme.lower() != "basic":
        # Another scheme, or none: not this method (authlib's reader trips over some such headers).
        return None
    if not _readable(credentials):
        raise InvalidClientError(
            status_code=401, description="the Authorization header holds no readable client credentials"
        )
    return authenticate_client_secret_basic(query_client, request)


def _readable(credentials: list[str]) -> bool:
    try:
        return bool(credentials) and bool(base64.b64decode(credentials[0], validate=True).decode("utf-8"))
    except ValueError:  # not ASCII, not base64 (binascii.Error), or not UTF-8 (UnicodeDecodeError)
        return False


class TlsClientAuth:
    """tls_client_auth (RFC 8705 §2): the client certificate the TLS-terminating proxy verified,
    passed URL-encoded (PEM) in the header `OidcSettings.tls_client_certificate_header` names,
    matched to the subject DN or SHA-256 thumbprint the client registered. Off unless that header
    is configured: the proxy must set it on every request, and drop any the client sent."""

    CLIENT_AUTH_METHOD = "tls_client_auth"

    def __init__(self, header: str | None) -> None:
        self.header = header

    def __call__(self, query_client: Any, request: OAuth2Request) -> OidcClient | None:
        client_id = request.form.get("client_id")
        client: OidcClient | None = query_client(client_id) if client_id else None
        if (
            self.header is None
            or client is None
            or client.config.token_endpoint_auth_method != self.CLIENT_AUTH_METHOD
        ):
            return None
        presented = request.headers.get(self.header)
        if not presented:
            raise InvalidClientError(description="no client certificate was presented")
        try:
            certificate = x509.load_pem_x509_certificate(unquote(presented).encode("ascii"))
        except ValueError as error:  # not ASCII, not PEM, not a certificate
            raise InvalidClientError(description="the client certificate cannot be read") from error
        registered = client.config
        if registered.tls_client_certificate_sha256 is not None:
            thumbprint = certificate.fingerprint(hashes.SHA256()).hex()
            matches = hmac.compare_digest(thumbprint, registered.tls_client_certificate_sha256)
        else:
            matches = certificate.subject.rfc4514_string() == registered.tls_client_auth_subject_dn
        if not matches:
            raise InvalidClientError(
                description="the client certificate is not the one the client registered"
            )
        return client
