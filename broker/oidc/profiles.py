"""The claim sets a client is released, chosen per client (`claims_profile`), each a fixed contract.

broker-v1 is the broker's own set (`broker.oidc.claims.SCOPE_CLAIMS`). nlgov-v1 is the NL GOV
Assurance profile for OpenID Connect's: the person is `sub` (pairwise) with its `sub_id_type`,
and the company acted for is the `represents` claim, with its own `sub`, `sub_id_type` and `iss`.
Under a chain mandate (an intermediary acts for the company) the claims nest as the profile's
chain representation does: the intermediary's `represents` holds the company's. Every
eHerkenning sign-in is one person acting for a company, so `represents` is always there.

The acting person's name and date of birth (scope `profile`, for a service that requested them)
are top-level claims in both, under OpenID Connect's standard names.

Both are views of the same sign-in's claims (`broker.oidc.claims.sign_in_claims`), chosen when a
token or an answer goes out. A released set never changes: a change is a new version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from broker.oidc.claims import SCOPE_CLAIMS, released
from broker.oidc.levels import acr_claim
from config.clients import Client

BROKER_V1 = "broker-v1"
NLGOV_V1 = "nlgov-v1"

# The identifier types of the profile's `sub_id_type` (urn:nl-eid-gdi:1.0:id:…).
PSEUDONYM = "urn:nl-eid-gdi:1.0:id:pseudonym"
KVK_NUMBER = "urn:nl-eid-gdi:1.0:id:KvKnr"
RSIN = "urn:nl-eid-gdi:1.0:id:RSIN"
SUB_ID_TYPES = (PSEUDONYM, KVK_NUMBER, RSIN)

# nlgov-v1's top-level claims by scope; `kvk`, `mandate` and `organisation` add members to the
# company's `represents` instead (`_company`).
NLGOV_SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub", "sub_id_type", "acr", "auth_time", "represents"),
    "acting_subject": ("acting_subject",),
    "department": ("department",),
    "profile": SCOPE_CLAIMS["profile"],
}


def released_for(
    client: Client, claims: dict[str, Any], scopes: Iterable[str], issuer: str, requested: Iterable[str] = ()
) -> dict[str, Any]:
    """What `client` is released of a sign-in's `claims` under the granted `scopes`: its claim set,
    and `acr` in its format. The claims named in `requested` (the `claims` parameter's,
    `broker.oidc.claims_request`) come too, as the scopes its entry allows make them, when those
    scopes release them at all; a claim the granted scopes release stays as they make it."""
    view = _view(client, claims, set(scopes), issuer)
    wanted = set(requested) - set(view)
    if wanted:
        allowed = _view(client, claims, set(client.scopes), issuer)
        view |= {name: value for name, value in allowed.items() if name in wanted}
    if "acr" in view:
        view["acr"] = acr_claim(view["acr"], client.acr_format)
    return view


def _view(client: Client, claims: dict[str, Any], scopes: set[str], issuer: str) -> dict[str, Any]:
    return nlgov_v1(claims, scopes, issuer) if client.claims_profile == NLGOV_V1 else released(claims, scopes)


def nlgov_v1(claims: dict[str, Any], scopes: set[str], issuer: str) -> dict[str, Any]:
    """The nlgov-v1 claim set of a sign-in under `scopes`; `issuer` vouches for the parties."""
    view: dict[str, Any] = {
        "sub": claims["sub"],
        "sub_id_type": PSEUDONYM,
        "acr": claims["acr"],
        "auth_time": claims["auth_time"],
        "represents": _represents(claims, scopes, issuer),
    }
    for scope in ("acting_subject", "department", "profile"):
        if scope in scopes:
            view |= {name: claims[name] for name in NLGOV_SCOPE_CLAIMS[scope] if name in claims}
    return view


def _represents(claims: dict[str, Any], scopes: set[str], issuer: str) -> dict[str, Any]:
    """The company acted for; under a chain mandate, the intermediary representing it."""
    company = _company(claims, scopes, issuer)
    mandate = claims.get("mandate", {})
    if "intermediary_kvk_number" in mandate:
        return _party(mandate["intermediary_kvk_number"], KVK_NUMBER, issuer) | {"represents": company}
    if "intermediary_rsin" in mandate:
        return _party(mandate["intermediary_rsin"], RSIN, issuer) | {"represents": company}
    return company


def _company(claims: dict[str, Any], scopes: set[str], issuer: str) -> dict[str, Any]:
    """The company acted for, known by its KvK number, else its RSIN, else (a company known by a
    BSN, which is never released) a pseudonym for this client; with what the scopes add."""
    if "kvk_number" in claims:
        company = _party(claims["kvk_number"], KVK_NUMBER, issuer)
        if "kvk" in scopes and "rsin" in claims:
            # Its other identifier, as the profile's example of a chain representation shows it.
            company["alt_sub"] = _party(claims["rsin"], RSIN, issuer)
    elif "rsin" in claims:
        company = _party(claims["rsin"], RSIN, issuer)
    else:
        company = _party(claims["company_pseudonym"], PSEUDONYM, issuer)
    if "kvk" in scopes:
        found = {
            "name": claims.get("company_name"),
            "establishment_number": claims.get("establishment_number"),
            "establishment_source": claims.get("establishment_source"),
        }
        company |= {name: value for name, value in found.items() if value is not None}
    if "mandate" in scopes and "mandate" in claims:
        mandate = claims["mandate"]
        found = {
            "kind": mandate["kind"],
            "service_uuid": mandate.get("service_uuid"),
            "service_id": claims.get("eherkenning_service_id"),
            "local_mandate": mandate.get("local_mandate"),
        }
        company["mandate"] = {name: value for name, value in found.items() if value is not None}
    if "organisation" in scopes and "organisation_group" in claims:
        company["organisation_group"] = claims["organisation_group"]
    return company


def _party(identifier: str, kind: str, issuer: str) -> dict[str, Any]:
    return {"sub": identifier, "sub_id_type": kind, "iss": issuer}


def claims_supported() -> set[str]:
    """The top-level claims nlgov-v1 can release, for discovery."""
    return {name for names in NLGOV_SCOPE_CLAIMS.values() for name in names}
