"""The provider's metadata (OpenID Connect Discovery 1.0, RFC 8414), with what the NL GOV
Assurance profile asks of it: served at /.well-known/openid-configuration and at
/.well-known/oauth-authorization-server alike.

`acr_values_supported` lists the levels of the services clients sign in for: what a sign-in can be
for (`broker.oidc.service_choice`). A scope naming a service (`service:<slug>`) is not listed in
`scopes_supported`: each client knows its own.

Request objects (RFC 9101) are taken signed, by value, by reference to a URL the client registered,
or pushed (RFC 9126); encrypted too when the broker has a key for that (BROKER_OIDC_ENCRYPTION_KEY).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from broker.oidc import profiles
from broker.oidc.claims import SCOPE_CLAIMS
from broker.oidc.client_auth import TlsClientAuth
from broker.oidc.introspection import Introspection, Revocation
from broker.oidc.keys import REQUEST_OBJECT_ENCRYPTION_ALG, REQUEST_OBJECT_ENCRYPTION_ENC
from broker.oidc.levels import EIDAS_OF
from broker.oidc.provider import Provider
from broker.oidc.pushed import PushedAuthorization
from broker.oidc.request_object import REQUEST_OBJECT_ALGS
from config.clients import AUTH_METHODS, ENCRYPTION_ALGS, ENCRYPTION_ENCS, SIGNING_ALGS
from saml.loa import LevelOfAssurance

# Claims every ID token carries beside those the scopes release (nbf: nlgov-v1's only).
_TOKEN_CLAIMS = {"iss", "aud", "exp", "iat", "nbf", "jti", "nonce"}


def metadata(provider: Provider) -> dict[str, Any]:
    signing = list(SIGNING_ALGS)
    return {
        "issuer": provider.issuer,
        "authorization_endpoint": provider.endpoint("/oidc/authorize"),
        "token_endpoint": provider.endpoint("/oidc/token"),
        "userinfo_endpoint": provider.endpoint("/oidc/userinfo"),
        "jwks_uri": provider.endpoint("/oidc/jwks"),
        "introspection_endpoint": provider.endpoint("/oidc/introspect"),
        "revocation_endpoint": provider.endpoint("/oidc/revoke"),
        "pushed_authorization_request_endpoint": provider.endpoint("/oidc/par"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "sub_id_types_supported": list(profiles.SUB_ID_TYPES),
        "id_token_signing_alg_values_supported": signing,
        "id_token_encryption_alg_values_supported": list(ENCRYPTION_ALGS),
        "id_token_encryption_enc_values_supported": list(ENCRYPTION_ENCS),
        "userinfo_signing_alg_values_supported": signing,
        "userinfo_encryption_alg_values_supported": list(ENCRYPTION_ALGS),
        "userinfo_encryption_enc_values_supported": list(ENCRYPTION_ENCS),
        "token_endpoint_auth_methods_supported": _methods(AUTH_METHODS, provider),
        "token_endpoint_auth_signing_alg_values_supported": signing,
        "introspection_endpoint_auth_methods_supported": _methods(
            Introspection.CLIENT_AUTH_METHODS, provider
        ),
        "introspection_endpoint_auth_signing_alg_values_supported": signing,
        "revocation_endpoint_auth_methods_supported": _methods(Revocation.CLIENT_AUTH_METHODS, provider),
        "revocation_endpoint_auth_signing_alg_values_supported": signing,
        "pushed_authorization_request_endpoint_auth_methods_supported": _methods(
            PushedAuthorization.CLIENT_AUTH_METHODS, provider
        ),
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(SCOPE_CLAIMS),
        "claims_supported": sorted(_TOKEN_CLAIMS | _scope_claims() | profiles.claims_supported()),
        "claim_types_supported": ["normal"],
        "acr_values_supported": acr_values_supported(provider.registry().offered_levels()),
        "ui_locales_supported": ["nl", "en"],
        "claims_parameter_supported": True,
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": True,
        "request_object_signing_alg_values_supported": list(REQUEST_OBJECT_ALGS),
        **_request_object_encryption(provider),
        # Per client (its require_pushed_authorization_requests): not for every one.
        "require_pushed_authorization_requests": False,
        "authorization_response_iss_parameter_supported": True,
        # A tls_client_auth client's tokens are plain bearer tokens, bound to no certificate.
        "tls_client_certificate_bound_access_tokens": False,
    }


def acr_values_supported(offered: tuple[str, ...]) -> list[str]:
    """The levels the clients' services sign in at (lowest first), as eHerkenning URIs and then as
    the eIDAS levels they meet: any client may ask in either form, and reads its `acr` in one."""
    levels = [LevelOfAssurance(level) for level in offered]
    return [level.uri for level in levels] + list(dict.fromkeys(EIDAS_OF[level] for level in levels))


def _request_object_encryption(provider: Provider) -> dict[str, list[str]]:
    """What request objects may be encrypted with: nothing without the broker's encryption key."""
    if provider.encryption_key is None:
        return {}
    return {
        "request_object_encryption_alg_values_supported": [REQUEST_OBJECT_ENCRYPTION_ALG],
        "request_object_encryption_enc_values_supported": [REQUEST_OBJECT_ENCRYPTION_ENC],
    }


def _methods(methods: Iterable[str], provider: Provider) -> list[str]:
    """The client authentication methods, tls_client_auth only behind a proxy that passes certificates."""
    off = set() if provider.settings.tls_client_certificate_header else {TlsClientAuth.CLIENT_AUTH_METHOD}
    return [method for method in methods if method not in off]


def _scope_claims() -> set[str]:
    return {name for names in SCOPE_CLAIMS.values() for name in names}
