"""BROKER_SAML_DATA_ENCRYPTION: the ciphers encrypted assertions and identifiers may use."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, DataEncryption, load_settings
from tests.conftest import broker_environ

VARIABLE = "BROKER_SAML_DATA_ENCRYPTION"


def test_unset_it_is_aes_gcm(tmp_path: Path) -> None:
    settings = load_settings(broker_environ(tmp_path))
    assert settings.saml.data_encryption == {DataEncryption.AES128_GCM, DataEncryption.AES256_GCM}


def test_an_operator_adds_cbc_by_its_short_name(tmp_path: Path) -> None:
    settings = load_settings(broker_environ(tmp_path, **{VARIABLE: "aes256-gcm, AES128-CBC"}))
    assert settings.saml.data_encryption == {DataEncryption.AES256_GCM, DataEncryption.AES128_CBC}


@pytest.mark.parametrize("value", ["tripledes-cbc", "aes256-gcm,", "aes256gcm", "aes192-gcm"])
def test_an_unknown_name_stops_start_up(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{VARIABLE} must name one or more of aes128-gcm, aes256-gcm, "):
        load_settings(broker_environ(tmp_path, **{VARIABLE: value}))
