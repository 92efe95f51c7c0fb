"""`flask --app wsgi ...` commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from broker import models
from broker.runtime import runtime
from saml.metadata import sp_metadata

saml_cli = AppGroup("saml", help="The SAML service provider.")


@saml_cli.command("metadata")
def print_metadata() -> None:
    """Print our signed SP metadata (to hand to an HM)."""
    state = runtime()
    click.echo(sp_metadata(state.settings.saml, state.upstream.clock()).decode("utf-8"))


@click.command("purge")
@with_appcontext
def purge() -> None:
    """Delete expired flow state: requests, assertion IDs, codes, tokens, artifacts."""
    removed = models.purge_expired(runtime().upstream.clock())
    click.echo(f"removed {removed} expired rows")


def init_app(app: Flask) -> None:
    app.cli.add_command(saml_cli)
    app.cli.add_command(purge)
