"""A configured client, as authlib's authorization server asks about it, with the services it signs in for."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import ClientMixin, scope_to_list

from config.clients import Client
from config.settings import Service

_AUTHENTICATED_ENDPOINTS = frozenset({"token", "introspection", "revocation", "pushed_authorization"})


class OidcClient(ClientMixin):
    def __init__(self, client: Client, services: tuple[Service, ...]) -> None:
        self.config = client
        # Taken from the same registry as the client, so they always belong together; lowest level first.
        self.services = services
        self.id_token_signed_response_alg = client.id_token_signed_response_alg

    def get_client_id(self) -> str:
        return self.config.client_id

    def get_default_redirect_uri(self) -> None:
        # OpenID Connect requires redirect_uri on every request (Core §3.1.2.1): no default.
        return None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.config.scopes)
        return " ".join(s for s in scope_to_list(scope) or [] if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison (RFC 9700 §4.1.3): no prefixes, no patterns.
        return redirect_uri in self.config.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        secret = self.config.secret
        return secret is not None and secret.matches(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # Introspection and revocation take the client's authentication at the token endpoint.
        return endpoint in _AUTHENTICATED_ENDPOINTS and method == self.config.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"
