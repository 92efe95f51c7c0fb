"""The provider's metadata (OpenID Connect Discovery 1.0, RFC 8414), with what the NL GOV
Assurance profile asks of it: served at /.well-known/openid-configuration and at
/.well-known/oauth-authorization-server alike.

`acr_values_supported` lists the levels of the services clients sign in for: what a sign-in can be
for (`broker.oidc.service_choice`). A scope naming a service (`service:<slug>`) is not listed in
`scopes_supported`: each client knows its own.

Request objects are not supported yet, so the metadata announces no algorithms for them and says
`request_parameter_supported: false`.
"""

from __future__ import annotations

from typing import Any

from broker.oidc import profiles
from broker.oidc.claims import SCOPE_CLAIMS
from broker.oidc.introspection import Introspection, Revocation
from broker.oidc.levels import EIDAS_OF
from broker.oidc.provider import Provider
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
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": signing,
        "introspection_endpoint_auth_methods_supported": list(Introspection.CLIENT_AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": signing,
        "revocation_endpoint_auth_methods_supported": list(Revocation.CLIENT_AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": signing,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(SCOPE_CLAIMS),
        "claims_supported": sorted(_TOKEN_CLAIMS | _scope_claims() | profiles.claims_supported()),
        "claim_types_supported": ["normal"],
        "acr_values_supported": acr_values_supported(provider.registry().offered_levels()),
        "ui_locales_supported": ["nl", "en"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }


def acr_values_supported(offered: tuple[str, ...]) -> list[str]:
    """The levels the clients' services sign in at (lowest first), as eHerkenning URIs and then as
    the eIDAS levels they meet: any client may ask in either form, and reads its `acr` in one."""
    levels = [LevelOfAssurance(level) for level in offered]
    return [level.uri for level in levels] + list(dict.fromkeys(EIDAS_OF[level] for level in levels))


def _scope_claims() -> set[str]:
    return {name for names in SCOPE_CLAIMS.values() for name in names}
