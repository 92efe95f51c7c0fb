"""`flask keys init|list|generate|import|activate|retire|plan`: the key store changed only by what a
worker would accept, every change in the audit trail, and the plan saying what to send the HM when."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from broker import create_app
from config import Profile, load_settings
from config.dev_keys import generate_key_pair
from config.key_store import STATE_FILE
from saml.keys import key_name
from tests.conftest import MovableClock, broker_environ, migrated_app

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock_back(clock: MovableClock) -> Iterator[None]:
    """The clock back to now afterwards: an app the session makes next starts from the present."""
    yield
    clock.moment = datetime.now(UTC)


def invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def listed(app: Flask) -> dict[str, list[str]]:
    code, output = invoke(app, "keys", "list")
    assert code == 0, output
    return {line.split("\t")[0]: line.split("\t")[1:] for line in output.splitlines()}


@pytest.fixture
def env_app(tmp_path: Path, clock: MovableClock) -> Flask:
    return migrated_app(tmp_path / "instance", clock)


@pytest.fixture
def app(tmp_path: Path, clock: MovableClock, env_app: Flask) -> Flask:
    """A broker on a key store made from the development keys, its clock at NOW."""
    clock.moment = NOW
    code, output = invoke(env_app, "keys", "init", str(tmp_path / "keys"))
    assert code == 0, output
    return migrated_app(tmp_path / "instance", clock, BROKER_KEYS_DIR=str(tmp_path / "keys"))


def test_init_copies_the_environments_keys_with_their_moments(tmp_path: Path, clock: MovableClock) -> None:
    clock.moment = NOW
    upcoming = generate_key_pair("next")
    (tmp_path / "next-key.pem").write_bytes(upcoming.key_pem)
    (tmp_path / "next-cert.pem").write_bytes(upcoming.cert_pem)
    env_app = migrated_app(
        tmp_path / "instance",
        clock,
        BROKER_SAML_NEXT_KEY=str(tmp_path / "next-key.pem"),
        BROKER_SAML_NEXT_CERT=str(tmp_path / "next-cert.pem"),
        BROKER_SAML_NEXT_ACTIVATION="2027-04-01T00:00:00+00:00",
    )
    assert invoke(env_app, "keys", "generate", "--kind", "saml", "--activates", "2027-05-01") == (
        1,
        "Error: the keys come from the environment (BROKER_SAML_KEY, BROKER_SAML_NEXT_*, BROKER_OIDC_KEYS):"
        " copy them into a key store first (`flask --app wsgi keys init FOLDER`), then set BROKER_KEYS_DIR\n",
    )
    before = listed(env_app)
    assert before["BROKER_SAML_NEXT_KEY"][:3] == ["saml", "next", "2027-04-01T00:00Z"]

    code, output = invoke(env_app, "keys", "init", str(tmp_path / "keys"))
    assert code == 0, output
    assert "Now set BROKER_KEYS_DIR=" in output
    app = migrated_app(tmp_path / "instance", clock, BROKER_KEYS_DIR=str(tmp_path / "keys"))
    after = listed(app)
    assert sorted(after) == ["oidc-es256-2027-03", "oidc-rs256-2027-03", "saml-2027-03", "saml-2027-04"]
    assert after["saml-2027-04"][:4] == ["saml", "next", "2027-04-01T00:00Z", "-"]
    assert after["saml-2027-04"][4] == key_name(upcoming.cert_pem)
    assert after["saml-2027-03"][:3] == ["saml", "current", "start"]
    assert invoke(env_app, "keys", "init", str(tmp_path / "keys"))[1].endswith(
        "is not empty: name a new folder\n"
    )


def test_generate_publishes_a_next_key_and_says_what_to_send_when(app: Flask, tmp_path: Path) -> None:
    code, output = invoke(app, "keys", "generate", "--kind", "saml", "--activates", "2027-05-03")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "saml-2027-05: saml key added, next: takes over signing at 2027-05-03T00:00Z"
    assert lines[1].startswith("  2027-04-05T00:00Z: by then, send the HM our metadata and service catalogue")
    assert lines[2].startswith("  2027-05-03T00:00Z: saml-2027-05 takes over signing and mutual TLS")
    assert lines[3].startswith(
        "  2027-05-31T00:00Z: by then, once the HM confirms it encrypts to saml-2027-05"
    )
    state = json.loads((tmp_path / "keys" / "saml-2027-05" / STATE_FILE).read_text())
    assert state == {
        "kind": "saml",
        "created_at": NOW.isoformat(),
        "activates_at": "2027-05-03T00:00:00+00:00",
        "retires_at": None,
    }
    assert listed(app)["saml-2027-05"][:2] == ["saml", "next"]
    assert invoke(app, "keys", "generate", "--kind", "saml", "--activates", "2027-06-01") == (
        1,
        "Error: saml-2027-05 is the next saml key already: activate or retire it first\n",
    )


def test_a_next_saml_key_with_less_than_four_weeks_notice_is_marked_late(app: Flask) -> None:
    code, output = invoke(
        app, "keys", "generate", "--kind", "saml", "--activates", "2027-03-15T12:00:00+01:00"
    )
    assert code == 0, output
    assert "  LATE 2027-02-15T11:00Z: by then, send the HM" in output
    code, plan = invoke(app, "keys", "plan")
    assert "LATE 2027-02-15T11:00Z" in plan


@pytest.mark.parametrize(
    ("activates", "error"),
    [
        ("2027-02-01", "--activates 2027-02-01T00:00Z is not in the future"),
        ("2027-05-01T00:00", "names no time zone"),
        ("next month", "is not a day (2027-01-05) or an ISO 8601 time with its zone"),
    ],
)
def test_generate_refuses_a_moment_that_cannot_be(app: Flask, activates: str, error: str) -> None:
    code, output = invoke(app, "keys", "generate", "--kind", "oidc-rs256", "--activates", activates)
    assert code != 0 and error in output
    assert len(listed(app)) == 3


def test_production_imports_its_saml_key_and_generates_only_token_keys(
    tmp_path: Path, clock: MovableClock, app: Flask
) -> None:
    environ = broker_environ(tmp_path / "instance", BROKER_KEYS_DIR=str(tmp_path / "keys"))
    production = create_app(dataclasses.replace(load_settings(environ), profile=Profile.PRODUCTION), clock)
    code, output = invoke(production, "keys", "generate", "--kind", "saml", "--activates", "2027-05-01")
    assert code == 1 and "import it with `flask --app wsgi keys import --kind saml" in output
    assert invoke(production, "keys", "generate", "--kind", "oidc-es256", "--activates", "2027-03-03")[0] == 0

    pkio = generate_key_pair("PKIoverheid stand-in")
    (tmp_path / "pkio.key").write_bytes(pkio.key_pem)
    (tmp_path / "pkio.crt").write_bytes(pkio.cert_pem)
    (tmp_path / "other.crt").write_bytes(generate_key_pair("other").cert_pem)
    base = ("keys", "import", "--kind", "saml", "--key", str(tmp_path / "pkio.key"))
    assert invoke(production, *base, "--activates", "2027-05-01")[1] == (
        "Error: --cert is needed for a SAML key: the certificate that goes with it\n"
    )
    assert "--activates is needed" in invoke(production, *base, "--cert", str(tmp_path / "pkio.crt"))[1]
    mismatched = invoke(production, *base, "--cert", str(tmp_path / "other.crt"), "--activates", "2027-05-01")
    assert mismatched[0] == 1 and "the certificate is not for this key" in mismatched[1]
    short = generate_key_pair("short-lived", days=30)
    (tmp_path / "short.key").write_bytes(short.key_pem)
    (tmp_path / "short.crt").write_bytes(short.cert_pem)
    ended = invoke(
        production, "keys", "import", "--kind", "saml", "--key", str(tmp_path / "short.key"),
        "--cert", str(tmp_path / "short.crt"), "--activates", "2027-05-01",
    )  # fmt: skip
    assert ended[0] == 1 and ended[1].endswith(": not when it takes over, 2027-05-01T00:00Z\n")
    code, output = invoke(
        production,
        *base,
        "--cert",
        str(tmp_path / "pkio.crt"),
        "--activates",
        "2027-05-01",
        "--name",
        "pkio-2027",
    )
    assert code == 0, output
    assert listed(production)["pkio-2027"][:5] == [
        "saml",
        "next",
        "2027-05-01T00:00Z",
        "-",
        key_name(pkio.cert_pem),
    ]


def test_activate_brings_a_next_key_forward(app: Flask, clock: MovableClock) -> None:
    invoke(app, "keys", "generate", "--kind", "oidc-rs256", "--activates", "2027-04-01")
    clock.advance(timedelta(hours=2))
    code, output = invoke(app, "keys", "activate", "oidc-rs256-2027-04")
    assert code == 0, output
    assert output.startswith("oidc-rs256-2027-04: current: signs, since 2027-03-01T11:00Z\n")
    assert "less than the 1 days' notice" in output
    keys = listed(app)
    assert keys["oidc-rs256-2027-04"][1] == "current" and keys["oidc-rs256-2027-03"][1] == "retired"
    assert invoke(app, "keys", "activate", "oidc-rs256-2027-04") == (
        1,
        "Error: oidc-rs256-2027-04 is current: only a next key is activated\n",
    )
    assert invoke(app, "keys", "activate", "nothing")[1].startswith("Error: there is no key 'nothing' in ")


def test_retiring_the_only_key_that_signs_is_refused_and_nothing_written(app: Flask, tmp_path: Path) -> None:
    before = (tmp_path / "keys" / "saml-2027-03" / STATE_FILE).read_bytes()
    code, output = invoke(app, "keys", "retire", "saml-2027-03")
    assert (code, output) == (
        1,
        "Error: refused, nothing written: from 2027-03-01T09:00Z no saml key would sign\n",
    )
    assert (tmp_path / "keys" / "saml-2027-03" / STATE_FILE).read_bytes() == before


def test_retire_at_a_moment_to_come_and_the_plan_that_follows(app: Flask, clock: MovableClock) -> None:
    invoke(app, "keys", "generate", "--kind", "saml", "--activates", "2027-04-01")
    code, output = invoke(app, "keys", "retire", "saml-2027-03", "--at", "2027-04-15")
    assert code == 0, output
    assert "  2027-04-15T00:00Z: saml-2027-03 retires; it decrypts 17 minutes longer" in output
    clock.moment = datetime(2027, 4, 15, 0, 10, tzinfo=UTC)
    keys = listed(app)
    assert keys["saml-2027-03"][1:4] == ["retired", "start", "2027-04-15T00:00Z"]
    assert (
        invoke(app, "keys", "retire", "saml-2027-03")[1]
        == "Error: saml-2027-03 ends at 2027-04-15T00:00Z already\n"
    )
    clock.moment = datetime(2027, 4, 15, 0, 17, tzinfo=UTC)
    assert "  now: saml-2027-03 is gone: its folder may be removed" in invoke(app, "keys", "plan")[1]


def test_every_change_is_in_the_audit_trail_without_the_key(app: Flask) -> None:
    invoke(app, "keys", "generate", "--kind", "oidc-es256", "--activates", "2027-04-01")
    invoke(app, "keys", "activate", "oidc-es256-2027-04")
    code, output = invoke(app, "audit", "export", "--from", "2027-03-01", "--to", "2027-03-01")
    assert code == 0, output
    records = [json.loads(line) for line in output.splitlines()]
    changes = [(r["what"], r["key"]) for r in records if r.get("kind") == "change"]
    assert changes[-2:] == [("keys generate", "oidc-es256-2027-04"), ("keys activate", "oidc-es256-2027-04")]
    activated = records[-1]
    assert activated["before"]["activates_at"] == "2027-04-01T00:00:00+00:00"
    assert activated["after"]["activates_at"] == NOW.isoformat()
    assert "PRIVATE KEY" not in output


def test_the_plan_names_each_kind_its_keys_and_their_dates(app: Flask) -> None:
    invoke(app, "keys", "generate", "--kind", "oidc-rs256", "--activates", "2027-03-01T12:00:00+00:00")
    code, plan = invoke(app, "keys", "plan")
    assert code == 0
    lines = plan.splitlines()
    at = lines.index("oidc-rs256: OpenID Connect token signing key RS256 (JWKS)")
    assert lines[at + 1 : at + 4] == [
        "  oidc-rs256-2027-03: current: signs, since the start",
        "  oidc-rs256-2027-03-2: next: published, takes over signing at 2027-03-01T12:00Z",
        "  LATE 2027-03-01T12:00Z: oidc-rs256-2027-03-2 signs new tokens (RS256); it has been in the JWKS"
        " since 2027-03-01T09:00Z, and portals need do nothing; oidc-rs256-2027-03 stays in the JWKS until"
        " every token it signed has expired",
    ]
    assert "saml-2027-03: current: signs, since the start" in plan
