"""An app that sends its AuthnRequests by HTTP-Redirect instead of HTTP-POST."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import MovableClock, migrated_app


@pytest.fixture(scope="session")
def redirect_app(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Flask:
    instance = tmp_path_factory.mktemp("redirect-instance")
    return migrated_app(instance, clock, BROKER_SAML_REQUEST_BINDING="redirect")


@pytest.fixture
def redirect_client(redirect_app: Flask) -> FlaskClient:
    return redirect_app.test_client()
