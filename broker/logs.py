"""The broker's log lines: JSON for machines (`BROKER_LOG_FORMAT=json`, production's default) or text
for people (the default elsewhere, `make run`); each line of a request says which request and,
once known, which sign-in.

- Request id: `X-Request-ID` from the proxy when it looks like one (8 to 64 letters, digits,
  `.`, `_`, `-`), else a new random one; sent back in the answer's `X-Request-ID`.
- Sign-in reference: the ID of the SAML request the sign-in sent the HM (the HM's logs know it
  too, as InResponseTo). /oidc/authorize makes it, the ACS finds it from the RelayState, the
  picker from the pending choice and /oidc/token from the code, which both keep it.
- One line per request when it is answered: endpoint, status, duration (not for the health and
  metrics endpoints, which are polled).

A JSON line: `time` (ISO 8601, UTC), `level`, `logger`, `event` (the message), `request_id`,
`sign_in` and what a line adds (`endpoint`, `status`, `duration_ms`; `exc_info`). The message's
values are made safe by `broker.logsafe` as the record is made, as for text; JSON escapes the rest,
and an exception's traceback is the safe one. At INFO nothing names a person: pseudonyms and KvK
numbers are kept in the audit trail, not here.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from types import TracebackType
from typing import IO

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter
from werkzeug.wrappers import Response

from broker import logsafe

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Polled every few seconds: a line each would drown the rest.
_QUIET = frozenset({"health.healthz", "health.readyz", "metrics.scrape", "static"})
log = logging.getLogger("broker.request")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def init_app(app: Flask, log_format: str) -> None:
    """Records made safe and carrying their request's context; a handler in `log_format` when the
    process has none (gunicorn, `flask run`); a line per request."""
    logsafe.install()
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(handler(log_format))
        root.setLevel(logging.INFO)
    app.logger.setLevel(logging.INFO)
    app.before_request(_begin)
    app.after_request(_answered)


def handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing `log_format` lines to `stream` (stderr by default), each record with its
    request's context."""
    made = logging.StreamHandler(stream)
    made.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    made.addFilter(RequestContext())
    return made


class JsonLines(JsonFormatter):
    """One JSON object per line, its names the broker's."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger", "message": "event"},
            timestamp="time",
        )

    def formatException(self, ei: ExcInfo) -> str:
        # The traceback with each exception's message escaped and cut, as in text lines.
        return logsafe.safe_traceback(ei[1]) if ei[1] is not None else super().formatException(ei)


def sign_in(reference: str | None) -> None:
    """From here on this request's lines name the sign-in `reference` (a SAML request's ID)."""
    if reference and has_request_context():
        g.sign_in = reference


def current_sign_in() -> str | None:
    """The reference of the sign-in this request works on, if known."""
    return g.get("sign_in") if has_request_context() else None


def _begin() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else secrets.token_hex(8)
    g.request_started = time.perf_counter()


def _answered(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
    endpoint = request.endpoint or "-"
    if endpoint not in _QUIET and "request_started" in g:
        duration = round(1000 * (time.perf_counter() - g.request_started), 1)
        log.info(
            "request endpoint=%s status=%d duration_ms=%.1f",
            endpoint,
            response.status_code,
            duration,
            extra={"endpoint": endpoint, "status": response.status_code, "duration_ms": duration},
        )
    return response


class RequestContext(logging.Filter):
    """Gives each record handled while a request is served its request id and the sign-in
    reference (when known)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id")
            record.sign_in = g.get("sign_in")
        return True
