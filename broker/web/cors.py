"""Cross-origin reads of the OpenID endpoints, for portals that run in the browser.

Discovery and the keys are public documents: any page may read them. The token and userinfo
endpoints answer a page only on the origin of a public client's redirect URI (a single-page app
with PKCE): a confidential client keeps its secret on its server and has no reason to call them
from a browser. No cookies cross: nothing here authenticates by them, so no Allow-Credentials.
"""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from broker.runtime import runtime

_PUBLIC = frozenset({"oidc.discovery", "oidc.jwks"})
_FOR_PUBLIC_CLIENTS = frozenset({"oidc.token", "oidc.userinfo"})
_PREFLIGHT_SECONDS = "600"


def cross_origin(response: Response) -> Response:
    """Let the page at the request's Origin read `response` when it may (after_request)."""
    origin = request.headers.get("Origin")
    if request.endpoint in _FOR_PUBLIC_CLIENTS:
        # The answer differs by Origin: no cache may hand one origin's answer to another.
        response.vary.add("Origin")
        if origin is None or not runtime().registry().is_browser_origin(origin):
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
    elif request.endpoint in _PUBLIC and origin is not None:
        response.headers["Access-Control-Allow-Origin"] = "*"
    else:
        return response
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Max-Age"] = _PREFLIGHT_SECONDS
    else:
        # A refused bearer token says why in this header (RFC 6750 §3).
        response.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
    return response
