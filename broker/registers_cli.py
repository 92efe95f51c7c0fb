"""`flask --app wsgi mandates|groups|labels …`: the registers admins keep beside eHerkenning.

Local mandates (what a representative may do at a service besides what eHerkenning says),
organisation groups (several KvK numbers of one organisation), and labels per person for
personal-account portals. Every change goes into the audit trail in the transaction that makes
it; a refused change leaves none.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from broker import audit, models
from broker.decide import register_day
from broker.extensions import db
from broker.mandate_import import MandateFileError, read_mandates
from broker.models.groups import MAX_GROUP_ID, MAX_GROUP_NAME
from broker.models.labels import MAX_LABEL, SUBJECT_LENGTH
from broker.models.mandates import MAX_WHY
from broker.runtime import runtime
from config import Registry
from config.portal_profiles import PROFILES
from saml.identifiers import digits_problem

_DAY = click.DateTime(formats=["%Y-%m-%d"])
_Entry = dict[str, object] | None


def _record(what: str, key: str, before: _Entry, after: _Entry) -> None:
    """Add a change made by this command to the audit trail, in the session's transaction."""
    now = runtime().upstream.clock()
    audit.record_change(audit.ChangeRecord(now, audit.os_user(), what, key, before, after))


def _check_digits(what: str, value: str, length: int) -> None:
    problem = digits_problem(value, length)
    if problem is not None:
        raise click.ClickException(f"{what} {value!r}: {problem}")


def _text(option: str, value: str, most: int) -> str:
    value = value.strip()
    if not value or len(value) > most or not value.isprintable():
        raise click.ClickException(f"{option} must be 1 to {most} printable characters")
    return value


# --- local mandates ---------------------------------------------------------------------------

mandates_cli = AppGroup("mandates", help="The register of local mandates, kept beside eHerkenning.")


@mandates_cli.command("add")
@click.argument("represented")
@click.argument("representative")
@click.option("--service", required=True, help="the slug of the service it is for")
@click.option("--establishment", help="the one establishment (12 digits) it is for; default: all")
@click.option("--valid-from", type=_DAY, help="the first day it holds (default: today)")
@click.option("--valid-to", type=_DAY, help="the last day it holds; default: open-ended")
@click.option("--why", required=True, help="why it is recorded (a contract, a request), for the register")
def add_mandate(
    represented: str,
    representative: str,
    service: str,
    establishment: str | None,
    valid_from: datetime | None,
    valid_to: datetime | None,
    why: str,
) -> None:
    """Record that REPRESENTATIVE (a KvK number) may act for REPRESENTED (a KvK number) at a service."""
    _check_digits("KvK number", represented, 8)
    _check_digits("KvK number", representative, 8)
    if represented == representative:
        raise click.ClickException("the representative's KvK number is the represented company's")
    registry = runtime().registry()
    _service(registry, service)
    if establishment is not None:
        _check_digits("--establishment", establishment, 12)
    now = runtime().upstream.clock()
    start = valid_from.date() if valid_from else register_day(now)
    end = valid_to.date() if valid_to else None
    if end is not None and end < start:
        raise click.ClickException(f"--valid-to {end} is before --valid-from {start}")
    mandate = models.NewMandate(
        represented, representative, service, establishment, start, end, _text("--why", why, MAX_WHY)
    )
    standing = models.standing_overlap(mandate)
    if standing is not None:
        raise click.ClickException(
            f"local mandate {standing.id} holds for this pair at {service} already ({_period(standing)}):"
            " revoke it first, or choose a period that does not overlap"
        )
    mandate_id = models.add_mandate(mandate, now, models.MandateOrigin.ADDED)
    recorded = models.recorded_mandate(mandate_id)
    assert recorded is not None  # added in this transaction
    _record("mandates add", str(mandate_id), None, recorded.entry())
    db.session.commit()
    click.echo(f"added local mandate {mandate_id}: {_describe(recorded)}")
    _note_unused(registry, service)


@mandates_cli.command("list")
@click.option("--service", help="only this service's")
@click.option("--kvk", "kvk_number", help="only those naming this KvK number, on either side")
def list_mandates(service: str | None, kvk_number: str | None) -> None:
    """One line per local mandate, in the order recorded: id, represented, representative, service,
    establishment, valid from, valid to, revoked at, how and when recorded, why."""
    for recorded in models.recorded_mandates(service, kvk_number):
        mandate = recorded.mandate
        revoked = f"{recorded.revoked_at:%Y-%m-%dT%H:%MZ}" if recorded.revoked_at else "-"
        click.echo(
            f"{recorded.id}\t{mandate.represented_kvk}\t{mandate.representative_kvk}\t{mandate.service}"
            f"\t{mandate.establishment or '-'}\t{mandate.valid_from.isoformat()}"
            f"\t{mandate.valid_to.isoformat() if mandate.valid_to else '-'}\t{revoked}"
            f"\t{recorded.origin.value} {recorded.recorded_at:%Y-%m-%dT%H:%MZ}\t{mandate.why}"
        )


@mandates_cli.command("revoke")
@click.argument("mandate_id", type=int)
def revoke_mandate(mandate_id: int) -> None:
    """Revoke local mandate MANDATE_ID from now on; the register keeps it, revoked."""
    before = models.recorded_mandate(mandate_id)
    if before is None:
        raise click.ClickException(f"there is no local mandate {mandate_id}")
    now = runtime().upstream.clock()
    if not models.revoke_mandate(mandate_id, now):
        raise click.ClickException(f"local mandate {mandate_id} is revoked already")
    after = models.recorded_mandate(mandate_id)
    assert after is not None
    _record("mandates revoke", str(mandate_id), before.entry(), after.entry())
    db.session.commit()
    click.echo(f"revoked local mandate {mandate_id}: {_describe(after)}")


@mandates_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_mandates(file: Path) -> None:
    """Add the local mandates a CSV file lists (columns represented_kvk_number,
    representative_kvk_number, service, establishment, valid_from, valid_to, why); a file with any
    bad line, or one overlapping a local mandate in the register, is refused whole."""
    registry = runtime().registry()
    try:
        lines = read_mandates(file.read_bytes(), [service.slug for service in registry.services])
    except MandateFileError as error:
        raise click.ClickException(
            f"{file}: refused, nothing written:\n" + "\n".join(error.problems)
        ) from None
    clashes = [
        f"line {line.number}: overlaps local mandate {standing.id} ({_period(standing)})"
        for line in lines
        if (standing := models.standing_overlap(line.mandate)) is not None
    ]
    if clashes:
        raise click.ClickException(f"{file}: refused, nothing written:\n" + "\n".join(clashes))
    now = runtime().upstream.clock()
    for line in lines:
        mandate_id = models.add_mandate(line.mandate, now, models.MandateOrigin.IMPORTED)
        recorded = models.recorded_mandate(mandate_id)
        assert recorded is not None
        _record("mandates import", str(mandate_id), None, recorded.entry())
    db.session.commit()
    click.echo(f"{file}: {len(lines)} local mandates added")
    for slug in sorted({line.mandate.service for line in lines}):
        _note_unused(registry, slug)


def _service(registry: Registry, slug: str) -> None:
    if registry.service(slug) is None:
        raise click.ClickException(f"--service {slug!r} is not in the configuration")


def _note_unused(registry: Registry, slug: str) -> None:
    service = registry.service(slug)
    if service is not None and service.local_mandate == "none":
        click.echo(f"note: service {slug} does not consult local mandates (local_mandate: none)")


def _period(recorded: models.RecordedMandate) -> str:
    mandate = recorded.mandate
    return f"from {mandate.valid_from}" + (f" to {mandate.valid_to}" if mandate.valid_to else ", open-ended")


def _describe(recorded: models.RecordedMandate) -> str:
    mandate = recorded.mandate
    where = f"establishment {mandate.establishment}" if mandate.establishment else "every establishment"
    return (
        f"{mandate.representative_kvk} for {mandate.represented_kvk} at {mandate.service}, {where},"
        f" {_period(recorded)}"
    )


# --- organisation groups ----------------------------------------------------------------------

groups_cli = AppGroup("groups", help="Organisation groups: several KvK numbers of one organisation.")
_GROUP_ID = re.compile(rf"^[a-z0-9][a-z0-9-]{{0,{MAX_GROUP_ID - 1}}}$")


@groups_cli.command("add")
@click.argument("group_id")
@click.option("--name", required=True, help="the organisation's name, as portals show it")
def add_group(group_id: str, name: str) -> None:
    """Add an empty group; GROUP_ID (lower-case letters, digits, dashes) is what portals key on, and
    never changes."""
    if not _GROUP_ID.match(group_id):
        raise click.ClickException(
            f"group id {group_id!r} must be 1 to {MAX_GROUP_ID} lower-case letters, digits and dashes"
        )
    name = _text("--name", name, MAX_GROUP_NAME)
    exists = click.ClickException(f"group {group_id} exists already")
    if models.group(group_id) is not None:
        raise exists
    try:
        models.add_group(group_id, name, runtime().upstream.clock())
        _record("groups add", group_id, None, _group_entry(group_id))
        db.session.commit()
    except IntegrityError:
        # Another run added it between the check above and this insert.
        db.session.rollback()
        raise exists from None
    click.echo(f"added group {group_id} ({name})")


@groups_cli.command("list")
def list_groups() -> None:
    """One line per group: id, name, its members' KvK numbers."""
    for found in models.groups():
        click.echo(f"{found.id}\t{found.name}\t{' '.join(found.members) or '-'}")


@groups_cli.command("remove")
@click.argument("group_id")
def remove_group(group_id: str) -> None:
    """Remove a group and its members: their sign-ins carry no group from then on."""
    before = _existing_group(group_id)
    models.remove_group(group_id)
    _record("groups remove", group_id, before, None)
    db.session.commit()
    click.echo(f"removed group {group_id}")


@groups_cli.command("add-member")
@click.argument("group_id")
@click.argument("kvk_number")
def add_member(group_id: str, kvk_number: str) -> None:
    """Put a KvK number in a group (a number is in one group at most)."""
    _check_digits("KvK number", kvk_number, 8)
    before = _existing_group(group_id)
    taken = models.member_of(kvk_number)
    if taken is not None:
        raise click.ClickException(f"KvK number {kvk_number} is in group {taken} already")
    try:
        models.add_member(group_id, kvk_number, runtime().upstream.clock())
        _record("groups add-member", group_id, before, _group_entry(group_id))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException(f"KvK number {kvk_number} is in a group already") from None
    click.echo(f"added {kvk_number} to group {group_id}")


@groups_cli.command("remove-member")
@click.argument("group_id")
@click.argument("kvk_number")
def remove_member(group_id: str, kvk_number: str) -> None:
    """Take a KvK number out of a group."""
    before = _existing_group(group_id)
    if not models.remove_member(group_id, kvk_number):
        raise click.ClickException(f"KvK number {kvk_number} is not in group {group_id}")
    _record("groups remove-member", group_id, before, _group_entry(group_id))
    db.session.commit()
    click.echo(f"removed {kvk_number} from group {group_id}")


def _group_entry(group_id: str) -> _Entry:
    found = models.group(group_id)
    return None if found is None else found.entry()


def _existing_group(group_id: str) -> dict[str, object]:
    entry = _group_entry(group_id)
    if entry is None:
        raise click.ClickException(f"there is no group {group_id!r}")
    return entry


# --- labels per person --------------------------------------------------------------------------

labels_cli = AppGroup("labels", help="Labels per person (department) for personal-account portals.")
_SUBJECT = re.compile(rf"^[A-Za-z0-9_-]{{{SUBJECT_LENGTH}}}$")


@labels_cli.command("set")
@click.argument("client_id")
@click.argument("subject")
@click.argument("label")
def set_label(client_id: str, subject: str, label: str) -> None:
    """Give the person CLIENT_ID knows as SUBJECT (the `sub` it received at their first sign-in) the
    label LABEL, released from their next sign-in as `department`."""
    registry = runtime().registry()
    client = registry.client(client_id)
    if client is None:
        raise click.ClickException(f"there is no client {client_id!r}")
    services = registry.services_of(client)
    if not any(PROFILES[service.profile].labels for service in services):
        listed = ", ".join(f"{service.slug} (profile {service.profile})" for service in services)
        which = (
            f"service {listed}, which releases" if len(services) == 1 else f"services {listed}, which release"
        )
        raise click.ClickException(
            f"client {client_id} signs in for {which} no labels: only services of profile personal do"
        )
    if not _SUBJECT.match(subject):
        raise click.ClickException(
            f"subject {subject!r} is not a subject the broker sends ({SUBJECT_LENGTH} characters of"
            " letters, digits, '-' and '_')"
        )
    label = _text("LABEL", label, MAX_LABEL)
    key = f"{client_id} {subject}"
    before = models.label_of(client_id, subject)
    models.set_label(client_id, subject, label, runtime().upstream.clock())
    _record("labels set", key, None if before is None else {"label": before}, {"label": label})
    db.session.commit()
    click.echo(f"{client_id}: {subject} is labelled {label!r} from the next sign-in")


@labels_cli.command("list")
@click.option("--client", "client_id", help="only this client's")
def list_labels(client_id: str | None) -> None:
    """One line per label: client, subject, when set, label."""
    for found in models.labels(client_id):
        click.echo(f"{found.client_id}\t{found.subject}\t{found.set_at:%Y-%m-%dT%H:%MZ}\t{found.label}")


@labels_cli.command("remove")
@click.argument("client_id")
@click.argument("subject")
def remove_label(client_id: str, subject: str) -> None:
    """Remove a person's label: their sign-ins carry no department from then on."""
    before = models.label_of(client_id, subject)
    if before is None or not models.remove_label(client_id, subject):
        raise click.ClickException(f"{client_id} has no label for {subject}")
    _record("labels remove", f"{client_id} {subject}", {"label": before}, None)
    db.session.commit()
    click.echo(f"removed the label of {subject} at {client_id}")
