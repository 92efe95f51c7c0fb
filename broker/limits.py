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
memory otherwise; a Redis that stops answering is replaced by memory, tried again every 30 s
until it is back (the limits hold per worker meanwhile), never by an error page. Flask-Limiter
keeps the storage and the strategy; the steps count through them in a wrapper of their own (see
`_Counted`). Counting costs no database statement.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, ClassVar
from urllib.parse import unquote

from flask import Flask, current_app, jsonify, make_response, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter
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
# How long a storage that failed is left alone before it is tried again.
STORAGE_RETRY_SECONDS = 30


Key = Callable[[], str | None]


@dataclass
class _Counted:
    """Every step's limits, counted through Flask-Limiter's strategy and storage (Redis, or this
    worker's memory), by a wrapper around each step's view or in the view: Flask-Limiter's own
    decorators cost a sign-in about 1 ms of CPU (they resolve and filter every limit anew for each
    request), where the counting is a few hits on the storage.

    A storage that fails is replaced by this worker's memory for STORAGE_RETRY_SECONDS, then tried
    again: a Redis that stops answering costs no request more than its half-second timeout in that
    time, and never an error page."""

    limiter: Limiter
    limits: dict[tuple[str, str], list[RateLimitItem]]
    memory: RateLimiter
    retry_at: float = 0.0  # while the storage is away: when to try it again

    def check(self, step: str, keys: Mapping[str, Key], where: str) -> None:
        """Count this request at `step` in the counters of `where` (an endpoint, or the step)."""
        for (counted, kind), items in self.limits.items():
            key = keys[kind]() if counted == step else None
            if key is None:
                continue  # another step's limit, or a client the configuration does not name
            arguments = (_PREFIX, f"{step}-{kind}", where, key)
            for item in items:
                allowed, strategy = self._hit(item, arguments)
                if not allowed:
                    reset = strategy.get_window_stats(item, *arguments).reset_time
                    raise TooManyRequests(response=too_many(step, kind, reset))

    def _hit(self, item: RateLimitItem, arguments: tuple[str, ...]) -> tuple[bool, RateLimiter]:
        """Count one hit: allowed or not, and the strategy that counted it."""
        if time.monotonic() >= self.retry_at:
            strategy: RateLimiter = self.limiter.limiter
            try:
                allowed = strategy.hit(item, *arguments)
            except Exception:  # any storage failure: availability comes first
                self.retry_at = time.monotonic() + STORAGE_RETRY_SECONDS
                log.warning(
                    "rate limit storage unavailable; counting in this worker's memory for %d s",
                    STORAGE_RETRY_SECONDS,
                    exc_info=True,
                )
            else:
                if self.retry_at:
                    self.retry_at = 0.0
                    log.info("rate limit storage available again")
                return allowed, strategy
        return self.memory.hit(item, *arguments), self.memory


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
        swallow_errors=True,
        headers_enabled=False,
        key_prefix=_PREFIX,
    )
    limiter.init_app(app)
    # No limit applies to the whole app (no default or application limits): the check Flask-Limiter
    # makes before every request would count nothing. Each step counts in its view's wrapper
    # (below) or in its view, through `_Counted`.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    # Flask-Limiter logs each breach with its key, which may be an address: ours says less.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    values = {
        ("authorize", ADDRESS): settings.authorize_address,
        ("authorize", CLIENT): settings.authorize_client,
        ("acs", ADDRESS): settings.acs_address,
        ("token", ADDRESS): settings.token_address,
        ("token", CLIENT): settings.token_client,
        ("userinfo", ADDRESS): settings.userinfo_address,
        ("picker", ADDRESS): settings.picker_address,
        ("picker", CLIENT): settings.picker_client,
        ("retry", ADDRESS): settings.retry_address,
        ("retry", CLIENT): settings.retry_client,
    }
    counted = _Counted(
        limiter,
        {limit: parse_many(value) for limit, value in values.items() if value is not None},
        FixedWindowRateLimiter(SweptMemoryStorage()),
    )
    app.extensions["broker_limits"] = counted
    # The steps counted before their view: a wrapper around it, its keys read from the request.
    clients: dict[str, Key] = {"authorize": _authorize_client, "token": _token_client}
    for step, endpoints in _ENDPOINTS.items():
        keys = {ADDRESS: _address, CLIENT: _known(clients.get(step, _no_client))}
        for endpoint in endpoints:
            app.view_functions[endpoint] = _counting(
                counted, step, keys, endpoint, app.view_functions[endpoint]
            )


def _counting(
    counted: _Counted, step: str, keys: Mapping[str, Key], endpoint: str, view: Callable[..., Any]
) -> Callable[..., Any]:
    """`view`, counting each request at `step` first (each endpoint on its own counters)."""

    @wraps(view)
    def counting(*args: Any, **kwargs: Any) -> Any:
        counted.check(step, keys, endpoint)
        return view(*args, **kwargs)

    return counting


def check(step: str, client_id: str) -> None:
    """At `step` (picker, retry), once its client is known: count this request; over a limit,
    raise TooManyRequests carrying the 429 page."""
    counted: _Counted | None = current_app.extensions.get("broker_limits")
    if counted is not None:
        # A step counted before its view as well (the picker) has had its address counted there.
        address = _no_client if step in _ENDPOINTS else _address
        counted.check(step, {ADDRESS: address, CLIENT: lambda: client_id}, step)


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


def _address() -> str:
    # The peer, or the client's address as the trusted proxies report it (BROKER_PROXY_COUNT).
    return request.remote_addr or "unknown"


def _known(find: Key) -> Key:
    """`find`'s client id when the configuration names that client, else None."""

    def key() -> str | None:
        candidate = find()
        return candidate if candidate and runtime().registry().client(candidate) else None

    return key


def _no_client() -> None:
    return None


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
