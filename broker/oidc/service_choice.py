"""Which of its services a client's sign-in is for.

A client may sign in for several services: the same portal at two levels, or two forms with
different needs. An authorization request chooses among them:

- the scope `service:<slug>` names one (at most one such scope; it is no scope a token carries);
- `acr_values` lists the levels the client accepts, in order of preference (OpenID Connect Core
  §3.1.2.1), as eHerkenning or eIDAS URIs (`broker.oidc.levels`): the first of them that one of
  the services meets chooses the lowest service that meets it. A service meets its own level and
  every lower one; values that are no level of either kind are ignored, as the claim is voluntary;
- neither: the lowest service (of several at that level, the first the client lists).

The `claims` parameter's `acr` asks for levels as `acr_values` does (`broker.oidc.claims_request`).

A scope and `acr_values` together: the named service, which must meet one of the values. A
request no service of the client's can satisfy is refused before the user signs in: the HM
authenticates at the level the service catalogue fixes for a service, never higher on request.
"""

from __future__ import annotations

from collections.abc import Sequence

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError

from broker.oidc.levels import requested_level
from config.settings import Service
from saml.loa import LevelOfAssurance

SCOPE_PREFIX = "service:"


def choose_service(
    services: Sequence[Service],
    acr_values: str | None,
    scope: str | None,
    redirect_uri: str,
    asked_by: str = "acr_values",
) -> Service:
    """The service of `services` (lowest level first) a request with `acr_values` and `scope`
    is for; raises the OAuth error to send to `redirect_uri` when none of them will do, saying the
    levels came from `asked_by`."""
    named = [value[len(SCOPE_PREFIX) :] for value in (scope or "").split() if value.startswith(SCOPE_PREFIX)]
    if len(named) > 1:
        raise InvalidScopeError("scope names more than one service", redirect_uri=redirect_uri)
    candidates = [service for service in services if not named or service.slug == named[0]]
    if not candidates:
        raise InvalidScopeError(
            "scope names a service this client does not sign in for", redirect_uri=redirect_uri
        )
    levels = (requested_level(uri) for uri in (acr_values or "").split())
    wanted = [level for level in levels if level is not None]
    if not wanted:
        return candidates[0]
    for level in wanted:
        for service in candidates:
            if LevelOfAssurance(service.minimum_loa) >= level:
                return service
    offered = " ".join(dict.fromkeys(LevelOfAssurance(service.minimum_loa).uri for service in candidates))
    whose = "the service the scope names offers" if named else "this client's services offer"
    raise InvalidRequestError(f"{asked_by} asks for more than {whose} ({offered})", redirect_uri=redirect_uri)
