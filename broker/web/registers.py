"""The registers admins keep beside eHerkenning, read at the return from the HM only where they
can matter: the usual sign-in asks nothing of them.

Local mandates, for a representative at a service that consults them (before the decision);
the organisation group of the company acted for, for a client that asks for scope
`organisation`; the person's label, for a client of the `personal` profile that asks for scope
`department`. Each is one read on a primary key or index.
"""

from __future__ import annotations

from typing import Any

from broker import models
from broker.decide import LocalMandate, ServicePolicy, needs_local_mandates
from broker.oidc.claims import with_registers
from broker.web.answer import Authorization
from config.portal_profiles import PROFILES
from saml.identity import EherkenningIdentity


def local_mandates(
    identity: EherkenningIdentity, policy: ServicePolicy, service: str
) -> tuple[LocalMandate, ...] | None:
    """The local mandates of the representative's pair of companies at `service` (its slug), when
    the decision depends on them; None otherwise."""
    intermediary, represented = identity.intermediary, identity.kvk_number
    if not needs_local_mandates(identity, policy) or intermediary is None or represented is None:
        return None
    return models.local_mandates(represented, intermediary.value, service)


def with_register_claims(authorized: Authorization, claims: dict[str, Any]) -> dict[str, Any]:
    """`claims` with the organisation group and the person's label, where the client asks for them
    (the scopes it is granted) and the registers hold them."""
    client = authorized.client
    scopes = client.get_allowed_scope(authorized.request.payload.scope).split()
    group = None
    if "organisation" in scopes and "kvk_number" in claims:
        found = models.group_of(claims["kvk_number"])
        group = None if found is None else found.claim()
    department = None
    if "department" in scopes and PROFILES[authorized.service.profile].labels:
        department = models.label_of(client.get_client_id(), claims["sub"])
    return with_registers(claims, group, department)
