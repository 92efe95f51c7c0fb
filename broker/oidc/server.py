"""The authorization server and resource protector, wired to our grant, tokens and clients."""

from __future__ import annotations

import inspect
import json
from typing import Any, NoReturn

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import Flask, Response, abort, request

from broker.oidc.authorization import StoredAuthorizationRequest
from broker.oidc.client_auth import PrivateKeyJwt, TlsClientAuth, client_secret_basic
from broker.oidc.grants import CodeGrant, OpenIdCode, S256CodeChallenge
from broker.oidc.introspection import Introspection, Revocation
from broker.oidc.provider import Provider
from broker.oidc.pushed import PushedAuthorization
from broker.oidc.request_object import RequestObjects
from broker.oidc.tokens import TokenIssuer, TokenValidator


class NamedAuthorizationServer(AuthorizationServer):
    """authlib's server, naming itself in every redirect to a client, code or error (RFC 9207 §2):
    a portal that signs in with several providers can tell whose answer it holds (mix-up attacks)."""

    def __init__(self, app: Flask, provider: Provider, **options: Any) -> None:
        self.issuer = provider.issuer
        self.request_objects = RequestObjects(provider)
        super().__init__(app, **options)

    def get_authorization_grant(self, request: OAuth2Request) -> Any:
        """The grant for the request as it arrived, or for the request object it points at; a
        stored request (replayed after the HM, or pushed) was resolved when it came in."""
        if not isinstance(request, StoredAuthorizationRequest):
            request.payload = BasicOAuth2Payload(self.request_objects.resolve(request.payload.data))
        return super().get_authorization_grant(request)

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        named = [
            (name, add_params_to_uri(value, {"iss": self.issuer}) if name.lower() == "location" else value)
            for name, value in headers
        ]
        return super().handle_response(status, body, named)

    def get_consent_grant(self, request: Any = None, end_user: Any = None) -> Any:
        try:
            return super().get_consent_grant(request, end_user)
        except ValueError as error:
            safe = safely_described(error)
            if safe is None:
                raise
            safe.state = self.create_oauth2_request(request).payload.state
            raise safe from None

    def create_token_response(self, request: Any = None) -> Response:
        try:
            return super().create_token_response(request)
        except ValueError as error:
            safe = safely_described(error)
            if safe is None:
                raise
            return self.handle_error_response(request, safe)

    def create_endpoint_response(self, name: str, request: Any = None) -> Response:
        try:
            return super().create_endpoint_response(name, request)
        except ValueError as error:
            safe = safely_described(error)
            if safe is None:
                raise
            return self.handle_error_response(request, safe)


# In place of a description RFC 6749 §5.2 does not allow: what went wrong, without the value.
UNREPEATABLE = "a parameter holds characters that an error description cannot repeat"
_ERROR_ARGUMENTS = [name for name in inspect.signature(OAuth2Error.__init__).parameters if name != "self"]


def safely_described(error: ValueError) -> OAuth2Error | None:
    """The OAuth error authlib was making when it refused the error's description, described safely.

    authlib writes some request values into descriptions (an unregistered redirect URI, an unknown
    response type, what a JOSE library says of a client assertion) and raises ValueError from
    OAuth2Error's constructor when a description holds a character RFC 6749 §5.2 does not allow:
    a quote, a backslash, a control or a non-ASCII character. The constructor's arguments say which
    error it was, with which status, state and redirect (or none, for an untrusted redirect URI):
    the same error is made again with a description that does not repeat the value. None when
    `error` did not come from there.
    """
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    if trace is None or trace.tb_frame.f_code is not OAuth2Error.__init__.__code__:
        return None
    arguments = trace.tb_frame.f_locals
    refused = arguments["self"]
    # authlib's subclasses add no arguments of their own that a response reads: made again as the
    # same class, through OAuth2Error's own constructor.
    safe = type(refused).__new__(type(refused))
    safe.__dict__.update(refused.__dict__)
    OAuth2Error.__init__(
        safe, **({name: arguments[name] for name in _ERROR_ARGUMENTS} | {"description": UNREPEATABLE})
    )
    return safe


def authorization_server(app: Flask, provider: Provider) -> AuthorizationServer:
    tokens = TokenIssuer(provider)
    server = NamedAuthorizationServer(app, provider, query_client=provider.client, save_token=tokens.save)
    server.register_token_generator("default", tokens)
    server.register_client_auth_method("client_secret_basic", client_secret_basic)
    server.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt(provider))
    server.register_client_auth_method(
        TlsClientAuth.CLIENT_AUTH_METHOD, TlsClientAuth(provider.settings.tls_client_certificate_header)
    )
    grant = type("ProviderCodeGrant", (CodeGrant,), {"provider": provider})
    server.register_grant(grant, [S256CodeChallenge(required=True), OpenIdCode(provider)])
    server.register_endpoint(Introspection(provider))
    server.register_endpoint(Revocation(provider))
    server.register_endpoint(PushedAuthorization(provider))
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
