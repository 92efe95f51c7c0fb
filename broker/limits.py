"""Rate limits at the steps of a sign-in: per address and per client (Flask-Limiter).

- authorize (/oidc/authorize): per address and per client (the `client_id` asked for), before
  the view;
- acs (/saml/acs): per address, before the view (only the stored request knows the client, and its
  sign-in was counted at authorize);
- token (/oidc/token, and /oidc/par, which authenticates clients alike): per address and per
  client (the client authenticating: Basic, `client_id`, or the assertion's `sub`), before the view;
- userinfo (/oidc/userinfo): per address, before the view (a bearer token names no client until
  it is looked up);
- picker (/oidc/establishment): per address before the view, per client once the choice is read;
- retry ("try again" there, which asks KvK again): per address and per client, in the view.

A client is counted only when the configuration names it: made-up `client_id`s cannot fill the
store with counters. (Anyone can name a real portal's `client_id`: the per-client limits are
capacity limits, set well above any one portal's peak, so one portal cannot take the broker's
capacity from the others.) Counters are fixed windows in
Redis when `BROKER_REDIS_URL` is set (shared by every worker and instance), in each worker's
memory otherwise; a Redis that stops answering is replaced by memory until it is back (the
limits hold per worker meanwhile), never by an error page. Counting costs no database statement.

Over a limit the answer is a 429 with `Retry-After`, in the step's protocol: at the token endpoint
an OAuth error in JSON (`slow_down`, the registered error for a client that asks too often), at the
others the bilingual page. The address is never logged (it is personal data).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import ClassVar
from urllib.parse import unquote

from flask import Flask, current_app, g, jsonify, make_response, request
from flask_limiter import Limiter, RequestLimit
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import RateLimiter
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from broker import metrics
from broker.runtime import runtime
from broker.web.errors import TOO_MANY_REQUESTS, error_page
from config.settings import RateLimits

log = logging.getLogger("broker.limits")

ADDRESS, CLIENT = "address", "client"
_PREFIX = "eh-broker"
# The endpoints each step's limits apply to (each endpoint counting on its own): the token step's
# also to introspection, revocation and pushed authorization requests, which a portal's server
# calls with the same authentication.
_ENDPOINTS = {
    "authorize": ("oidc.authorize",),
    "acs": ("saml.acs",),
    "token": ("oidc.token", "oidc.introspect", "oidc.revoke", "oidc.pushed_authorization"),
    "userinfo": ("oidc.userinfo",),
    "picker": ("establishment.answer",),
}
# A client_assertion longer than this is not read for its subject (the endpoint refuses it anyway).
_ASSERTION_CAP = 8192
SWEEP_SECONDS = 1.0


@dataclass(frozen=True)
class _Counted:
    """Limits counted in the view, once what they key on is known."""

    limiter: Limiter
    limits: dict[tuple[str, str], list[RateLimitItem]]

    def check(self, step: str, client_id: str) -> None:
        keys = {ADDRESS: _address(), CLIENT: client_id}
        for (counted, kind), items in self.limits.items():
            if counted != step:
                continue
            strategy: RateLimiter = self.limiter.limiter
            arguments = (_PREFIX, f"{step}-{kind}", keys[kind])
            for item in items:
                try:
                    allowed = strategy.hit(item, *arguments)
                except Exception:  # any storage failure: availability comes first
                    log.warning("rate limit storage unavailable; %s not counted", step, exc_info=True)
                    return
                if not allowed:
                    reset = strategy.get_window_stats(item, *arguments).reset_time
                    raise TooManyRequests(response=too_many(step, kind, reset))


class SweptMemoryStorage(MemoryStorage):
    """limits' counters in this worker's memory, old ones dropped by the request that counts, at
    most once every SWEEP_SECONDS.

    limits' own MemoryStorage drops them from a `threading.Timer` of 10 ms that it starts anew at
    any count that finds the last one finished: on a worker not flat out, a thread started and
    ended for almost every request, some 0.4 ms of CPU each. A counter past its window counts for
    nothing either way (limits drops it when it reads it); the sweep only keeps the memory in bounds.
    """

    STORAGE_SCHEME: ClassVar[list[str]] = ["eh-broker-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        # The timer limits has just started, stopped for good.
        self.timer.cancel()
        self.timer.join()
        self._next_sweep = 0.0
        self._sweeping = threading.Lock()

    # MemoryStorage calls `self.__schedule_expiry()` after each count: this is that name, mangled.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + SWEEP_SECONDS
            self._MemoryStorage__expire_events()
        finally:
            self._sweeping.release()


def init_app(app: Flask, settings: RateLimits) -> None:
    """Count requests at the steps of a sign-in; nothing when the limits are off."""
    if not settings.enabled:
        return
    limiter = Limiter(
        key_func=_address,
        storage_uri=settings.redis_url or f"{SweptMemoryStorage.STORAGE_SCHEME[0]}://",
        # A hung Redis must not hold a sign-in: memory stands in after half a second.
        storage_options={"socket_timeout": 0.5, "socket_connect_timeout": 0.5} if settings.redis_url else {},
        strategy="fixed-window",
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        headers_enabled=False,
        key_prefix=_PREFIX,
    )
    limiter.init_app(app)
    # No limit applies to the whole app (no default or application limits): the check Flask-Limiter
    # makes before every request would count nothing. Each step's limits are counted by its view's
    # wrapper (below), which also stands in memory for a Redis that stops answering.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    # Flask-Limiter logs each breach with its key, which may be an address: ours says less.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    before = {
        ("authorize", ADDRESS): settings.authorize_address,
        ("authorize", CLIENT): settings.authorize_client,
        ("acs", ADDRESS): settings.acs_address,
        ("token", ADDRESS): settings.token_address,
        ("token", CLIENT): settings.token_client,
        ("userinfo", ADDRESS): settings.userinfo_address,
        ("picker", ADDRESS): settings.picker_address,
    }
    clients = {"authorize": _authorize_client, "token": _token_client}
    for (step, kind), value in before.items():
        if value is None:
            continue
        key = _address if kind == ADDRESS else _known(clients[step])
        for endpoint in _ENDPOINTS[step]:
            # This app's view, wrapped: the limiter counts in the wrapper, before the view runs.
            app.view_functions[endpoint] = limiter.limit(
                value,
                key_func=key,
                scope=f"{step}-{kind}",
                exempt_when=(lambda key=key: key() is None) if kind == CLIENT else None,
                on_breach=partial(_breached, step, kind),
            )(app.view_functions[endpoint])
    in_view = {
        ("picker", CLIENT): settings.picker_client,
        ("retry", ADDRESS): settings.retry_address,
        ("retry", CLIENT): settings.retry_client,
    }
    app.extensions["broker_limits"] = _Counted(
        limiter, {counted: parse_many(value) for counted, value in in_view.items() if value is not None}
    )


def check(step: str, client_id: str) -> None:
    """At `step` (picker, retry), once its client is known: count this request; over a limit,
    raise TooManyRequests carrying the 429 page."""
    counted: _Counted | None = current_app.extensions.get("broker_limits")
    if counted is not None:
        counted.check(step, client_id)


def too_many(step: str, kind: str, reset_at: float) -> Response:
    """The 429 for `step`, with Retry-After: JSON where a portal's server calls (token, userinfo),
    else the bilingual page."""
    seconds = max(1, math.ceil(reset_at - time.time()))
    metrics.rate_limited(step, kind)
    reference = secrets.token_hex(6)
    log.info("rate limited step=%s key=%s retry_after=%d ref=%s", step, kind, seconds, reference)
    if step in {"token", "userinfo"}:
        response = jsonify(error="slow_down", error_description=f"too many requests; retry after {seconds} s")
        response.status_code = 429
    else:
        response = make_response(
            error_page(TOO_MANY_REQUESTS, reference, "too_many_requests", seconds=str(seconds))
        )
    response.headers["Retry-After"] = str(seconds)
    return response


def _breached(step: str, kind: str, limit: RequestLimit) -> Response:
    return too_many(step, kind, limit.window.reset_time)


def _address() -> str:
    # The peer, or the client's address as the trusted proxies report it (BROKER_PROXY_COUNT).
    return request.remote_addr or "unknown"


def _known(find: Callable[[], str | None]) -> Callable[[], str | None]:
    """`find`'s client id when the configuration names that client, else None; once per request."""

    def key() -> str | None:
        cache: dict[Callable[[], str | None], str | None] = g.setdefault("_limit_clients", {})
        if find not in cache:
            candidate = find()
            cache[find] = candidate if candidate and runtime().registry().client(candidate) else None
        return cache[find]

    return key


def _authorize_client() -> str | None:
    return request.values.get("client_id")


def _token_client() -> str | None:
    """The client a token request authenticates as, as far as the request says (not yet checked)."""
    basic = request.authorization
    if basic is not None and basic.type == "basic" and basic.username:
        return unquote(basic.username)
    if request.form.get("client_id"):
        return request.form["client_id"]
    return _assertion_subject(request.form.get("client_assertion", ""))


def _assertion_subject(assertion: str) -> str | None:
    """The `sub` of a client assertion (a JWT), read without checking it: only a counter's key."""
    parts = assertion.split(".")
    if len(assertion) > _ASSERTION_CAP or len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) else None
