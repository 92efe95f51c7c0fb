"""The broker served for real over TLS for the independent relying parties, and the user's browser."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask_migrate import upgrade
from werkzeug.serving import make_server

from broker import create_app
from config import load_settings
from tests.conftest import broker_environ
from tests.interop.serving import Tls
from tests.pki import certificate_authority, server_certificate, server_context


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A CA made for this run, and a server certificate it issued for 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    ca = certificate_authority(folder, "ca", "eh-broker interop test CA")
    return Tls(ca.cert_path, server_context(server_certificate(folder, "server", ca, ("127.0.0.1",))))


def _not_yet(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory, tls: Tls) -> Iterator[str]:
    """The broker on a free port of 127.0.0.1, its issuer (= base URL) the URL it is served at."""
    server = make_server("127.0.0.1", 0, _not_yet, threaded=True, ssl_context=tls.context)
    base_url = f"https://127.0.0.1:{server.port}"
    environ = broker_environ(tmp_path_factory.mktemp("instance"), BROKER_BASE_URL=base_url)
    app = create_app(load_settings(environ))
    with app.app_context():
        upgrade()
    server.app = app
    thread = threading.Thread(target=server.serve_forever, name="broker", daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def browser(tls: Tls) -> Iterator[requests.Session]:
    """The user's browser: trusts the test CA, keeps cookies."""
    with requests.Session() as session:
        # Not the environment's CA bundle (REQUESTS_CA_BUNDLE would override `verify`), nor its proxies.
        session.trust_env = False
        session.verify = str(tls.ca_file)
        yield session
