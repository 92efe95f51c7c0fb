"""A running broker's registry follows its configuration file: changes apply, invalid edits do not."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from pathlib import Path

import pytest

from broker import create_app
from config import ConfigError, ConfigFile, load_settings
from config.reloading import LiveRegistry
from tests.clients import REDIRECT
from tests.conftest import broker_environ

NEW_CLIENT = f"""
  - client_id: late-portal
    service: omgevingsloket
    redirect_uris: [{REDIRECT}]
    token_endpoint_auth_method: none
"""


class ManualClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def config(tmp_path: Path) -> ConfigFile:
    return load_settings(broker_environ(tmp_path)).config


def append_client(config: ConfigFile) -> None:
    config.path.write_text(config.path.read_text() + NEW_CLIENT)


def break_service(config: ConfigFile) -> None:
    config.path.write_text(config.path.read_text().replace("minimum_loa: loa3", "minimum_loa: loa1", 1))


def test_a_change_to_the_file_is_served_at_the_next_lookup(config: ConfigFile) -> None:
    live = LiveRegistry(config)
    assert live.current().client("late-portal") is None
    append_client(config)
    assert live.current().client("late-portal") is not None


def test_a_replaced_file_is_read_again(config: ConfigFile) -> None:
    live = LiveRegistry(config)
    staged = config.path.with_name("staged.yaml")
    staged.write_text(config.path.read_text().replace("client_id: olo-public", "client_id: olo-open"))
    staged.replace(config.path)
    assert live.current().client("olo-open") is not None
    assert live.current().client("olo-public") is None


def test_an_invalid_edit_is_logged_and_the_last_good_registry_stays(
    config: ConfigFile, caplog: pytest.LogCaptureFixture
) -> None:
    live = LiveRegistry(config)
    before = live.current()
    break_service(config)
    with caplog.at_level(logging.ERROR, logger="broker.config"):
        assert live.current() is before
    (record,) = caplog.records
    assert str(config.path) in record.getMessage()
    assert "services[0] (ind-portaal-zakelijk): field 'minimum_loa'" in record.getMessage()
    # Logged once, not at every lookup, until the file changes again.
    caplog.clear()
    assert live.current() is before
    assert caplog.records == []


def test_the_file_is_tried_again_when_it_changes_after_an_invalid_edit(config: ConfigFile) -> None:
    live = LiveRegistry(config)
    good = config.path.read_text()
    break_service(config)
    live.current()
    config.path.write_text(good + NEW_CLIENT)
    assert live.current().client("late-portal") is not None


def test_a_missing_file_keeps_the_last_good_registry(
    config: ConfigFile, caplog: pytest.LogCaptureFixture
) -> None:
    live = LiveRegistry(config)
    before = live.current()
    text = config.path.read_text()
    config.path.unlink()
    with caplog.at_level(logging.ERROR, logger="broker.config"):
        assert live.current() is before
    assert "cannot read configuration" in caplog.text
    config.path.write_text(text + NEW_CLIENT)
    assert live.current().client("late-portal") is not None


def test_the_file_is_looked_at_once_per_interval(config: ConfigFile, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = ManualClock()
    live = LiveRegistry(dataclasses.replace(config, check_seconds=1), clock)
    append_client(config)
    looks = count_stats(config.path, monkeypatch)
    clock.seconds += 0.999
    for _ in range(5):
        assert live.current().client("late-portal") is None
    assert looks == []
    clock.seconds += 0.001
    for _ in range(5):
        assert live.current().client("late-portal") is not None
    assert len(looks) == 1


def test_threads_asking_at_once_look_at_the_file_once(
    config: ConfigFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock()
    live = LiveRegistry(dataclasses.replace(config, check_seconds=1), clock)
    before = live.current()
    append_client(config)
    clock.seconds += 1
    looks = count_stats(config.path, monkeypatch)
    start = threading.Barrier(8)
    served = []

    def ask() -> None:
        start.wait()
        served.append(live.current())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(looks) == 1
    # Each thread got a whole registry: the old one while another thread was reading, or the new one.
    assert all(registry is before or registry.client("late-portal") for registry in served)
    assert live.current().client("late-portal") is not None


def test_start_up_stops_on_an_invalid_file(tmp_path: Path) -> None:
    settings = load_settings(broker_environ(tmp_path))
    break_service(settings.config)
    with pytest.raises(ConfigError, match="field 'minimum_loa'"):
        create_app(settings)


def test_the_check_interval_is_a_setting(tmp_path: Path) -> None:
    assert load_settings(broker_environ(tmp_path, BROKER_CONFIG_CHECK_SECONDS="")).config.check_seconds == 1
    assert load_settings(broker_environ(tmp_path, BROKER_CONFIG_CHECK_SECONDS="5")).config.check_seconds == 5
    with pytest.raises(ConfigError, match="BROKER_CONFIG_CHECK_SECONDS must be a whole number"):
        load_settings(broker_environ(tmp_path, BROKER_CONFIG_CHECK_SECONDS="0.5"))


def count_stats(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The looks at `path` from now on (each an `os.stat`)."""
    looks: list[Path] = []
    real_stat = os.stat

    def stat(target: os.PathLike[str] | str, *args: object, **kwargs: object) -> os.stat_result:
        if Path(target) == path:
            looks.append(path)
        return real_stat(target, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    return looks
