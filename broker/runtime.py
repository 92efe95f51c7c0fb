"""What the app holds from start-up: settings, the HM connection, the simulator, the OpenID provider."""

from __future__ import annotations

from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from flask import current_app

from broker.oidc.provider import Provider
from broker.upstream import Upstream
from config import Settings
from saml.simulator import SimulatorHm


@dataclass(frozen=True)
class BrokerRuntime:
    settings: Settings
    upstream: Upstream
    simulator: SimulatorHm | None
    provider: Provider
    authorization: AuthorizationServer
    protector: ResourceProtector


def runtime() -> BrokerRuntime:
    """The running app's BrokerRuntime."""
    return current_app.extensions["broker"]
