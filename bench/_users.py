"""Users signing in over and over, each sign-in kept with how it ended: the driver of
`bench/load.py` and `bench/soak.py`.

A sign-in runs the steps of `_signin_flow` and ends in one of these outcomes:

- `completed`: the portal has its tokens and the userinfo;
- `clean`: the broker answered in protocol form: an OAuth error to the portal (a redirect with
  `error`, or the token endpoint's JSON), or its bilingual error page with a 4xx;
- `server error`: the bilingual page or JSON, but with a 5xx;
- `no answer`: the connection closed or failed without an answer (a worker gone, say);
- `unclean`: anything else (another page, a broken answer).

The user's part (authorize, the simulator, the ACS) is not repeated when it fails: the person
would start again from the portal, and so does the bench's user. Once the ACS has sent the user
back with a code, the portal's own calls are: the token request and userinfo are tried again,
for up to `retry_seconds`, after no answer or a 5xx, as a portal's back end does; a code issued
but never redeemed is a lost sign-in.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from bench._signin_flow import (
    ACS_TO_TOKEN,
    STEPS,
    TOTAL,
    FlowError,
    Http,
    Reply,
    SocketHttp,
    Timer,
    read_userinfo,
    redeem,
    to_code,
)

COMPLETED, CLEAN, SERVER_ERROR, NO_ANSWER, UNCLEAN = (
    "completed",
    "clean",
    "server error",
    "no answer",
    "unclean",
)
RETRY_PAUSE = 0.25
T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One HTTP request of a sign-in: its step, when it ran (perf_counter), its status (None: no answer)."""

    step: str
    start: float
    end: float
    status: int | None

    @property
    def failed(self) -> bool:
        """No answer, or a 5xx."""
        return self.status is None or self.status >= 500


@dataclass
class Ending:
    """How one sign-in ended."""

    start: float
    end: float
    outcome: str
    kind: str = ""  # the step and what it answered, for all but `completed`
    times: dict[str, float] = field(default_factory=dict)
    code_issued: bool = False
    code_redeemed: bool = False
    retried: list[str] = field(default_factory=list)  # the portal's calls tried again: what they met first


class NoAnswer(Exception):
    def __init__(self, step: str, error: OSError) -> None:
        super().__init__(f"{step}: no answer ({type(error).__name__}: {error})")
        self.step, self.error = step, error


class Recorder(Timer):
    """The step timer that also keeps every call, and turns a failed connection into `NoAnswer`."""

    def __init__(self, calls: list[Call]) -> None:
        super().__init__()
        self.calls = calls

    def run(self, step: str, call: Any, *args: Any, **kwargs: Any) -> Reply:
        start = time.perf_counter()
        try:
            reply = super().run(step, call, *args, **kwargs)
        except OSError as error:
            self.calls.append(Call(step, start, time.perf_counter(), None))
            raise NoAnswer(step, error) from error
        self.calls.append(Call(step, start, time.perf_counter(), reply.status))
        return reply


def sign_in_once(http: Http, binding: str, calls: list[Call], retry_seconds: float) -> Ending:
    timer = Recorder(calls)
    start = time.perf_counter()
    try:
        code = to_code(http, binding, timer)
    except (FlowError, NoAnswer) as error:
        outcome, kind = describe(error)
        return Ending(start, time.perf_counter(), outcome, kind)
    ending = Ending(start, start, COMPLETED, code_issued=True)
    try:
        access_token = _persist(lambda: redeem(http, code, timer), retry_seconds, ending.retried)
        ending.code_redeemed = True
        _persist(lambda: read_userinfo(http, access_token, timer), retry_seconds, ending.retried)
    except (FlowError, NoAnswer) as error:
        ending.outcome, ending.kind = describe(error)
    else:
        ending.times = timer.finish()
    ending.end = time.perf_counter()
    return ending


def _persist(call: Callable[[], T], seconds: float, retried: list[str]) -> T:
    """`call`, tried again after no answer or a 5xx until `seconds` have passed."""
    deadline = time.perf_counter() + seconds
    while True:
        try:
            return call()
        except (FlowError, NoAnswer) as error:
            if not _worth_retrying(error) or time.perf_counter() >= deadline:
                raise
            retried.append(describe(error)[1])
        time.sleep(RETRY_PAUSE)


def _worth_retrying(error: FlowError | NoAnswer) -> bool:
    return isinstance(error, NoAnswer) or (error.reply is not None and error.reply.status >= 500)


_PAGE_CODE = re.compile(r'<p class="reference">.*?<code>[0-9a-f]+</code> \((\w+)\)</p>', re.DOTALL)


def describe(error: FlowError | NoAnswer) -> tuple[str, str]:
    """The outcome a failed step gives its sign-in, and its kind: the step and what it answered."""
    if isinstance(error, NoAnswer):
        return NO_ANSWER, f"{error.step}: no answer ({type(error.error).__name__})"
    reply, step = error.reply, error.step
    if reply is None:
        return UNCLEAN, f"{step}: {error}"
    severity = SERVER_ERROR if reply.status >= 500 else CLEAN
    location = reply.headers.get("Location", "")
    if 300 <= reply.status < 400 and "error=" in location:
        oauth_error = parse_qs(urlsplit(location).query).get("error", ["?"])[0]
        return CLEAN, f"{step}: OAuth error {oauth_error} to the portal"
    if reply.headers.get("Content-Type", "").startswith("application/json"):
        try:
            oauth_error = str(reply.json().get("error", "?"))
        except ValueError:
            return UNCLEAN, f"{step}: HTTP {reply.status}, broken JSON"
        return severity, f"{step}: HTTP {reply.status} {oauth_error}"
    page = _PAGE_CODE.search(reply.text)
    if page is not None:
        return severity, f"{step}: HTTP {reply.status} page {page.group(1)}"
    return UNCLEAN, f"{step}: HTTP {reply.status} {reply.text[:80]!r}"


@dataclass
class Crowd:
    """What `users` users, signing in over and over, have done so far."""

    calls: list[Call] = field(default_factory=list)
    endings: list[Ending] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def completed(self) -> list[Ending]:
        return [ending for ending in self.endings if ending.outcome == COMPLETED]


def drive(
    crowd: Crowd,
    base_url: str,
    binding: str,
    users: int,
    until: Callable[[], bool],
    retry_seconds: float,
    after_each: Callable[[int], None] | None = None,
) -> list[threading.Thread]:
    """Start `users` threads, each signing in over and over until `until()`; `after_each(n)` is told
    the number of sign-ins ended so far. The threads are returned, started."""

    def user() -> None:
        http, calls = SocketHttp(base_url), []
        while not until():
            ending = sign_in_once(http, binding, calls, retry_seconds)
            with crowd.lock:
                crowd.endings.append(ending)
                crowd.calls += calls
                ended = len(crowd.endings)
            calls = []
            if after_each is not None:
                after_each(ended)

    threads = [threading.Thread(target=user, daemon=True) for _ in range(users)]
    for thread in threads:
        thread.start()
    return threads


def join(threads: list[threading.Thread], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError(f"users still signing in {timeout:.0f} s after the end")


def percentiles(endings: list[Ending], step: str) -> tuple[float, float, float]:
    """p50, p95 and p99 of a step's wall time over completed sign-ins, in ms."""
    times = [ending.times[step] for ending in endings if ending.times]
    if len(times) < 2:
        return (float("nan"),) * 3
    cuts = statistics.quantiles(times, n=100)
    return (1000 * cuts[49], 1000 * cuts[94], 1000 * cuts[98])


REPORTED_STEPS = (*STEPS, ACS_TO_TOKEN, TOTAL)
