"""Introspection (RFC 7662) and revocation (RFC 7009) of the broker's access tokens.

A client authenticates as it does at the token endpoint, and speaks only of its own tokens:
introspection says `active: false` of a token issued to another client (as of one that is
unknown, expired or revoked), and revocation refuses another client's token (`invalid_grant`)
and leaves it be. A public client may revoke its tokens, but not introspect them: it has no
credentials to show. Only access tokens exist (no refresh tokens), so `token_type_hint` is
ignored, as both RFCs allow; a revoked token is refused at userinfo too, JWT access tokens alike.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from broker import models
from broker.extensions import db
from broker.oidc.clients import OidcClient
from broker.oidc.levels import acr_claim
from broker.oidc.provider import Provider, digest
from broker.oidc.tokens import Token, TokenValidator

CONFIDENTIAL_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth"]


def check_token_parameter(request: OAuth2Request) -> None:
    """The request names a token; its `token_type_hint`, whatever it says, is not read."""
    if not request.form.get("token"):
        raise InvalidRequestError("token is missing")


class _AccessTokens:
    """What introspection and revocation share: the access token named in the request, found as the
    resource protector finds it."""

    def __init__(self, provider: Provider) -> None:
        super().__init__()
        self.provider = provider
        self.tokens = TokenValidator(provider)

    def check_params(self, request: OAuth2Request, client: OidcClient) -> None:
        check_token_parameter(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return self.tokens.authenticate_token(token_string)


class Introspection(_AccessTokens, IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CONFIDENTIAL_METHODS

    def check_permission(self, token: Token, client: OidcClient, request: OAuth2Request) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: Token) -> dict[str, Any]:
        """What the token says, as its RFC 9068 form says it (the client's `acr` format)."""
        claims = token.row.claims
        return {
            "active": True,
            "iss": self.provider.issuer,
            "aud": self.provider.endpoint("/oidc/userinfo"),
            "client_id": token.row.client_id,
            "token_type": "Bearer",
            "scope": token.get_scope(),
            "exp": int(token.row.expires_at.timestamp()),
            "sub": claims["sub"],
            "auth_time": claims["auth_time"],
            "acr": acr_claim(claims["acr"], token.client.config.acr_format),
        }


class Revocation(_AccessTokens, RevocationEndpoint):
    CLIENT_AUTH_METHODS = [*CONFIDENTIAL_METHODS, "none"]  # noqa: RUF012 (authlib's interface)

    def revoke_token(self, token: Token, request: OAuth2Request) -> None:
        models.revoke_token(digest(request.form["token"]), self.provider.clock())
        db.session.commit()
