"""What every answer and every request gets in front of the views: the proxies trusted, the size
of what a request may carry, and HSTS in production.

- `BROKER_PROXY_COUNT` (0 by default): behind that many reverse proxies, each appending to
  X-Forwarded-For and setting X-Forwarded-Proto, the client's address and scheme are taken from
  them (Werkzeug's ProxyFix); with 0 the headers are ignored, as anyone can send them. The
  address is what the rate limits count.
- Requests: the body is capped per endpoint (a SAML message at the ACS and the simulator, the
  global `MAX_CONTENT_LENGTH`; 16 KiB at the token, userinfo and picker endpoints, whose
  forms are small), the query string at 32 KiB everywhere but /oidc/authorize, which caps its own
  parameters and answers the portal in protocol form. (gunicorn refuses a request line over 4094
  bytes before the broker sees it, its `limit_request_line`; this cap holds under any server.)
- HSTS on every answer in production, whose URLs are all https (a browser ignores the header on
  an http answer).
"""

from __future__ import annotations

from flask import Flask, abort, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

# Bytes of body the small forms may carry: a code, a verifier and a client assertion; a token; a choice.
SMALL_BODY = 16 * 1024
SMALL_BODIES = frozenset(
    {"oidc.token", "oidc.userinfo", "oidc.introspect", "oidc.revoke", "establishment.answer"}
)
# The endpoints that answer in OAuth's JSON, not with a page.
_JSON_ANSWERS = frozenset({"oidc.token", "oidc.userinfo", "oidc.introspect", "oidc.revoke"})
# Bytes of query string any endpoint but authorize takes: an artifact and its RelayState need ~200,
# the simulator's HTTP-Redirect request a few thousand.
QUERY_CAP = 32 * 1024
_OWN_CAPS = frozenset({"oidc.authorize"})
HSTS = "max-age=31536000"


def init_app(app: Flask, proxy_count: int, production: bool) -> None:
    """Before any other request hook: the caps must hold before anything reads the body."""
    if proxy_count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxy_count, x_proto=proxy_count)  # type: ignore[method-assign]
    app.before_request(_caps)
    if production:
        app.after_request(_hsts)


def _caps() -> Response | None:
    endpoint = request.endpoint or ""
    if endpoint not in _OWN_CAPS and len(request.query_string) > QUERY_CAP:
        abort(414)
    if endpoint in SMALL_BODIES:
        if (request.content_length or 0) > SMALL_BODY and endpoint in _JSON_ANSWERS:
            too_large = f"the request body is larger than {SMALL_BODY} bytes"
            answer = jsonify(error="invalid_request", error_description=too_large)
            answer.status_code = 413
            return answer
        # Also for a body whose length is not declared: reading past the cap ends in a 413.
        request.max_content_length = SMALL_BODY
        request.max_form_memory_size = SMALL_BODY
    return None


def _hsts(response: Response) -> Response:
    response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
