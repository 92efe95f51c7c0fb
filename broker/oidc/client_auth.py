"""private_key_jwt client authentication (OpenID Connect Core §9, RFC 7523), with one use per jti."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc.jwk import KeySet
from sqlalchemy.exc import IntegrityError

from broker.extensions import db
from broker.models import UsedClientAssertion
from broker.oidc.clients import OidcClient
from broker.oidc.provider import Provider


class PrivateKeyJwt(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, provider: Provider) -> None:
        super().__init__(validate_jti=True)
        self.provider = provider

    def get_audiences(self) -> list[str]:
        # Core §9: the audience SHOULD be the token endpoint; the issuer is accepted too.
        return [self.provider.endpoint("/oidc/token"), self.provider.issuer]

    def resolve_client_public_key(self, client: OidcClient) -> KeySet:
        return KeySet.import_key_set(dict(client.config.jwks or {"keys": []}))

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
