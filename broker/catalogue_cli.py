"""`flask --app wsgi eherkenning …`: our service catalogue, and the self-check before going live."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from lxml import etree

from broker import audit, catalogue, models
from broker.explain import explain, explain_decision
from broker.extensions import db
from broker.hm_metadata import LiveHm
from broker.hms import hms
from broker.models.check_failures import RETENTION
from broker.runtime import runtime
from config.catalogue_entry import CATALOGUE_ENVIRONMENTS
from saml.self_check import Level
from saml.xml import format_instant

eherkenning_cli = AppGroup(
    "eherkenning", help="Going live with an HM: our service catalogue, a self-check, the HM's metadata."
)
_ENVIRONMENT = click.option(
    "--env",
    "environment",
    type=click.Choice(list(CATALOGUE_ENVIRONMENTS)),
    help="the HM environment it is for; default: BROKER_CATALOGUE_ENV",
)


@eherkenning_cli.command("catalogue")
@_ENVIRONMENT
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write it to this file instead of printing it",
)
def make_catalogue(environment: str | None, out: Path | None) -> None:
    """Our signed service catalogue, for every configured service, to send to the HM."""
    try:
        made = catalogue.make(environment or runtime().settings.saml.catalogue_environment)
    except catalogue.CatalogueIncomplete as incomplete:
        raise click.ClickException(
            "the service catalogue cannot be made:\n" + "\n".join(incomplete.gaps)
        ) from None
    note = f"{made.version} ({'new: its content changed' if made.changed else 'unchanged'})"
    if out is None:
        click.echo(made.xml.decode("utf-8"))
        click.echo(note, err=True)
    else:
        try:
            out.write_bytes(made.xml)
        except OSError as exc:
            raise click.ClickException(f"{out}: cannot write: {exc.strerror}") from None
        click.echo(f"{out}: {note}")
    # Numbered only once it is out: a catalogue that could not be written keeps no number.
    db.session.commit()


@eherkenning_cli.command("check")
@_ENVIRONMENT
@click.option(
    "--hm-metadata",
    "other_hm_metadata",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="another HM's metadata to examine as well (repeatable)",
)
@click.option(
    "--xsd",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help=f"a folder with {catalogue.METADATA_SCHEMA} and {catalogue.CATALOGUE_SCHEMA}: validate against them",
)
def check(environment: str | None, other_hm_metadata: tuple[Path, ...], xsd: Path | None) -> None:
    """Our keys, metadata and catalogue, and the HM's metadata, against the eHerkenning rules.

    One line per finding (ok, warning, error) with what to do; exits 1 when there is an error.
    """
    try:
        findings = catalogue.self_check_findings(
            environment or runtime().settings.saml.catalogue_environment, other_hm_metadata, xsd
        )
    except (OSError, etree.XMLSchemaParseError) as exc:
        raise click.ClickException(f"--xsd {xsd}: cannot read the schemas: {exc}") from None
    for finding in findings:
        click.echo(finding.line())
    errors = sum(finding.level is Level.ERROR for finding in findings)
    warnings = sum(finding.level is Level.WARNING for finding in findings)
    click.echo(f"{errors} errors, {warnings} warnings")
    if errors:
        raise click.exceptions.Exit(1)


@eherkenning_cli.command("refresh")
@click.option("--hm", "name", help="only this HM (a name in BROKER_HMS); default: every HM")
def refresh(name: str | None) -> None:
    """Fetch the HMs' metadata now (BROKER_HMS' or BROKER_HM_METADATA's): each one's signature
    checked against its pinned signer and its validUntil honoured, it becomes the good copy every
    worker takes into use. On failure the copy before stays in use, the failure is recorded, and
    the command exits 1."""
    configured = hms()
    if name is not None and name not in configured.names:
        raise click.BadParameter(
            f"{name!r} is not a configured HM ({', '.join(configured.names)})", param_hint="--hm"
        )
    failed = False
    for each in configured.names if name is None else (name,):
        failed |= not _refresh(configured.live(each), len(configured.names) > 1)
    if failed:
        raise click.exceptions.Exit(1)


def _refresh(hm: LiveHm, named: bool) -> bool:
    """Fetch one HM's metadata; say what came of it. False when the fetch failed."""
    prefix = f"{hm.name}: " if named else ""
    if hm.source is None:
        click.echo(f"{prefix}the built-in simulator's metadata is made in-process: nothing to fetch")
        return True
    refreshed = hm.refresh()
    status = refreshed.status
    until = (
        "no validUntil" if status.valid_until is None else f"valid until {format_instant(status.valid_until)}"
    )
    if refreshed.failure is not None:
        fetched = "-" if status.fetched_at is None else format_instant(status.fetched_at)
        click.echo(
            f"Error: {prefix}{hm.source}: {refreshed.failure};"
            f" the copy fetched at {fetched} ({until}) stays in use",
            err=True,
        )
        return False
    signer = (
        f"BROKER_HM_{hm.name.upper().replace('-', '_')}_METADATA_SIGNER"
        if named
        else "BROKER_HM_METADATA_SIGNER"
    )
    checked = "signature verified" if hm.pinned else f"signature not checked (no {signer})"
    minutes = int(runtime().settings.saml.hm_metadata_refresh.total_seconds() // 60)
    what = "a new copy, kept" if refreshed.changed else "unchanged"
    click.echo(f"{prefix}{hm.source}: {what} ({checked}, {until}); workers use it within {minutes} minutes")
    return True


@eherkenning_cli.command("explain")
@click.argument("reference")
def explain_failure(reference: str) -> None:
    """Which SAML check a failed sign-in failed, with what it expected and received, and what to do.

    REFERENCE: the one the refusal page showed, or the sign-in's (its SAML request's ID, in the
    log); a sign-in refused to the portal is told from the audit trail, by its reference there.
    """
    failures = models.check_failures(reference.strip())
    decided = None if failures else audit.find(reference)
    if decided is not None and decided.get("kind") == "decision":
        click.echo("\n".join(explain_decision(decided)))
        return
    if not failures:
        raise click.ClickException(
            f"nothing is kept under {reference!r}: not a refused sign-in's reference, or older than"
            f" {RETENTION.days} days"
        )
    for failure in failures:
        click.echo("\n".join(explain(failure)))
