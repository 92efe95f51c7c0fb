"""Our keys over time (`config.key_schedule`), the key store on disk (`config.key_store`), and each
worker following it (`broker.keys`): what signs, what is published, what decrypts, at any moment."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.keys import LiveKeys
from config import ConfigError, Settings, load_settings
from config.dev_keys import generate_key_pair, new_signing_key
from config.key_schedule import KeyKind, KeySchedule, KeyState, ScheduledKey
from config.key_store import STATE_FILE, add_key, read_store, set_moments
from tests.conftest import MovableClock, broker_environ

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SWITCH = T0 + timedelta(weeks=6)
SAML_GRACE = timedelta(minutes=17)
OIDC_GRACE = timedelta(minutes=10)
A, B = generate_key_pair("A"), generate_key_pair("B")
RS_A, RS_B, ES = new_signing_key("RS256"), new_signing_key("RS256"), new_signing_key("ES256")


def saml(
    name: str, pair=A, activates: datetime | None = None, retires: datetime | None = None
) -> ScheduledKey:
    return ScheduledKey(
        name, KeyKind.SAML, pair.key_pem, pair.cert_pem, activates_at=activates, retires_at=retires
    )


def oidc(
    name: str, pem: bytes, activates: datetime | None = None, retires: datetime | None = None
) -> ScheduledKey:
    kind = KeyKind.OIDC_ES256 if pem is ES else KeyKind.OIDC_RS256
    return ScheduledKey(name, kind, pem, activates_at=activates, retires_at=retires)


def schedule(*keys: ScheduledKey) -> KeySchedule:
    return KeySchedule((*keys, oidc("es", ES)), SAML_GRACE, OIDC_GRACE)


def test_a_saml_rollover_from_next_to_current_to_superseded_to_retired_to_gone() -> None:
    retired = SWITCH + timedelta(weeks=2)
    keys = schedule(saml("old", A, retires=retired), saml("new", B, activates=SWITCH))
    old, new = keys.key("old"), keys.key("new")
    assert old is not None and new is not None

    before = keys.saml_at(SWITCH - timedelta(seconds=1))
    assert before.key.cert_pem == A.cert_pem
    assert before.next_key is not None and before.next_key.pair.cert_pem == B.cert_pem
    assert before.next_key.activates_at == SWITCH
    assert before.decrypting == ()
    assert (keys.state(old, SWITCH - timedelta(seconds=1)), keys.state(new, T0)) == (
        KeyState.CURRENT,
        KeyState.NEXT,
    )

    after = keys.saml_at(SWITCH)
    assert after.key.cert_pem == B.cert_pem and after.next_key is None
    # The old key is no longer published, but what the HM still encrypts to it opens.
    assert [pair.cert_pem for pair in after.decrypting] == [A.cert_pem]
    assert keys.state(old, SWITCH) is KeyState.SUPERSEDED

    assert keys.state(old, retired) is KeyState.RETIRED
    assert [
        pair.cert_pem for pair in keys.saml_at(retired + SAML_GRACE - timedelta(seconds=1)).decrypting
    ] == [A.cert_pem]
    assert keys.state(old, retired + SAML_GRACE) is KeyState.GONE
    assert keys.saml_at(retired + SAML_GRACE).decrypting == ()


def test_an_oidc_key_ends_when_superseded_and_stays_published_until_its_tokens_expired() -> None:
    keys = schedule(saml("saml"), oidc("rs-old", RS_A), oidc("rs-new", RS_B, activates=SWITCH))

    def published(now: datetime) -> list[tuple[bytes, bool]]:
        return [(key.key_pem, key.upcoming) for key in keys.oidc_at(now) if key.alg == "RS256"]

    assert published(T0) == [(RS_A, False), (RS_B, True)]
    assert published(SWITCH) == [(RS_B, False), (RS_A, True)]
    assert published(SWITCH + OIDC_GRACE - timedelta(seconds=1)) == [(RS_B, False), (RS_A, True)]
    assert published(SWITCH + OIDC_GRACE) == [(RS_B, False)]
    assert keys.state(keys.key("rs-old"), SWITCH) is KeyState.RETIRED  # type: ignore[arg-type]


def test_a_next_key_retired_before_its_activation_never_takes_over() -> None:
    keys = schedule(saml("old", A), saml("withdrawn", B, activates=SWITCH, retires=T0 + timedelta(days=1)))
    assert keys.saml_at(SWITCH).key.cert_pem == A.cert_pem
    assert keys.superseded_at(keys.key("old")) is None  # type: ignore[arg-type]


def test_the_views_change_only_at_the_moments_a_key_changes_state() -> None:
    retired = SWITCH + timedelta(days=3)
    keys = schedule(saml("old", A, retires=retired), saml("new", B, activates=SWITCH))
    assert keys.changes_after(T0) == SWITCH
    assert keys.changes_after(SWITCH) == retired
    assert keys.changes_after(retired) == retired + SAML_GRACE
    assert keys.changes_after(retired + SAML_GRACE) is None


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ((saml("a", A), saml("b", B)), "a, b take over signing at the same moment (the start)"),
        ((saml("a", A, retires=SWITCH),), "from 2027-02-15T09:00Z no saml key would sign"),
        ((saml("a", A, activates=SWITCH),), "from 2027-01-04T09:00Z no saml key would sign"),
        ((), "there is no saml key"),
    ],
)
def test_a_schedule_that_would_leave_a_moment_without_a_signing_key_is_a_problem(keys, problem) -> None:
    assert any(problem in found for found in schedule(*keys).problems(T0))


def test_retiring_the_current_key_at_its_successors_activation_is_no_problem() -> None:
    keys = schedule(saml("a", A, retires=SWITCH), saml("b", B, activates=SWITCH), oidc("rs", RS_A))
    assert keys.problems(T0) == []


# --- the store on disk ----------------------------------------------------------------------------


def test_a_key_written_to_the_store_reads_back_with_its_moments(tmp_path: Path) -> None:
    add_key(tmp_path, "saml-2027-02", KeyKind.SAML, B.key_pem, B.cert_pem, T0, SWITCH)
    add_key(tmp_path, "oidc-es256-2027-02", KeyKind.OIDC_ES256, ES, b"", T0, None)
    stored = read_store(tmp_path, SAML_GRACE, OIDC_GRACE)
    key = stored.key("saml-2027-02")
    assert key is not None
    assert (key.kind, key.activates_at, key.retires_at, key.created_at) == (KeyKind.SAML, SWITCH, None, T0)
    assert key.pair.key_path == tmp_path / "saml-2027-02" / "key.pem"
    assert oct((tmp_path / "saml-2027-02" / "key.pem").stat().st_mode & 0o777) == "0o600"
    set_moments(key, SWITCH, SWITCH + timedelta(days=1))
    again = read_store(tmp_path, SAML_GRACE, OIDC_GRACE).key("saml-2027-02")
    assert again is not None and again.retires_at == SWITCH + timedelta(days=1)


@pytest.mark.parametrize(
    ("state", "error"),
    [
        ({"kind": "saml"}, "must have exactly activates_at, created_at, kind, retires_at"),
        (
            {"kind": "dsa", "created_at": None, "activates_at": None, "retires_at": None},
            "kind must be one of",
        ),
        (
            {"kind": "saml", "created_at": None, "activates_at": "2027-01-01T00:00", "retires_at": None},
            "activates_at must be null or ISO 8601 with a time zone",
        ),
        ({"kind": "oidc-es256", "created_at": None, "activates_at": None, "retires_at": None}, "P-256"),
    ],
)
def test_an_unfit_key_in_the_store_is_refused_naming_its_file(tmp_path: Path, state, error) -> None:
    add_key(tmp_path, "saml-a", KeyKind.SAML, A.key_pem, A.cert_pem, T0, None)
    (tmp_path / "saml-a" / STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(ConfigError, match=error) as refused:
        read_store(tmp_path, SAML_GRACE, OIDC_GRACE)
    assert "saml-a" in str(refused.value)


def test_a_saml_certificate_for_another_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the certificate is not for this key"):
        add_key(tmp_path, "saml-a", KeyKind.SAML, A.key_pem, B.cert_pem, T0, None)
    assert list(tmp_path.iterdir()) == []


# --- start-up and each worker ---------------------------------------------------------------------


def store(folder: Path, now: datetime = T0) -> Path:
    add_key(folder, "saml-a", KeyKind.SAML, A.key_pem, A.cert_pem, now, None)
    add_key(folder, "oidc-rs256-a", KeyKind.OIDC_RS256, RS_A, b"", now, None)
    add_key(folder, "oidc-es256-a", KeyKind.OIDC_ES256, ES, b"", now, None)
    return folder


def stored_settings(tmp_path: Path, **overrides: str) -> Settings:
    keys = store(tmp_path / "keys", datetime.now(UTC))
    return load_settings(broker_environ(tmp_path / "instance", BROKER_KEYS_DIR=str(keys), **overrides))


def test_with_a_key_store_the_environments_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BROKER_SAML_KEY: the keys are in BROKER_KEYS_DIR"):
        stored_settings(tmp_path, BROKER_SAML_KEY=str(tmp_path / "k.pem"))


def test_a_store_without_a_key_that_signs_stops_start_up(tmp_path: Path) -> None:
    add_key(tmp_path / "keys", "saml-a", KeyKind.SAML, A.key_pem, A.cert_pem, T0, None)
    with pytest.raises(ConfigError, match="there is no oidc-rs256 key"):
        load_settings(broker_environ(tmp_path / "instance", BROKER_KEYS_DIR=str(tmp_path / "keys")))


def test_start_up_takes_the_stores_keys(tmp_path: Path) -> None:
    settings = stored_settings(tmp_path)
    assert settings.saml.key.cert_pem == A.cert_pem
    assert settings.saml.key.key_path == tmp_path / "keys" / "saml-a" / "key.pem"
    assert {key.key_pem for key in settings.oidc.signing_keys} == {RS_A, ES}


def test_a_worker_follows_the_store_without_a_restart(tmp_path: Path, clock: MovableClock) -> None:
    settings = stored_settings(tmp_path)
    keys = LiveKeys(settings, clock, check_seconds=0)
    now = clock()
    assert keys.saml(now).next_key is None
    add_key(tmp_path / "keys", "saml-b", KeyKind.SAML, B.key_pem, B.cert_pem, now, now + timedelta(weeks=6))
    rolling = keys.saml(now)
    assert rolling.next_key is not None and rolling.next_key.pair.cert_pem == B.cert_pem
    stored = read_store(tmp_path / "keys", SAML_GRACE, OIDC_GRACE).key("saml-b")
    assert stored is not None
    set_moments(stored, now, None)  # `keys activate saml-b`
    assert keys.saml(now).key.cert_pem == B.cert_pem
    assert [pair.cert_pem for pair in keys.saml(now).decrypting_keys] == [A.cert_pem]


def test_a_worker_looks_at_the_store_once_per_interval(tmp_path: Path, clock: MovableClock) -> None:
    settings = stored_settings(tmp_path)
    ticks = [0.0]
    keys = LiveKeys(settings, clock, check_seconds=5, monotonic=lambda: ticks[0])
    now = clock()
    add_key(tmp_path / "keys", "saml-b", KeyKind.SAML, B.key_pem, B.cert_pem, now, now + timedelta(weeks=6))
    ticks[0] = 4.9
    assert keys.saml(now).next_key is None
    ticks[0] = 5.0
    assert keys.saml(now).next_key is not None


def test_a_store_that_no_longer_serves_is_not_applied(
    tmp_path: Path, clock: MovableClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = stored_settings(tmp_path)
    keys = LiveKeys(settings, clock, check_seconds=0)
    stored = read_store(tmp_path / "keys", SAML_GRACE, OIDC_GRACE).key("saml-a")
    assert stored is not None
    # Edited by hand: the only SAML key retired, nothing to take over.
    set_moments(stored, None, clock() - timedelta(hours=1))
    with caplog.at_level(logging.ERROR, "broker.keys"):
        assert keys.saml(clock()).key.cert_pem == A.cert_pem
    assert "key store not applied" in caplog.text and "no saml key would sign" in caplog.text


def test_the_keys_of_a_moment_are_worked_out_once_until_a_key_changes_state(
    tmp_path: Path, clock: MovableClock
) -> None:
    settings = stored_settings(tmp_path)
    keys = LiveKeys(settings, clock, check_seconds=3600)
    now = clock()
    assert keys.saml(now) is keys.saml(now + timedelta(days=300))
    assert keys.oidc() is keys.oidc()


def test_without_a_store_the_settings_keys_serve_unchanged(settings: Settings, clock: MovableClock) -> None:
    keys = LiveKeys(settings, clock, check_seconds=0)
    assert keys.saml(clock()) is settings.saml
    rolling = dataclasses.replace(settings.saml, decrypting_keys=(B,))
    assert rolling.decryption_keys_at(clock()) == (settings.saml.key, B)
