"""Portal profiles: what a known portal needs from the service it signs its users in for.

A service may name the profile of the portal behind it. The profile fills in the fields the entry
leaves out, and refuses values that portal cannot work with, so a typo in the configuration
cannot quietly admit a representative to the IND or leave OLO without an establishment number.
`custom`, the default, presets and checks nothing; `personal` is for portals with an account per
person. `config.services` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PortalProfile:
    """One portal's needs: the values it fills in, and the limits on those a service sets itself."""

    name: str
    portal: str
    # Field → value for an entry that leaves the field out.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    lowest_loa: str | None = None
    # The mandate kinds the portal can take (None: any), and those it cannot do without.
    mandates_allowed: frozenset[str] | None = None
    mandates_needed: frozenset[str] = frozenset()
    establishment: str | None = None
    # Whether every sign-in must name the company by its KvK number (each of the service's entity_types).
    kvk_number_always: bool = False
    # Whether the portal keeps an account per person and reads a label for it (claim `department`,
    # from the broker's register of labels).
    labels: bool = False


PROFILES: dict[str, PortalProfile] = {
    profile.name: profile
    for profile in (
        PortalProfile("custom", "any portal"),
        # EH3; the company itself, or a representative only for a recognised sponsor.
        PortalProfile(
            "ind",
            "IND Portaal Zakelijk",
            defaults={"minimum_loa": "loa3", "mandates": ["own_company", "recognised_sponsor"]},
            lowest_loa="loa3",
            mandates_allowed=frozenset({"own_company", "recognised_sponsor"}),
            mandates_needed=frozenset({"own_company"}),
            kvk_number_always=True,
        ),
        # An establishment number with every application; mandated applicants apply too.
        PortalProfile(
            "olo",
            "Omgevingsloket OLO",
            defaults={"establishment": "required", "mandates": ["own_company", "representative"]},
            mandates_needed=frozenset({"own_company", "representative"}),
            establishment="required",
            kvk_number_always=True,
        ),
        # One person, one account: own-company sign-ins only, `sub` keyed on the person, and a
        # department label per account from the broker's register of labels.
        PortalProfile(
            "personal",
            "personal-account portal (such as a municipal Handelsregister viewer)",
            defaults={"mandates": ["own_company"]},
            mandates_allowed=frozenset({"own_company"}),
            mandates_needed=frozenset({"own_company"}),
            labels=True,
        ),
    )
}
DEFAULT_PROFILE = "custom"
