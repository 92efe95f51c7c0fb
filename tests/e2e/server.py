"""A broker app served over real HTTP on a free loopback port, for tests that use it as portals and
browsers do."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(app: Flask, port: int, tls: ssl.SSLContext | None = None) -> Iterator[None]:
    """`app` answering at 127.0.0.1:`port` (over TLS with `tls`) until the block ends."""
    server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=tls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
