"""The broker's YAML configuration file (`BROKER_CONFIG`), and its services section."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import yaml

from config.portal_profiles import DEFAULT_PROFILE, PROFILES, PortalProfile
from config.settings import ConfigError, Service

LEVELS = ("loa2", "loa2plus", "loa3", "loa4")
# The mandate kinds a service can admit; recognised_sponsor: a representative only for a company in
# the register of recognised sponsors (where representative is not admitted as such).
MANDATES = ("own_company", "representative", "recognised_sponsor")
DEFAULT_MANDATES = ("own_company", "representative")
# The register's categories (broker.decide.SponsorCategory).
SPONSOR_CATEGORIES = ("labour", "knowledge_migrant", "research", "study", "exchange")
# Whether a service needs an establishment number with every sign-in.
ESTABLISHMENT_POLICIES = ("none", "required")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def read_document(path: Path) -> dict[str, Any]:
    """The configuration file's top-level mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from exc
    return parse_document(path, text)


def parse_document(path: Path, text: str) -> dict[str, Any]:
    """The top-level mapping of configuration `text` meant for `path`."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from exc
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: must be a mapping with 'services' and 'clients'")
    return document


def load_services(path: Path, document: dict[str, Any]) -> tuple[Service, ...]:
    """Check the `services:` list of the file at `path`; errors name the file, entry and field."""
    entries = document.get("services")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: 'services' must be a non-empty list")
    services = tuple(_service(path, n, entry) for n, entry in enumerate(entries))
    _unique(path, services, "slug")
    _unique(path, services, "uuid")
    _unique(path, services, "index")
    return services


def _service(path: Path, n: int, entry: Any) -> Service:
    where = f"{path}: services[{n}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a mapping")
    where = f"{path}: services[{n}] ({entry.get('slug', '?')})"
    profile = _profile(where, entry)
    entry = {**profile.defaults, **entry}

    def field(name: str) -> Any:
        if name not in entry:
            raise ConfigError(f"{where}: field '{name}' is missing")
        return entry[name]

    slug = str(field("slug"))
    if not _SLUG.match(slug):
        raise ConfigError(f"{where}: field 'slug' must be lower-case letters, digits and dashes")
    try:
        service_uuid = str(uuid.UUID(str(field("uuid"))))
    except ValueError as exc:
        raise ConfigError(f"{where}: field 'uuid' is not a UUID") from exc
    index = field("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 1:
        raise ConfigError(f"{where}: field 'index' must be a whole number of at least 1")
    level = str(field("minimum_loa"))
    if level not in LEVELS:
        raise ConfigError(f"{where}: field 'minimum_loa' must be one of {', '.join(LEVELS)}")
    names = field("name")
    if not isinstance(names, dict) or not names.get("nl") or not names.get("en"):
        raise ConfigError(f"{where}: field 'name' must give both 'nl' and 'en'")
    mandates = entry.get("mandates", list(DEFAULT_MANDATES))
    if not isinstance(mandates, list) or not mandates or not set(mandates) <= set(MANDATES):
        raise ConfigError(f"{where}: field 'mandates' must list one or more of {', '.join(MANDATES)}")
    sponsor_categories = _sponsor_categories(where, entry, mandates)
    establishment = entry.get("establishment", "none")
    if establishment not in ESTABLISHMENT_POLICIES:
        choices = ", ".join(ESTABLISHMENT_POLICIES)
        raise ConfigError(f"{where}: field 'establishment' must be one of {choices}")
    service = Service(
        slug=slug,
        uuid=service_uuid,
        index=index,
        minimum_loa=level,
        name_nl=str(names["nl"]),
        name_en=str(names["en"]),
        mandates=tuple(str(m) for m in mandates),
        establishment=establishment,
        sponsor_categories=sponsor_categories,
        profile=profile.name,
    )
    refusal = _profile_refusal(profile, service)
    if refusal is not None:
        name, why = refusal
        raise ConfigError(f"{where}: field '{name}' {why} for profile {profile.name} ({profile.portal})")
    return service


def _profile(where: str, entry: dict[str, Any]) -> PortalProfile:
    name = entry.get("profile", DEFAULT_PROFILE)
    if name not in PROFILES:
        raise ConfigError(f"{where}: field 'profile' must be one of {', '.join(PROFILES)}")
    return PROFILES[name]


def _profile_refusal(profile: PortalProfile, service: Service) -> tuple[str, str] | None:
    """The first field of `service` whose value the profile's portal cannot work with, and why."""
    if profile.lowest_loa and LEVELS.index(service.minimum_loa) < LEVELS.index(profile.lowest_loa):
        return "minimum_loa", f"must be {profile.lowest_loa} or higher"
    if profile.mandates_allowed is not None and not set(service.mandates) <= profile.mandates_allowed:
        return "mandates", f"may list only {', '.join(sorted(profile.mandates_allowed))}"
    if not profile.mandates_needed <= set(service.mandates):
        return "mandates", f"must include {', '.join(sorted(profile.mandates_needed))}"
    if profile.establishment and service.establishment != profile.establishment:
        return "establishment", f"must be {profile.establishment}"
    return None


def _sponsor_categories(where: str, entry: dict[str, Any], mandates: list[Any]) -> tuple[str, ...]:
    """The categories of recognised sponsor a service admits (none listed: any)."""
    if "sponsor_categories" not in entry:
        return ()
    categories = entry["sponsor_categories"]
    if "recognised_sponsor" not in mandates:
        raise ConfigError(f"{where}: field 'sponsor_categories' needs recognised_sponsor in 'mandates'")
    if not isinstance(categories, list) or not categories or not set(categories) <= set(SPONSOR_CATEGORIES):
        choices = ", ".join(SPONSOR_CATEGORIES)
        raise ConfigError(f"{where}: field 'sponsor_categories' must list one or more of {choices}")
    return tuple(str(c) for c in categories)


def _unique(path: Path, services: tuple[Service, ...], attribute: str) -> None:
    seen: set[object] = set()
    for service in services:
        value = getattr(service, attribute)
        if value in seen:
            raise ConfigError(f"{path}: services ({service.slug}): field '{attribute}' repeats {value!r}")
        seen.add(value)
