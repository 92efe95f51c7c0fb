"""What the app holds from start-up: settings, the upstream HM connection, the simulator."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from broker.upstream import Upstream
from config import Settings
from saml.simulator import SimulatorHm


@dataclass(frozen=True)
class BrokerRuntime:
    settings: Settings
    upstream: Upstream
    simulator: SimulatorHm | None


def runtime() -> BrokerRuntime:
    """The running app's BrokerRuntime."""
    return current_app.extensions["broker"]
