"""The broker's YAML configuration file (`BROKER_CONFIG`), and its services section."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from config.catalogue_entry import (
    DEFAULT_ENTITY_TYPES,
    DESCRIPTION_LIMIT,
    ENTITY_TYPES,
    NAME_LIMIT,
    PURPOSE_LIMIT,
    REQUESTABLE,
    URL_LIMIT,
    CatalogueEntry,
    RequestedAttribute,
)
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
# Whether a representative needs a current local mandate from the broker's register (required), is
# restricted further by one's establishment (narrow), or neither (none).
LOCAL_MANDATE_POLICIES = ("none", "narrow", "required")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_OIN = re.compile(r"[0-9]{20}")


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
    _check_instance_uuids(path, services)
    return services


def catalogue_gaps(path: Path, services: Sequence[Service], hm_ids: Sequence[str]) -> tuple[str, ...]:
    """What the service catalogue cannot do without and the file leaves out or makes too long, one
    message per service and field; `hm_ids`: BROKER_HM_ID's."""
    gaps = []
    for n, service in enumerate(services):
        where = f"{path}: services[{n}] ({service.slug})"
        entry = service.catalogue
        for lang, name in (("nl", service.name_nl), ("en", service.name_en)):
            if len(name) > NAME_LIMIT:
                gaps.append(
                    f"{where}: field 'name' ({lang}) has {len(name)} characters; the catalogue allows"
                    f" {NAME_LIMIT}"
                )
        missing = [
            field
            for field, value in (
                ("description", entry.description_nl),
                ("service_url", entry.service_url),
                ("privacy_policy_url", entry.privacy_policy_url),
                ("instance_uuid", entry.instance_uuid),
            )
            if not value
        ]
        gaps += [f"{where}: field '{field}' is missing: the service catalogue needs it" for field in missing]
        if not entry.hm_ids and not hm_ids:
            gaps.append(
                f"{where}: field 'hm_ids' is missing and BROKER_HM_ID is not set: the HM's OIN is needed"
            )
    return tuple(gaps)


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
    local_mandate = _local_mandate(where, entry, mandates)
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
        catalogue=_catalogue_entry(where, entry, service_uuid),
        local_mandate=local_mandate,
        hms=_hm_names(where, entry),
    )
    refusal = _profile_refusal(profile, service)
    if refusal is not None:
        name, why = refusal
        raise ConfigError(f"{where}: field '{name}' {why} for profile {profile.name} ({profile.portal})")
    return service


def _hm_names(where: str, entry: Mapping[str, Any]) -> tuple[str, ...]:
    value = entry.get("hms", [])
    if not isinstance(value, list) or not all(isinstance(name, str) and name for name in value):
        raise ConfigError(f"{where}: field 'hms' must list the names of HMs (BROKER_HMS)")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}: field 'hms' repeats an HM")
    return tuple(value)


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
    if profile.kvk_number_always and any("KvKnr" not in types for types in service.catalogue.entity_types):
        return "entity_types", "must include KvKnr in every set"
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


def _local_mandate(where: str, entry: dict[str, Any], mandates: list[Any]) -> str:
    """Whether the service consults the register of local mandates for a representative."""
    policy = entry.get("local_mandate", "none")
    if policy not in LOCAL_MANDATE_POLICIES:
        choices = ", ".join(LOCAL_MANDATE_POLICIES)
        raise ConfigError(f"{where}: field 'local_mandate' must be one of {choices}")
    if policy != "none" and not {"representative", "recognised_sponsor"} & set(mandates):
        raise ConfigError(
            f"{where}: field 'local_mandate' needs representative or recognised_sponsor in 'mandates'"
        )
    return str(policy)


def _unique(path: Path, services: tuple[Service, ...], attribute: str) -> None:
    seen: set[object] = set()
    for service in services:
        value = getattr(service, attribute)
        if value in seen:
            raise ConfigError(f"{path}: services ({service.slug}): field '{attribute}' repeats {value!r}")
        seen.add(value)


def _catalogue_entry(where: str, entry: Mapping[str, Any], service_uuid: str) -> CatalogueEntry:
    """The catalogue fields of one service entry; ConfigError names `where` and the field."""
    description = _bilingual(where, entry, "description", DESCRIPTION_LIMIT)
    instance_uuid = ""
    if "instance_uuid" in entry:
        try:
            instance_uuid = str(uuid.UUID(str(entry["instance_uuid"])))
        except ValueError:
            raise ConfigError(f"{where}: field 'instance_uuid' is not a UUID") from None
        if instance_uuid == service_uuid:
            raise ConfigError(f"{where}: field 'instance_uuid' must differ from the service's 'uuid'")
    return CatalogueEntry(
        description_nl=description[0],
        description_en=description[1],
        service_url=_url(where, entry, "service_url"),
        privacy_policy_url=_url(where, entry, "privacy_policy_url"),
        instance_uuid=instance_uuid,
        requested_attributes=_requested_attributes(where, entry),
        entity_types=_entity_types(where, entry),
        establishment_restrictions=_flag(where, entry, "establishment_restrictions", True),
        public=_flag(where, entry, "public", True),
        hm_ids=_hm_ids(where, entry),
    )


def _check_instance_uuids(path: Path, services: Sequence[Service]) -> None:
    """Every instance UUID once, and never one of the services' own UUIDs."""
    service_uuids = {service.uuid for service in services}
    seen: set[str] = set()
    for n, service in enumerate(services):
        value = service.catalogue.instance_uuid
        if not value:
            continue
        if value in seen or value in service_uuids:
            raise ConfigError(
                f"{path}: services[{n}] ({service.slug}): field 'instance_uuid' repeats {value!r}"
                " (each service instance needs a UUID of its own)"
            )
        seen.add(value)


def _bilingual(where: str, entry: Mapping[str, Any], field: str, limit: int) -> tuple[str, str]:
    if field not in entry:
        return "", ""
    return _texts(f"{where}: field '{field}'", entry[field], limit)


def _texts(what: str, value: Any, limit: int) -> tuple[str, str]:
    """Dutch and English texts of at most `limit` characters."""
    if not isinstance(value, dict) or not all(isinstance(value.get(lang), str) for lang in ("nl", "en")):
        raise ConfigError(f"{what} must give both 'nl' and 'en'")
    texts = (value["nl"].strip(), value["en"].strip())
    for lang, text in zip(("nl", "en"), texts, strict=True):
        if not text:
            raise ConfigError(f"{what} ({lang}) is empty")
        if len(text) > limit:
            raise ConfigError(f"{what} ({lang}) has {len(text)} characters; at most {limit} are allowed")
    return texts


def _url(where: str, entry: Mapping[str, Any], field: str) -> str:
    if field not in entry:
        return ""
    value = entry[field]
    try:
        host = urlsplit(value).hostname if isinstance(value, str) and value.startswith("https://") else None
    except ValueError:
        host = None
    if not host or any(char.isspace() for char in value) or len(value) > URL_LIMIT:
        raise ConfigError(
            f"{where}: field '{field}' must be an https:// URL of at most {URL_LIMIT} characters"
        )
    return str(value)


def _requested_attributes(where: str, entry: Mapping[str, Any]) -> tuple[RequestedAttribute, ...]:
    value = entry.get("requested_attributes", [])
    if not isinstance(value, list):
        raise ConfigError(f"{where}: field 'requested_attributes' must be a list")
    found: list[RequestedAttribute] = []
    for n, item in enumerate(value):
        what = f"{where}: field 'requested_attributes[{n}]'"
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or name not in REQUESTABLE:
            raise ConfigError(f"{what}: 'name' must be one of {', '.join(REQUESTABLE)}")
        if any(attribute.name == name for attribute in found):
            raise ConfigError(f"{what}: {name} is requested twice")
        if "purpose" not in item:
            raise ConfigError(f"{what} ({name}): 'purpose' is missing: say why the service needs it")
        purpose = _texts(f"{what} ({name}): 'purpose'", item["purpose"], PURPOSE_LIMIT)
        found.append(RequestedAttribute(name, *purpose))
    return tuple(found)


def _entity_types(where: str, entry: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    if "entity_types" not in entry:
        return DEFAULT_ENTITY_TYPES
    value = entry["entity_types"]
    if not isinstance(value, list) or not value or not all(_entity_type_set(s) for s in value):
        choices = ", ".join(ENTITY_TYPES)
        raise ConfigError(f"{where}: field 'entity_types' must list one or more sets, each of {choices}")
    sets = tuple(tuple(s) for s in value)
    if any(len(set(s)) != len(s) for s in sets) or len({frozenset(s) for s in sets}) != len(sets):
        raise ConfigError(f"{where}: field 'entity_types' repeats a type in a set, or a set")
    return sets


def _entity_type_set(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, str) and t in ENTITY_TYPES for t in value)
    )


def _flag(where: str, entry: Mapping[str, Any], field: str, default: bool) -> bool:
    value = entry.get(field, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: field '{field}' must be true or false")
    return value


def _hm_ids(where: str, entry: Mapping[str, Any]) -> tuple[str, ...]:
    value = entry.get("hm_ids", [])
    # OINs in quotes: YAML reads 20 bare digits as a number and drops the leading zeros.
    if not isinstance(value, list) or not all(isinstance(v, str) and _OIN.fullmatch(v) for v in value):
        raise ConfigError(f"{where}: field 'hm_ids' must list OINs: 20 digits each, in quotes")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}: field 'hm_ids' repeats an OIN")
    return tuple(value)
