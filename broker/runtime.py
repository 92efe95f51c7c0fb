"""What the app holds: settings, the current services and clients, the HM connection, the simulator,
the OpenID provider, the KvK Handelsregister."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from flask import current_app

from broker.handelsregister import Handelsregister
from broker.oidc.provider import Provider
from broker.upstream import Upstream
from config import Registry, Settings
from saml.simulator import SimulatorHm


@dataclass(frozen=True)
class BrokerRuntime:
    settings: Settings
    # The services and clients to serve now: ask again for every use, never keep the answer.
    registry: Callable[[], Registry]
    upstream: Upstream
    simulator: SimulatorHm | None
    provider: Provider
    authorization: AuthorizationServer
    protector: ResourceProtector
    # The KvK Handelsregister, for services that require an establishment.
    register: Handelsregister


def runtime() -> BrokerRuntime:
    """The running app's BrokerRuntime."""
    return current_app.extensions["broker"]
