"""`flask --app wsgi keys …`: our keys through a rollover, the SAML key pair and the token keys alike.

The commands change the key store (BROKER_KEYS_DIR) and nothing else: each change is checked as
a worker would read it (no moment without a key that signs) before anything is written, is kept
in the audit trail, and reaches running workers within BROKER_CONFIG_CHECK_SECONDS.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from cryptography import x509
from flask.cli import AppGroup
from joserfc.jwk import ECKey, RSAKey

from broker import audit
from broker.extensions import db
from broker.key_plan import notice, plan
from broker.keys import settings_schedule
from broker.runtime import runtime
from config import ConfigError, Profile, Settings
from config.dev_keys import generate_key_pair, new_signing_key
from config.key_schedule import KeyKind, KeySchedule, KeyState, ScheduledKey, when_text
from config.key_store import add_key, check_key, free_name, read_store, set_moments
from saml.keys import key_name

keys_cli = AppGroup("keys", help="Our keys through a rollover: the SAML key pair and the token signing keys.")
_KIND = click.Choice([kind.value for kind in KeyKind])
_CERTIFICATE_DAYS = 3 * 365
_APP = "flask --app wsgi"


class Moment(click.ParamType):
    """A day (its midnight UTC) or an ISO 8601 time with its zone."""

    name = "moment"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a day (2027-01-05) or an ISO 8601 time with its zone", param, ctx)
        if len(str(value)) == 10:
            return moment.replace(tzinfo=UTC)
        if moment.tzinfo is None:
            self.fail(f"{value!r} names no time zone: add one, e.g. {value}+00:00", param, ctx)
        return moment


_MOMENT = Moment()


@keys_cli.command("list")
def list_keys() -> None:
    """One line per key: name, kind, state now, activation, retirement, fingerprint (SAML: the
    certificate's KeyName in our metadata; OpenID: the kid) and, for SAML, the certificate's end."""
    schedule, unscheduled = _schedule()
    now = _now()
    for key in sorted(schedule.keys, key=lambda key: (key.kind.value, key.activation)):
        activates = "start" if key.activates_at is None else when_text(key.activates_at)
        retires = "-" if key.retires_at is None else when_text(key.retires_at)
        line = f"{key.name}\t{key.kind.value}\t{schedule.state(key, now).value}\t{activates}\t{retires}"
        click.echo(f"{line}\t{_fingerprint(key)}{_certificate_end(key)}")
    for file in unscheduled:
        click.echo(f"{file}\t-\tnext\tunscheduled\t-\t(published; signs once it is renamed)")


@keys_cli.command("plan")
def print_plan() -> None:
    """Per kind of key: the keys, and what happens or is to be done when (what to send the HM)."""
    schedule, unscheduled = _schedule()
    now = _now()
    for kind in KeyKind:
        click.echo(f"{kind.value}: {kind.described}")
        for key in schedule.of(kind):
            click.echo(f"  {key.name}: {_described(schedule, key, now)}")
        for step in plan(schedule, kind, now):
            click.echo(step.line())
    for file in unscheduled:
        click.echo(f"{file}: published ahead of use; it signs once renamed (no date: use a key store)")


@keys_cli.command("generate")
@click.option("--kind", type=_KIND, required=True)
@click.option("--activates", type=_MOMENT, required=True, help="when it takes over signing")
@click.option("--name", help="the key's folder in the store; default: <kind>-<year>-<month> of --activates")
def generate(kind: str, activates: datetime, name: str | None) -> None:
    """A new next key: published from now, signing from --activates. For SAML a self-signed
    certificate, outside production only: there, import the PKIoverheid one (keys import)."""
    chosen = KeyKind(kind)
    settings = runtime().settings
    if chosen is KeyKind.SAML and settings.profile is Profile.PRODUCTION:
        raise click.ClickException(
            "our SAML certificate in production is a PKIoverheid one: import it with"
            f" `{_APP} keys import --kind saml --key FILE --cert FILE --activates …`"
        )
    schedule = _store()
    now = _now()
    name = name or free_name(_folder(schedule), chosen, activates)
    if chosen is KeyKind.SAML:
        pair = generate_key_pair(f"{settings.saml.organisation_name} {name}", _CERTIFICATE_DAYS)
        key_pem, cert_pem = pair.key_pem, pair.cert_pem
    else:
        key_pem, cert_pem = new_signing_key(chosen.alg), b""
    _add(schedule, name, chosen, key_pem, cert_pem, activates, now, "keys generate")


@keys_cli.command("import")
@click.option("--kind", type=_KIND, required=True)
@click.option(
    "--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option("--cert", "cert_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--activates", type=_MOMENT, help="when it takes over signing; leave out only for the first key"
)
@click.option("--name", help="the key's folder in the store; default: <kind>-<year>-<month>")
def import_key(
    kind: str, key_file: Path, cert_file: Path | None, activates: datetime | None, name: str | None
) -> None:
    """A key made elsewhere (a PKIoverheid key and certificate for SAML) into the store: next until
    --activates, or in use from the start when the store has no key of its kind yet."""
    chosen = KeyKind(kind)
    if chosen is KeyKind.SAML and cert_file is None:
        raise click.ClickException("--cert is needed for a SAML key: the certificate that goes with it")
    schedule = _store()
    now = _now()
    if activates is None and schedule.of(chosen):
        raise click.ClickException(f"--activates is needed: the store has {chosen.value} keys already")
    name = name or free_name(_folder(schedule), chosen, activates or now)
    try:
        key_pem = key_file.read_bytes()
        cert_pem = cert_file.read_bytes() if cert_file and chosen is KeyKind.SAML else b""
    except OSError as exc:
        raise click.ClickException(f"cannot read {exc.filename}: {exc.strerror}") from None
    _add(schedule, name, chosen, key_pem, cert_pem, activates, now, "keys import")


@keys_cli.command("activate")
@click.argument("name")
@click.option("--at", "at", type=_MOMENT, help="when it takes over signing; default: now")
def activate(name: str, at: datetime | None) -> None:
    """Move a next key's activation: to now, or to --at."""
    schedule = _store()
    now = _now()
    key = _stored(schedule, name)
    if schedule.state(key, now) is not KeyState.NEXT:
        raise click.ClickException(
            f"{name} is {schedule.state(key, now).value}: only a next key is activated"
        )
    moment = at or now
    if moment < now:
        raise click.ClickException(f"--at {when_text(moment)} is past")
    _change(schedule, key, dataclasses.replace(key, activates_at=moment), now, "keys activate")
    published = key.created_at or now
    if moment - published < notice(key.kind):
        click.echo(
            f"note: {name} has been published since {when_text(published)}: less than the"
            f" {notice(key.kind).days or 1} days' notice the plan asks (`{_APP} keys plan`)"
        )


@keys_cli.command("retire")
@click.argument("name")
@click.option("--at", "at", type=_MOMENT, help="when it ends; default: now")
def retire(name: str, at: datetime | None) -> None:
    """End a key: from --at (default now) it neither signs nor is published; a SAML key decrypts a
    little longer (sign-ins under way), an OpenID key stays in the JWKS until its tokens expired."""
    schedule = _store()
    now = _now()
    key = _stored(schedule, name)
    moment = at or now
    if moment < now:
        raise click.ClickException(f"--at {when_text(moment)} is past")
    ends = schedule.ends_at(key)
    if ends is not None and ends <= moment:
        raise click.ClickException(f"{name} ends at {when_text(ends)} already")
    _change(schedule, key, dataclasses.replace(key, retires_at=moment), now, "keys retire")


@keys_cli.command("init")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def init(folder: Path) -> None:
    """Copy the keys the environment names (BROKER_SAML_KEY, BROKER_SAML_NEXT_*, BROKER_OIDC_KEYS)
    into a new key store, with their moments; then set BROKER_KEYS_DIR to it and unset those."""
    settings = runtime().settings
    if settings.keys is not None:
        raise click.ClickException(f"the keys are in a key store already: {settings.keys.folder}")
    if folder.exists() and any(folder.iterdir()):
        raise click.ClickException(f"{folder} is not empty: name a new folder")
    schedule, unscheduled = settings_schedule(settings)
    now = _now()
    for key in schedule.keys:
        name = free_name(folder, key.kind, key.activates_at or now)
        try:
            add_key(folder, name, key.kind, key.key_pem, key.cert_pem, now, key.activates_at)
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
        _record("keys init", name, None, _entry(dataclasses.replace(key, name=name, created_at=now)))
        click.echo(f"{key.name} → {folder / name}")
    db.session.commit()
    for file in unscheduled:
        click.echo(f"{file}: not copied (it has no activation): `{_APP} keys import --activates …` it")
    click.echo(
        f"Now set BROKER_KEYS_DIR={folder.resolve()}, unset BROKER_SAML_KEY, BROKER_SAML_CERT,"
        " BROKER_SAML_NEXT_* and BROKER_OIDC_KEYS, and restart the broker."
    )


def _add(
    schedule: KeySchedule,
    name: str,
    kind: KeyKind,
    key_pem: bytes,
    cert_pem: bytes,
    activates: datetime | None,
    now: datetime,
    what: str,
) -> None:
    if activates is not None and activates <= now:
        raise click.ClickException(f"--activates {when_text(activates)} is not in the future")
    upcoming = schedule.next_key(kind, now)
    if upcoming is not None:
        raise click.ClickException(
            f"{upcoming.name} is the next {kind.value} key already: activate or retire it first"
        )
    try:
        check_key(kind, key_pem, cert_pem, name)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    if kind is KeyKind.SAML:
        certificate = x509.load_pem_x509_certificate(cert_pem)
        moment = activates or now
        if not certificate.not_valid_before_utc <= moment < certificate.not_valid_after_utc:
            raise click.ClickException(
                f"{name}: its certificate is valid from {when_text(certificate.not_valid_before_utc)}"
                f" to {when_text(certificate.not_valid_after_utc)}: not when it takes over,"
                f" {when_text(moment)}"
            )
    key = ScheduledKey(name, kind, key_pem, cert_pem, activates_at=activates, created_at=now)
    _check(dataclasses.replace(schedule, keys=(*schedule.keys, key)), now)
    _record(what, name, None, _entry(key))
    try:
        add_key(_folder(schedule), name, kind, key_pem, cert_pem, now, activates)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    when = "in use from now" if activates is None else f"next: takes over signing at {when_text(activates)}"
    click.echo(f"{name}: {kind.value} key added, {when}")
    _then(dataclasses.replace(schedule, keys=(*schedule.keys, key)), kind, now)


def _change(
    schedule: KeySchedule, key: ScheduledKey, changed: ScheduledKey, now: datetime, what: str
) -> None:
    after = dataclasses.replace(schedule, keys=tuple(changed if k is key else k for k in schedule.keys))
    _check(after, now)
    _record(what, key.name, _entry(key), _entry(changed))
    try:
        set_moments(key, changed.activates_at, changed.retires_at)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{key.name}: {_described(after, changed, now)}")
    _then(after, key.kind, now)


def _check(schedule: KeySchedule, now: datetime) -> None:
    """Refuse a change a worker would refuse: nothing is written."""
    problems = schedule.problems(now)
    if problems:
        raise click.ClickException("refused, nothing written: " + "; ".join(problems))


def _then(schedule: KeySchedule, kind: KeyKind, now: datetime) -> None:
    for step in plan(schedule, kind, now):
        click.echo(step.line())
    seconds = runtime().settings.config.check_seconds
    click.echo(f"Running brokers use it within {seconds} second{'' if seconds == 1 else 's'} (no restart).")


def _described(schedule: KeySchedule, key: ScheduledKey, now: datetime) -> str:
    state = schedule.state(key, now)
    if state is KeyState.NEXT:
        return f"next: published, takes over signing at {when_text(key.activation)}"
    if state is KeyState.CURRENT:
        since = "the start" if key.activates_at is None else when_text(key.activates_at)
        return f"current: signs, since {since}"
    if state is KeyState.SUPERSEDED:
        since = schedule.superseded_at(key)
        assert since is not None
        return f"superseded at {when_text(since)}: only decrypts, until it is retired"
    ends, gone = schedule.ends_at(key), schedule.gone_at(key)
    assert ends is not None and gone is not None
    if state is KeyState.RETIRED:
        what = "decrypts" if key.kind is KeyKind.SAML else "is in the JWKS"
        return f"retired at {when_text(ends)}: {what} until {when_text(gone)}"
    return f"gone since {when_text(gone)}"


def _schedule() -> tuple[KeySchedule, tuple[str, ...]]:
    """The key store as it is on disk now, or the environment's keys."""
    settings = runtime().settings
    if settings.keys is None:
        return settings_schedule(settings)
    return _reread(settings), ()


def _store() -> KeySchedule:
    settings = runtime().settings
    if settings.keys is None:
        raise click.ClickException(
            "the keys come from the environment (BROKER_SAML_KEY, BROKER_SAML_NEXT_*, BROKER_OIDC_KEYS):"
            f" copy them into a key store first (`{_APP} keys init FOLDER`), then set BROKER_KEYS_DIR"
        )
    return _reread(settings)


def _reread(settings: Settings) -> KeySchedule:
    stored = settings.keys
    assert stored is not None and stored.folder is not None
    try:
        return read_store(stored.folder, stored.saml_grace, stored.oidc_grace)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def _folder(schedule: KeySchedule) -> Path:
    assert schedule.folder is not None
    return schedule.folder


def _stored(schedule: KeySchedule, name: str) -> ScheduledKey:
    key = schedule.key(name)
    if key is None:
        raise click.ClickException(f"there is no key {name!r} in {schedule.folder}")
    return key


def _now() -> datetime:
    return runtime().upstream.clock()


def _fingerprint(key: ScheduledKey) -> str:
    if key.kind is KeyKind.SAML:
        return key_name(key.cert_pem)
    kind = RSAKey if key.kind is KeyKind.OIDC_RS256 else ECKey
    return kind.import_key(key.key_pem).thumbprint()


def _certificate_end(key: ScheduledKey) -> str:
    if key.kind is not KeyKind.SAML:
        return ""
    return f"\t{when_text(x509.load_pem_x509_certificate(key.cert_pem).not_valid_after_utc)}"


def _entry(key: ScheduledKey) -> Mapping[str, Any]:
    """A key as the audit trail keeps it: never the key itself."""
    return {
        "kind": key.kind.value,
        "fingerprint": _fingerprint(key),
        "activates_at": key.activates_at and key.activates_at.isoformat(),
        "retires_at": key.retires_at and key.retires_at.isoformat(),
    }


def _record(what: str, key: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> None:
    audit.record_change(audit.ChangeRecord(_now(), audit.os_user(), what, key, before, after))
