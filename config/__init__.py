"""Settings for eh-broker: typed values read from the environment at start-up; the registry of
services and clients read from the configuration file."""

from config.env import load_settings
from config.registry import ConfigFile, Registry
from config.settings import (
    DEFAULT_HM,
    Binding,
    ConfigError,
    DataEncryption,
    HmSettings,
    KeyPair,
    KvkSettings,
    NextKey,
    Profile,
    SamlSettings,
    Service,
    Settings,
)

__all__ = [
    "DEFAULT_HM",
    "Binding",
    "ConfigError",
    "ConfigFile",
    "DataEncryption",
    "HmSettings",
    "KeyPair",
    "KvkSettings",
    "NextKey",
    "Profile",
    "Registry",
    "SamlSettings",
    "Service",
    "Settings",
    "load_settings",
]
