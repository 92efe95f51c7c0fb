"""An app that sends its AuthnRequests by HTTP-Redirect instead of HTTP-POST."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from broker import create_app
from config import load_settings
from tests.conftest import MovableClock, broker_environ


@pytest.fixture(scope="session")
def redirect_app(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("redirect-instance")
    app = create_app(load_settings(broker_environ(instance, BROKER_SAML_REQUEST_BINDING="redirect")), clock)
    with app.app_context():
        upgrade()
    yield app


@pytest.fixture
def redirect_client(redirect_app: Flask) -> FlaskClient:
    return redirect_app.test_client()
