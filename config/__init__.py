"""Settings for eh-broker: typed values read from the environment at start-up."""

from config.env import load_settings
from config.settings import (
    Binding,
    ConfigError,
    KeyPair,
    NextKey,
    Profile,
    SamlSettings,
    Service,
    Settings,
)

__all__ = [
    "Binding",
    "ConfigError",
    "KeyPair",
    "NextKey",
    "Profile",
    "SamlSettings",
    "Service",
    "Settings",
    "load_settings",
]
