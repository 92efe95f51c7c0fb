"""`flask --app wsgi ...` commands."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import IntegrityError

from broker import audit, models
from broker.audit_cli import audit_cli
from broker.catalogue_cli import eherkenning_cli
from broker.decide import SponsorCategory, register_day
from broker.extensions import db
from broker.keys_cli import keys_cli
from broker.registers_cli import groups_cli, labels_cli, mandates_cli
from broker.runtime import runtime
from broker.sponsor_export import MAX_NAME, ExportError, read_export
from config import ConfigError, Registry, Service, editing
from config.clients import AUTH_METHODS, Client
from config.portal_profiles import DEFAULT_PROFILE, PROFILES
from config.services import DEFAULT_MANDATES, ESTABLISHMENT_POLICIES, LEVELS, MANDATES, SPONSOR_CATEGORIES
from saml.identifiers import digits_problem
from saml.metadata import sp_metadata

saml_cli = AppGroup("saml", help="The SAML service provider.")


@saml_cli.command("metadata")
def print_metadata() -> None:
    """Print our signed SP metadata (to hand to an HM)."""
    state = runtime()
    now = state.upstream.clock()
    metadata = sp_metadata(state.upstream.saml(now), state.registry().services, now)
    click.echo(metadata.decode("utf-8"))


@click.command("purge")
@with_appcontext
def purge() -> None:
    """Delete expired flow state: requests, assertion IDs, codes, tokens, artifacts."""
    removed = models.purge_expired(runtime().upstream.clock())
    click.echo(f"removed {removed} expired rows")


clients_cli = AppGroup("clients", help="The portals (OpenID Connect clients) in BROKER_CONFIG.")
services_cli = AppGroup("services", help="The eHerkenning services in BROKER_CONFIG.")


@clients_cli.command("list")
def list_clients() -> None:
    """One line per client: id, services (comma-separated), authentication method, redirect URIs."""
    for client in runtime().registry().clients:
        uris, services = " ".join(client.redirect_uris), ",".join(client.services)
        click.echo(f"{client.client_id}\t{services}\t{client.token_endpoint_auth_method}\t{uris}")


_SERVICE_OPTION = click.option(
    "--service",
    "services",
    multiple=True,
    required=True,
    help="slug of a service the portal signs in for, repeatable",
)


@clients_cli.command("add")
@click.argument("client_id")
@_SERVICE_OPTION
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True, help="exact, repeatable")
@click.option(
    "--auth-method",
    type=click.Choice(AUTH_METHODS),
    default="client_secret_basic",
    show_default=True,
)
@click.option("--name", help="shown to people; default: the client id")
def add_client(
    client_id: str,
    services: tuple[str, ...],
    redirect_uris: tuple[str, ...],
    auth_method: str,
    name: str | None,
) -> None:
    """Register a portal; a new secret is printed once (the file keeps only its SHA-256)."""
    _apply(
        lambda path: editing.add_client(
            path, client_id, list(services), list(redirect_uris), auth_method, name
        ),
        "clients add",
        client_id,
        lambda registry: _client(registry.client(client_id)),
    )


@clients_cli.command("set-services")
@click.argument("client_id")
@_SERVICE_OPTION
def set_services(client_id: str, services: tuple[str, ...]) -> None:
    """Let a portal sign in for these services in place of those it signs in for now."""
    _apply(
        lambda path: editing.set_services(path, client_id, list(services)),
        "clients set-services",
        client_id,
        lambda registry: _client(registry.client(client_id)),
    )


@clients_cli.command("rotate-secret")
@click.argument("client_id")
def rotate_secret(client_id: str) -> None:
    """Give a client a new secret, printed once; the old one stops working when brokers reload the file."""
    _apply(
        lambda path: editing.rotate_secret(path, client_id),
        "clients rotate-secret",
        client_id,
        lambda registry: _client(registry.client(client_id)),
    )


@clients_cli.command("remove")
@click.argument("client_id")
def remove_client(client_id: str) -> None:
    """Remove a client."""
    _apply(
        lambda path: editing.remove_client(path, client_id),
        "clients remove",
        client_id,
        lambda registry: _client(registry.client(client_id)),
    )


@services_cli.command("list")
def list_services() -> None:
    """One line per service: slug, index, minimum level, establishment policy, portal profile,
    ServiceUUID, name."""
    for service in runtime().registry().services:
        click.echo(
            f"{service.slug}\t{service.index}\t{service.minimum_loa}\t{service.establishment}"
            f"\t{service.profile}\t{service.uuid}\t{service.name_en}"
        )


@services_cli.command("add")
@click.argument("slug")
@click.option("--uuid", "service_uuid", required=True, help="the ServiceUUID mandates are registered against")
@click.option("--index", type=int, required=True, help="its AttributeConsumingServiceIndex (1 or more)")
@click.option("--name-nl", required=True, help="display name in Dutch")
@click.option("--name-en", required=True, help="display name in English")
@click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default=DEFAULT_PROFILE,
    show_default=True,
    help="the portal behind it: fills in what is left out, refuses what that portal cannot work with",
)
@click.option("--minimum-loa", type=click.Choice(LEVELS), help="unless the profile sets it")
@click.option(
    "--mandate",
    "mandates",
    type=click.Choice(MANDATES),
    multiple=True,
    help="a mandate kind it admits, repeatable; default: the profile's, else own_company and representative",
)
@click.option(
    "--establishment",
    type=click.Choice(ESTABLISHMENT_POLICIES),
    help="required: every sign-in carries an establishment number (picked from the KvK register if need"
    " be); default: the profile's, else none",
)
@click.option(
    "--sponsor-category",
    "sponsor_categories",
    type=click.Choice(SPONSOR_CATEGORIES),
    multiple=True,
    help="with --mandate recognised_sponsor: a category that counts, repeatable; default: any",
)
def add_service(
    slug: str,
    service_uuid: str,
    index: int,
    name_nl: str,
    name_en: str,
    profile: str,
    minimum_loa: str | None,
    mandates: tuple[str, ...],
    establishment: str | None,
    sponsor_categories: tuple[str, ...],
) -> None:
    """Declare an eHerkenning service; our SP metadata lists it from then on."""
    defaults = PROFILES[profile].defaults
    minimum_loa = minimum_loa or defaults.get("minimum_loa")
    if minimum_loa is None:
        raise click.ClickException(f"--minimum-loa is needed: profile {profile} sets no level")
    service = Service(
        slug,
        service_uuid,
        index,
        minimum_loa,
        name_nl,
        name_en,
        mandates or tuple(defaults.get("mandates", DEFAULT_MANDATES)),
        establishment or defaults.get("establishment", "none"),
        sponsor_categories,
        profile,
    )
    _apply(
        lambda path: editing.add_service(path, service),
        "services add",
        slug,
        lambda registry: _service(registry.service(slug)),
    )
    click.echo("Hand the HM our new metadata (flask --app wsgi saml metadata) before portals use it.")


@services_cli.command("remove")
@click.argument("slug")
def remove_service(slug: str) -> None:
    """Remove a service that no client signs in for any more."""
    _apply(
        lambda path: editing.remove_service(path, slug),
        "services remove",
        slug,
        lambda registry: _service(registry.service(slug)),
    )


@services_cli.command("check")
def check_services() -> None:
    """Check the configuration file as it is now on disk, as start-up would read it."""
    config = runtime().settings.config
    try:
        registry = config.read()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{config.path}: {len(registry.services)} services, {len(registry.clients)} clients, valid")


_Entry = Mapping[str, Any] | None


def _apply(
    edit: Callable[[Path], editing.Edited], what: str, key: str, entry: Callable[[Registry], _Entry]
) -> None:
    """Make the edit, check the result as start-up would, and only then write it. The audit trail
    records `entry` before and after; that record is committed once the file is written."""
    config = runtime().settings.config
    try:
        before = entry(config.read())
        edited = edit(config.path)
        after = entry(config.parse(edited.text))
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    _record(what, key, before, after)
    editing.write(config.path, edited.text)
    db.session.commit()
    if edited.secret:
        click.echo(f"secret (shown once, keep it safe): {edited.secret}")
    unit = "second" if config.check_seconds == 1 else "seconds"
    click.echo(
        f"{config.path} updated. Running brokers apply it within {config.check_seconds} {unit}"
        " (no restart needed)."
    )


def _client(client: Client | None) -> _Entry:
    """A client as the trail keeps it: its secret only as the first characters of its hash."""
    if client is None:
        return None
    entry = {field.name: getattr(client, field.name) for field in dataclasses.fields(client)}
    entry["secret"] = client.secret and client.secret.sha256[:12]
    entry["jwks"] = client.jwks is not None
    return entry


def _service(service: Service | None) -> _Entry:
    return None if service is None else dataclasses.asdict(service)


def _record(what: str, key: str, before: _Entry, after: _Entry) -> None:
    """Add a change made by this command to the audit trail, in the session's transaction."""
    now = runtime().upstream.clock()
    audit.record_change(audit.ChangeRecord(now, audit.os_user(), what, key, before, after))


sponsors_cli = AppGroup("sponsors", help="The register of recognised sponsors (erkende referenten).")
_CATEGORY = click.Choice([c.value for c in SponsorCategory])
_DAY = click.DateTime(formats=["%Y-%m-%d"])


@sponsors_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--category", type=_CATEGORY, required=True, help="the category the file lists")
@click.option("--valid-from", type=_DAY, help="from when newly listed companies count (default: today)")
def import_sponsors(file: Path, category: str, valid_from: datetime | None) -> None:
    """Make a category of the register exactly the companies a CSV export of the public register
    lists; a file with any bad line is refused whole."""
    try:
        listed = read_export(file.read_bytes())
    except ExportError as error:
        problems = "\n".join(error.problems)
        raise click.ClickException(f"{file}: refused, nothing written:\n{problems}") from None
    now = runtime().upstream.clock()
    start = valid_from.date() if valid_from else register_day(now)
    before = models.sponsors(SponsorCategory(category))
    replaced = models.replace_category(SponsorCategory(category), listed, start, now)
    was, now_listed = {s.kvk_number for s in before}, {entry.kvk_number for entry in listed}
    _record(
        "sponsors import",
        category,
        {"companies": len(was), "removed": sorted(was - now_listed)},
        {
            "companies": len(now_listed),
            "added": sorted(now_listed - was),
            "valid_from": start.isoformat(),
            # Listed again: their end day is cleared.
            "reopened": sorted(s.kvk_number for s in before if s.kvk_number in now_listed and s.valid_to),
        },
    )
    db.session.commit()
    click.echo(f"{category}: {replaced.added} added, {replaced.removed} removed, {replaced.kept} kept")


@sponsors_cli.command("list")
@click.option("--category", type=_CATEGORY, help="only this category")
def list_sponsors(category: str | None) -> None:
    """One line per company and category: KvK number, category, valid from, valid to, how and when
    recorded, name."""
    for sponsor in models.sponsors(SponsorCategory(category) if category else None):
        until = sponsor.valid_to.isoformat() if sponsor.valid_to else "-"
        recorded = f"{sponsor.origin.value} {sponsor.recorded_at:%Y-%m-%dT%H:%MZ}"
        click.echo(
            f"{sponsor.kvk_number}\t{sponsor.category.value}\t{sponsor.valid_from.isoformat()}\t{until}"
            f"\t{recorded}\t{sponsor.name}"
        )


@sponsors_cli.command("add")
@click.argument("kvk_number")
@click.option("--category", type=_CATEGORY, required=True)
@click.option("--name", required=True, help="the organisation's name")
@click.option("--valid-from", type=_DAY, help="default: today")
@click.option("--valid-to", type=_DAY, help="the last day it counts; default: open-ended")
def add_sponsor(
    kvk_number: str, category: str, name: str, valid_from: datetime | None, valid_to: datetime | None
) -> None:
    """Add one company to the register in one category."""
    _check_kvk(kvk_number)
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise click.ClickException(f"--name must be 1 to {MAX_NAME} characters")
    now = runtime().upstream.clock()
    start = valid_from.date() if valid_from else register_day(now)
    end = valid_to.date() if valid_to else None
    if end is not None and end < start:
        raise click.ClickException(f"--valid-to {end} is before --valid-from {start}")
    already = click.ClickException(f"KvK number {kvk_number} is registered for {category} already")
    if any(r.category == category for r in models.registrations(kvk_number)):
        raise already
    try:
        before = _registered(kvk_number)
        models.add_sponsor(
            models.Sponsor(kvk_number, SponsorCategory(category), name, start, end, now, models.Origin.ADDED)
        )
        _record("sponsors add", kvk_number, before, _registered(kvk_number))
        db.session.commit()
    except IntegrityError:
        # Another run added the same row between the check above and this insert.
        db.session.rollback()
        raise already from None
    click.echo(f"added {kvk_number} for {category}, {_period(start, end)}")


@sponsors_cli.command("remove")
@click.argument("kvk_number")
@click.option("--category", type=_CATEGORY, help="only this category; default: every one")
def remove_sponsor(kvk_number: str, category: str | None) -> None:
    """Remove a company from the register."""
    _check_kvk(kvk_number)
    before = _registered(kvk_number)
    removed = models.remove_sponsor(kvk_number, SponsorCategory(category) if category else None)
    if not removed:
        raise click.ClickException(f"KvK number {kvk_number} is not in the register{_for(category)}")
    _record("sponsors remove", kvk_number, before, _registered(kvk_number))
    db.session.commit()
    click.echo(f"removed {kvk_number}{_for(category)}: {removed} rows")


def _registered(kvk_number: str) -> _Entry:
    """A company's rows in the register as the trail keeps them: per category, its period."""
    rows = models.registrations(kvk_number)
    return {
        r.category.value: {
            "valid_from": r.valid_from.isoformat(),
            "valid_to": r.valid_to and r.valid_to.isoformat(),
        }
        for r in rows
    } or None


def _check_kvk(kvk_number: str) -> None:
    problem = digits_problem(kvk_number, 8)
    if problem is not None:
        raise click.ClickException(f"KvK number {kvk_number!r}: {problem}")


def _period(start: date, end: date | None) -> str:
    return f"from {start}" + (f" to {end}" if end else ", open-ended")


def _for(category: str | None) -> str:
    return f" for {category}" if category else ""


def init_app(app: Flask) -> None:
    app.cli.add_command(saml_cli)
    app.cli.add_command(purge)
    app.cli.add_command(clients_cli)
    app.cli.add_command(services_cli)
    app.cli.add_command(sponsors_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(eherkenning_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(mandates_cli)
    app.cli.add_command(groups_cli)
    app.cli.add_command(labels_cli)
