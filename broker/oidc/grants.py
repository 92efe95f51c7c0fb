"""The authorization code grant with PKCE (S256 only) and OpenID Connect, on authlib's classes.

Storage is ours (broker.models); the protocol steps are authlib's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.errors import RegistrationNotSupportedError
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.grants.util import create_half_hash
from joserfc import jwt

from broker import logs, models
from broker.extensions import db
from broker.models.statements import Row
from broker.oidc import claims_request
from broker.oidc.authorization import StoredAuthorizationRequest, oversized
from broker.oidc.claims_request import ClaimsRequest, ClaimsRequestError
from broker.oidc.clients import OidcClient
from broker.oidc.encryption import encrypted_for
from broker.oidc.levels import requested_level
from broker.oidc.profiles import NLGOV_V1, released_for
from broker.oidc.provider import Provider, digest
from broker.oidc.service_choice import choose_service
from broker.oidc.user import SignedIn
from config.settings import Service


@dataclass(frozen=True)
class StoredCode(AuthorizationCodeMixin):
    """A claimed authorization code, as authlib reads it: plain values, so no commit reloads it."""

    code_hash: str
    redirect_uri: str
    scope: str
    nonce: str | None
    auth_time: int
    claims: dict[str, Any]
    code_challenge: str | None
    code_challenge_method: str | None
    # The claims the `claims` parameter asked for per place (`ClaimsRequest.requested`), or None.
    requested_claims: dict[str, list[str]] | None

    @classmethod
    def of(cls, row: Row) -> StoredCode:
        return cls(
            row.code_hash,
            row.redirect_uri,
            row.scope,
            row.nonce,
            int(row.auth_time.timestamp()),
            dict(row.claims),
            row.code_challenge,
            row.code_challenge_method,
            row.requested_claims,
        )

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return str(self.claims["acr"])

    def get_amr(self) -> None:
        return None


# Parameters discovery says we do not support, and the error each must get (Core §7.2.1); a
# `request` or `request_uri` was resolved before the grant saw the request (broker.oidc.request_object).
_UNSUPPORTED: dict[str, type[OAuth2Error]] = {
    "registration": RegistrationNotSupportedError,
}


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [  # noqa: RUF012
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "tls_client_auth",
        "none",
    ]
    provider: Provider  # set by broker.oidc.server
    # The service the request is for, once `validate_authorization_request` has chosen it.
    service: Service
    # What its `claims` parameter asks for, once `validate_authorization_request` has read it.
    claims_request: ClaimsRequest

    def generate_authorization_code(self) -> str:
        # 256 random bits in one read; authlib's default draws each character separately.
        return secrets.token_urlsafe(32)

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        too_large = oversized(self.request.payload.data)
        if too_large is not None:
            raise InvalidRequestError(too_large, redirect_uri=redirect_uri)
        if "openid" not in (self.request.payload.scope or "").split():
            # An OpenID provider only: a plain OAuth request has nothing to give (Core §3.1.2.1).
            raise InvalidScopeError("scope must include openid", redirect_uri=redirect_uri)
        if self.request.payload.data.get("response_mode", "query") != "query":
            # A client that asked for form_post must not get its code in a URL it meant to avoid.
            raise InvalidRequestError("response_mode must be query", redirect_uri=redirect_uri)
        try:
            self.claims_request = claims_request.parse(self.request.payload.data.get("claims"))
        except ClaimsRequestError as error:
            raise InvalidRequestError(str(error), redirect_uri=redirect_uri) from error
        self.service = self._service(redirect_uri)
        for parameter, refusal in _UNSUPPORTED.items():
            # Ignored, what a client put there (a higher acr_values, say) would silently not apply.
            if parameter in self.request.payload.data:
                raise refusal(f"{parameter} is not supported", redirect_uri=redirect_uri)
        return redirect_uri

    def _service(self, redirect_uri: str) -> Service:
        """The service the request is for: chosen now, or as chosen when it arrived."""
        request, client = self.request, self.request.client
        candidates = client.services
        if isinstance(request, StoredAuthorizationRequest) and request.service_slug is not None:
            candidates = tuple(service for service in client.services if service.slug == request.service_slug)
            if not candidates:
                raise InvalidRequestError(
                    "the service this sign-in was for is no longer one the client signs in for",
                    redirect_uri=redirect_uri,
                )
        essential = self.claims_request.essential_acr
        if essential and all(requested_level(uri) is None for uri in essential):
            # Ignored as a voluntary one would be, the sign-in would not be at any level it requires.
            raise InvalidRequestError(
                "the essential acr in claims names no level of assurance the broker knows",
                redirect_uri=redirect_uri,
            )
        given = request.payload.data.get("acr_values")
        acr_values = self.claims_request.acr_values(given)
        asked_by = "acr_values" if acr_values == given else "the acr in claims"
        return choose_service(candidates, acr_values, request.payload.scope, redirect_uri, asked_by)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        user: SignedIn = request.user
        payload = request.payload.data
        now = self.provider.clock()
        # Committed by the caller, with the end of the authorization it answers.
        models.add_code(
            code_hash=digest(code),
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri,
            scope=request.client.get_allowed_scope(request.payload.scope),
            nonce=payload.get("nonce"),
            code_challenge=payload.get("code_challenge"),
            code_challenge_method=payload.get("code_challenge_method"),
            claims=user.claims,
            requested_claims=self.claims_request.requested(),
            auth_time=datetime.fromtimestamp(int(user.claims["auth_time"]), now.tzinfo),
            expires_at=now + self.provider.settings.code_lifetime,
            sign_in=logs.current_sign_in(),
        )

    def query_authorization_code(self, code: str, client: OidcClient) -> StoredCode | None:
        """Claim the code: one atomic update, so two workers can never both redeem it."""
        now, code_hash = self.provider.clock(), digest(code)
        # Not committed here: the claim commits with the token it issues (the row stays locked).
        claimed = models.claim_code(code_hash, client.get_client_id(), now)
        if claimed is not None:
            logs.sign_in(claimed.sign_in)
            return StoredCode.of(claimed)
        if models.code_was_used(code_hash):
            # A second use means the code leaked: revoke what the first use issued (RFC 6749 §4.1.2).
            models.revoke_tokens_of(code_hash, now)
            db.session.commit()
        return None

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        """Nothing left to do: `query_authorization_code` marked the code used when it claimed it."""

    def authenticate_user(self, authorization_code: StoredCode) -> SignedIn:
        return SignedIn(dict(authorization_code.claims))


class S256CodeChallenge(CodeChallenge):
    """PKCE (RFC 7636) with S256 only, required of every client unless its entry says
    `require_pkce: false` (the NL GOV Assurance profile; RFC 9700 §2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (authlib's interface)

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            # Without a method RFC 7636 means "plain", which we refuse (RFC 9700 §2.1.1).
            raise InvalidRequestError("code_challenge_method must be S256", redirect_uri=redirect_uri)
        if not data.get("code_challenge") and grant.request.client.config.require_pkce:
            raise InvalidRequestError("code_challenge is required (PKCE, S256)", redirect_uri=redirect_uri)


# The NL GOV Assurance profile: an ID token lives five minutes at most.
ID_TOKEN_LIFETIME = timedelta(minutes=5)


class OpenIdCode(OpenIDCode):
    """ID tokens: our issuer, our clock, the client's algorithm, claim set and encryption, our key's
    kid; never `amr` (the NL GOV profile has `acr` only)."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        if isinstance(request, StoredAuthorizationRequest):
            # Checked when the request arrived; its replay after the HM needs no second look.
            return False
        if models.nonce_used(request.payload.client_id, nonce):
            # authlib's own description ("Replay attack") tells a portal's developer little.
            raise InvalidRequestError("nonce was used in an earlier sign-in; send a fresh one each time")
        return False

    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str:
        """As authlib makes it, with the client's claim set (`broker.oidc.profiles`) in place of
        one for all, and encrypted to the client when it registered for that."""
        client: OidcClient = request.client
        alg = client.id_token_signed_response_alg
        claims = self.get_client_claims(client) | self.get_authorization_code_claims(
            request.authorization_code
        )
        at_hash = create_half_hash(token["access_token"], alg)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode("ascii")
        requested = (request.authorization_code.requested_claims or {}).get("id_token", [])
        claims |= released_for(
            client.config, request.user.claims, token["scope"].split(), self.provider.issuer, requested
        )
        signed = jwt.encode(self.get_encode_header(client), claims, self.provider.keys.key_for(alg), [alg])
        encryption = client.config.id_token_encryption
        return signed if encryption is None else encrypted_for(client.config, encryption, signed)

    def get_encode_header(self, client: OidcClient) -> dict[str, str]:
        alg = client.id_token_signed_response_alg
        return {"alg": alg, "kid": self.provider.keys.key_for(alg).kid or "", "typ": "JWT"}

    def get_client_claims(self, client: OidcClient) -> dict[str, Any]:
        now = int(self.provider.clock().timestamp())
        lifetime = int(min(self.provider.settings.token_lifetime, ID_TOKEN_LIFETIME) / timedelta(seconds=1))
        claims = {
            "iss": self.provider.issuer,
            "aud": [client.get_client_id()],
            "azp": client.get_client_id(),
            "iat": now,
            "exp": now + lifetime,
            # 128 random bits: unique without a register (no endpoint takes an ID token back).
            "jti": secrets.token_urlsafe(16),
        }
        if client.config.claims_profile == NLGOV_V1:
            claims["nbf"] = now
        return claims
