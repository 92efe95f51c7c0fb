"""Access tokens: opaque or JWT (RFC 9068) per client, stored by hash, checked at the userinfo endpoint."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request, TokenMixin
from authlib.oauth2.rfc6750 import BearerTokenValidator
from joserfc import jwt

from broker import models
from broker.extensions import db
from broker.models.statements import Row
from broker.oidc.clients import OidcClient
from broker.oidc.levels import acr_claim
from broker.oidc.provider import Provider, digest
from broker.oidc.user import SignedIn


class TokenIssuer:
    """authlib's token generator and `save_token`, for the one grant we have."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def __call__(
        self,
        grant_type: str,
        client: OidcClient,
        user: SignedIn | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        assert user is not None  # the authorization code grant always has one
        lifetime = int(self.provider.settings.token_lifetime / timedelta(seconds=1))
        if client.config.access_token_format == "jwt":  # noqa: S105 (a format name)
            access_token = self._jwt(client, user, scope or "", lifetime)
        else:
            access_token = secrets.token_urlsafe(32)
        return {"token_type": "Bearer", "access_token": access_token, "expires_in": lifetime, "scope": scope}

    def _jwt(self, client: OidcClient, user: SignedIn, scope: str, lifetime: int) -> str:
        """An RFC 9068 access token, audience the userinfo endpoint (the one resource we serve)."""
        now = int(self.provider.clock().timestamp())
        key = self.provider.keys.key_for("RS256")
        header = {"typ": "at+jwt", "alg": "RS256", "kid": key.kid or ""}
        claims = {
            "iss": self.provider.issuer,
            "aud": self.provider.endpoint("/oidc/userinfo"),
            "sub": user.get_user_id(),
            "client_id": client.get_client_id(),
            "iat": now,
            "exp": now + lifetime,
            "jti": secrets.token_urlsafe(16),
            "scope": scope,
            "auth_time": user.claims["auth_time"],
            "acr": acr_claim(user.claims["acr"], client.config.acr_format),
        }
        return jwt.encode(header, claims, key, algorithms=["RS256"])

    def save(self, token: dict[str, Any], request: OAuth2Request) -> None:
        now = self.provider.clock()
        models.add_token(
            token_hash=digest(token["access_token"]),
            code_hash=digest_of_code(request),
            client_id=request.client.get_client_id(),
            scope=token["scope"] or "",
            claims=request.user.claims,
            requested_claims=request.authorization_code.requested_claims,
            expires_at=now + timedelta(seconds=token["expires_in"]),
        )
        # One commit for the token and the claim of the code that issued it.
        db.session.commit()


def digest_of_code(request: OAuth2Request) -> str:
    return request.authorization_code.code_hash


@dataclass(frozen=True)
class Token(TokenMixin):
    row: Row  # from models.find_token
    now: datetime
    client: OidcClient  # the client it was issued to, as configured now

    def check_client(self, client: OidcClient) -> bool:
        return self.row.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - self.now).total_seconds())

    def is_expired(self) -> bool:
        return self.row.expires_at <= self.now

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None


class TokenValidator(BearerTokenValidator):
    """Finds a presented token by its hash; opaque and JWT tokens alike, so revocation covers both."""

    def __init__(self, provider: Provider) -> None:
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> Token | None:
        row = models.find_token(digest(token_string))
        client = None if row is None else self.provider.client(row.client_id)
        if row is None or client is None:
            # A client removed from the configuration takes its tokens with it.
            return None
        return Token(row, self.provider.clock(), client)
