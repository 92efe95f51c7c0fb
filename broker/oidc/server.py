"""The authorization server and resource protector, wired to our grant, tokens and clients."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from flask import Flask

from broker.oidc.client_auth import PrivateKeyJwt
from broker.oidc.grants import CodeGrant, OpenIdCode, S256CodeChallenge
from broker.oidc.provider import Provider
from broker.oidc.tokens import TokenIssuer, TokenValidator


def authorization_server(app: Flask, provider: Provider) -> AuthorizationServer:
    tokens = TokenIssuer(provider)
    server = AuthorizationServer(app, query_client=provider.clients.get, save_token=tokens.save)
    server.register_token_generator("default", tokens)
    server.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt(provider))
    grant = type("ProviderCodeGrant", (CodeGrant,), {"provider": provider})
    server.register_grant(grant, [S256CodeChallenge(required=True), OpenIdCode(provider)])
    return server


def resource_protector(provider: Provider) -> ResourceProtector:
    protector = ResourceProtector()
    protector.register_token_validator(TokenValidator(provider))
    return protector
