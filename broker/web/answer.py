"""Answering the portal at the end of a sign-in: a code, or an OAuth error to its redirect URI.

Shared by the return from the HM and the establishment picker, which both finish a sign-in from
the authorization request's stored parameters.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from werkzeug.wrappers import Response as BaseResponse

from broker.oidc.authorization import StoredAuthorizationRequest
from broker.oidc.clients import OidcClient
from broker.oidc.user import SignedIn
from broker.runtime import runtime
from broker.web.errors import oauth_error_page

log = logging.getLogger("broker.oidc")


@dataclass(frozen=True)
class Authorization:
    """A stored authorization request, validated again: its client and trusted redirect URI."""

    request: StoredAuthorizationRequest
    grant: AuthorizationCodeGrant
    redirect_uri: str

    @property
    def client(self) -> OidcClient:
        return self.request.client


def authorization(parameters: dict[str, str]) -> Authorization:
    """The authorization request `parameters` describe, validated as at /oidc/authorize.

    Raises OAuth2Error (the client or its redirect URI may have gone from the configuration).
    """
    state = runtime()
    request = StoredAuthorizationRequest(state.provider.endpoint("/oidc/authorize"), parameters)
    grant = state.authorization.get_authorization_grant(request)
    return Authorization(request, grant, grant.validate_authorization_request())


def issue_code(authorized: Authorization, claims: dict[str, Any]) -> BaseResponse | tuple[str, int]:
    """Redirect to the portal with a code carrying `claims`; the caller commits."""
    # Validated already: issue the code without authlib validating the request a second time.
    try:
        return runtime().authorization.handle_response(
            *authorized.grant.create_authorization_response(authorized.redirect_uri, SignedIn(claims))
        )
    except OAuth2Error as error:
        error.state = authorized.request.payload.state
        return refuse(error)


def deny(authorized: Authorization, reason: str, why: str) -> BaseResponse:
    """Redirect to the portal with `access_denied`, its description the stable `reason` code and `why`."""
    error = AccessDeniedError(description=f"{reason}: {why}", redirect_uri=authorized.redirect_uri)
    error.state = authorized.request.payload.state
    return runtime().authorization.handle_error_response(authorized.request, error)


def refuse(error: OAuth2Error) -> BaseResponse | tuple[str, int]:
    """An OAuth error: back to the client once its redirect URI is trusted, else a page."""
    if error.redirect_uri:
        log.info("authorize refused error=%s redirected", error.error)
        return runtime().authorization.handle_error_response(None, error)
    reference = secrets.token_hex(6)
    log.info("authorize refused error=%s ref=%s description=%s", error.error, reference, error.description)
    return oauth_error_page(error.error, reference)
