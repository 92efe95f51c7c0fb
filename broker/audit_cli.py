"""`flask --app wsgi audit …`: check, export, show and prune the audit trail."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from broker import audit
from broker.runtime import runtime

audit_cli = AppGroup("audit", help="The audit trail of decisions and changes.")
_DAY = click.DateTime(formats=["%Y-%m-%d"])


@audit_cli.command("verify")
def verify() -> None:
    """Walk the chain from its anchor, recomputing every hash; name the first record that does not fit."""
    verified = audit.verify()
    if verified.flaw is not None:
        raise click.ClickException(
            f"the chain breaks at {verified.flaw} ({verified.records} records from {verified.anchor} fit)"
        )
    click.echo(
        f"ok: {verified.records} records, chain from {verified.anchor} "
        f"to seq {verified.head_seq} ({verified.head_hash})"
    )


@audit_cli.command("export")
@click.option("--from", "first", type=_DAY, required=True, help="the first day (UTC), YYYY-MM-DD")
@click.option("--to", "last", type=_DAY, required=True, help="the last day (UTC), included")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="default: standard output")
def export(first: datetime, last: datetime, out: Path | None) -> None:
    """Write the records of those days as JSON lines, in chain order: each record's fields, its seq,
    content_hash and chain_hash."""
    if last < first:
        raise click.ClickException(f"--to {last:%Y-%m-%d} is before --from {first:%Y-%m-%d}")
    lines = audit.export(first.date(), last.date())
    if out is None:
        for line in lines:
            click.echo(line)
        return
    count = 0
    with out.open("w", encoding="utf-8") as file:
        for line in lines:
            file.write(line + "\n")
            count += 1
    click.echo(f"{count} records written to {out}")


@audit_cli.command("show")
@click.argument("reference")
def show(reference: str) -> None:
    """Print the record with this reference."""
    record = audit.find(reference)
    if record is None:
        raise click.ClickException(f"no audit record {reference!r}")
    click.echo(json.dumps(record, indent=2, ensure_ascii=False))


@audit_cli.command("purge")
def purge() -> None:
    """Remove the records older than BROKER_AUDIT_RETENTION_DAYS; the last one removed becomes the
    anchor the chain is verified from, and the run is itself recorded."""
    state = runtime()
    retention = state.settings.audit_retention
    retained = audit.retain(state.upstream.clock(), retention, audit.os_user())
    if not retained.removed:
        click.echo(f"nothing older than {retention.days} days; the chain starts at {retained.after}")
        return
    click.echo(
        f"removed {retained.removed} records older than {retention.days} days; "
        f"the chain now starts after {retained.after}"
    )
