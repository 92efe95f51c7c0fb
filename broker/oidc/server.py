"""The authorization server and resource protector, wired to our grant, tokens and clients."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import Flask, Response, abort, request

from broker.oidc.client_auth import PrivateKeyJwt
from broker.oidc.grants import CodeGrant, OpenIdCode, S256CodeChallenge
from broker.oidc.provider import Provider
from broker.oidc.tokens import TokenIssuer, TokenValidator


class NamedAuthorizationServer(AuthorizationServer):
    """authlib's server, naming itself in every redirect to a client, code or error (RFC 9207 §2):
    a portal that signs in with several providers can tell whose answer it holds (mix-up attacks)."""

    def __init__(self, app: Flask, issuer: str, **options: Any) -> None:
        self.issuer = issuer
        super().__init__(app, **options)

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        named = [
            (name, add_params_to_uri(value, {"iss": self.issuer}) if name.lower() == "location" else value)
            for name, value in headers
        ]
        return super().handle_response(status, body, named)


def authorization_server(app: Flask, provider: Provider) -> AuthorizationServer:
    tokens = TokenIssuer(provider)
    server = NamedAuthorizationServer(
        app, provider.issuer, query_client=provider.client, save_token=tokens.save
    )
    server.register_token_generator("default", tokens)
    server.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt(provider))
    grant = type("ProviderCodeGrant", (CodeGrant,), {"provider": provider})
    server.register_grant(grant, [S256CodeChallenge(required=True), OpenIdCode(provider)])
    return server


class BearerProtector(ResourceProtector):
    """authlib's protector, its errors carried as ready responses so no error page replaces them."""

    def parse_request_authorization(self, request: Any) -> tuple[Any, str]:
        """The bearer token from the Authorization header, or from a form body (RFC 6750 §2.2).

        OpenID Connect Core §5.3.1 allows either; a token sent both ways is refused (§2).
        """
        body_token = _form_token()
        if body_token is None:
            return super().parse_request_authorization(request)
        if request.headers.get("Authorization"):
            raise InvalidRequestError("the access token was sent in more than one way")
        return self.get_token_validator("bearer"), body_token

    def raise_error_response(self, error: OAuth2Error) -> NoReturn:
        body = json.dumps(dict(error.get_body()))
        abort(Response(body, error.status_code, error.get_headers(), mimetype="application/json"))


def _form_token() -> str | None:
    if request.method != "POST" or request.mimetype != "application/x-www-form-urlencoded":
        return None
    return request.form.get("access_token") or None


def resource_protector(provider: Provider) -> ResourceProtector:
    protector = BearerProtector()
    protector.register_token_validator(TokenValidator(provider))
    return protector
