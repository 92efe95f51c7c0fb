"""The pushed authorization request endpoint (RFC 9126): a client posts its authorization request
(plain parameters, or a `request` object) authenticated as at the token endpoint; the broker checks
it as /oidc/authorize would and answers a `request_uri` good for one use within LIFETIME."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.endpoint import Endpoint, EndpointRequest

from broker import models
from broker.extensions import db
from broker.oidc.authorization import StoredAuthorizationRequest, read
from broker.oidc.clients import OidcClient
from broker.oidc.introspection import CONFIDENTIAL_METHODS
from broker.oidc.provider import Provider, digest
from broker.oidc.request_object import PUSHED_PREFIX, RequestObjects

LIFETIME = timedelta(seconds=60)
# What authenticates the client at this endpoint: no part of the authorization request.
_AUTHENTICATION = frozenset({"client_secret", "client_assertion", "client_assertion_type"})


class PushedAuthorization(Endpoint):
    ENDPOINT_NAME = "pushed_authorization"
    CLIENT_AUTH_METHODS = [*CONFIDENTIAL_METHODS, "none"]  # noqa: RUF012 (authlib's interface)

    def __init__(self, provider: Provider) -> None:
        super().__init__()
        self.provider = provider
        self.request_objects = RequestObjects(provider)

    def __call__(self, request: OAuth2Request) -> tuple[int, Any, list[tuple[str, str]]]:
        return self.create_response(self.validate_request(request))

    def validate_request(self, request: OAuth2Request) -> EndpointRequest:
        if request.method != "POST":
            raise InvalidRequestError("the PAR endpoint takes POST only")
        client: OidcClient = self.server.authenticate_client(
            request, self.CLIENT_AUTH_METHODS, self.ENDPOINT_NAME
        )
        if request.args:
            raise InvalidRequestError("the PAR endpoint takes its parameters in the body only")
        repeated = sorted(name for name, values in request.form.lists() if len(values) > 1)
        if repeated:
            raise InvalidRequestError(f"{repeated[0]} is sent more than once")
        form = {name: value for name, value in request.form.items() if name not in _AUTHENTICATION}
        if form.setdefault("client_id", client.get_client_id()) != client.get_client_id():
            raise InvalidRequestError("client_id is not the client that authenticated")
        if "request_uri" in form:
            raise InvalidRequestError("request_uri cannot be pushed (RFC 9126 §2.1)")
        if "request" in form:
            form = self.request_objects.by_value(form["request"], client)
        try:
            authorize = StoredAuthorizationRequest(self.provider.endpoint("/oidc/authorize"), form)
            self.server.get_authorization_grant(authorize).validate_authorization_request()
        except OAuth2Error as error:
            # Answered to the client that posted it, never by redirect.
            error.redirect_uri = None
            raise
        return EndpointRequest(StoredAuthorizationRequest(request.uri, form), client)

    def create_response(self, validated: EndpointRequest) -> tuple[int, Any, list[tuple[str, str]]]:
        reference = secrets.token_urlsafe(32)
        client: OidcClient = validated.client
        models.add_pushed(
            digest(reference),
            client.get_client_id(),
            read(validated.request.payload.data),
            self.provider.clock() + LIFETIME,
        )
        db.session.commit()
        body = {"request_uri": PUSHED_PREFIX + reference, "expires_in": int(LIFETIME.total_seconds())}
        return 201, body, [("Cache-Control", "no-store"), ("Content-Type", "application/json")]
