"""The userinfo answer: the claims of the client's set under the token's scopes (and those the
`claims` parameter asked for here, `broker.oidc.claims_request`), as plain JSON, or
as a JWT signed with the broker's key (`userinfo_signed_response_alg`), encrypted to the client's
key when it asks for that too (OpenID Connect Core §5.3.2)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response, jsonify
from joserfc import jwt

from broker.oidc.clients import OidcClient
from broker.oidc.encryption import encrypted_for
from broker.oidc.profiles import released_for
from broker.oidc.provider import Provider


def userinfo_answer(
    provider: Provider, client: OidcClient, claims: dict[str, Any], scope: str, requested: Iterable[str] = ()
) -> Response:
    """The claims for `scope`, and those of `requested` (the `claims` parameter's) the client may have."""
    config = client.config
    view = released_for(config, claims, scope.split(), provider.issuer, requested)
    alg = config.userinfo_signed_response_alg
    if alg is None:
        return jsonify(view)
    key = provider.keys.key_for(alg)
    header = {"alg": alg, "kid": key.kid or "", "typ": "JWT"}
    signed = jwt.encode(header, view | {"iss": provider.issuer, "aud": client.get_client_id()}, key, [alg])
    if config.userinfo_encryption is not None:
        signed = encrypted_for(config, config.userinfo_encryption, signed)
    return Response(signed, mimetype="application/jwt")
