"""Load and failure test: whole sign-ins through gunicorn on a PostgreSQL of its own, steady, then
with a worker killed and with PostgreSQL restarted mid-run.

Run from the repository root: `.venv/bin/python bench/load.py`
  options: --users 8, --seconds 60 (per phase), --phases steady,kill,restart, --workers 2,
  --binding artifact|post, --restart-mode fast|immediate, --redis (rate-limit counters in a Redis
  of the bench's own), --retry-seconds 20, --gunicorn-args "...", --log FILE (keep gunicorn's).

The bench makes its own PostgreSQL cluster (initdb in a temporary folder, a spare loopback port;
as the postgres user when run as root) and removes it afterwards; it starts
`gunicorn --workers 2 wsgi:app` with the repository's gunicorn.conf.py, in the development profile
(for the simulator) with everything production has on: rate limits (set far above what the bench
sends), the workers' housekeeping, Prometheus's multiprocess mode. `--users` threads sign in over
and over through the simulator, each sign-in from authorize to userinfo (see `bench/_users.py` for
how a sign-in ends and what a portal tries again). Phases, `--seconds` each:

1. steady: sign-ins/s, p50/p95/p99 per step, sign-ins ended otherwise by kind;
2. kill: halfway, one gunicorn worker gets SIGKILL; gunicorn's master starts another;
3. restart: halfway, PostgreSQL is restarted (`pg_ctl restart -m fast`: connections cut).

Checked in every phase, and the exit status is 1 when one fails: every code the users received was
redeemed; every sign-in completed or ended in protocol form (an OAuth error, the broker's page);
no request failed (no answer, or a 5xx) but those in flight at the kill or during the restart;
sign-ins completed again afterwards, with the same gunicorn master (and, at the restart, the
same workers). The broker's own count of codes issued (/metrics) is shown beside the users'.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script, only bench/ is on sys.path: the project's packages live in the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench._server import Postgres, bench_environ, children, free_port, gunicorn, own_postgres, own_redis
from bench._signin_flow import CLIENT_ID, SocketHttp
from bench._users import (
    CLEAN,
    COMPLETED,
    NO_ANSWER,
    REPORTED_STEPS,
    SERVER_ERROR,
    UNCLEAN,
    Call,
    Crowd,
    drive,
    join,
    percentiles,
    sign_in_once,
)

DATABASE = "ehload"
PHASES = ("steady", "kill", "restart")


@dataclass
class Disruption:
    """What a phase did to the broker halfway: from `start` to `end` (perf_counter)."""

    what: str
    start: float
    end: float
    notes: list[str] = field(default_factory=list)


@dataclass
class Phase:
    name: str
    crowd: Crowd
    start: float
    seconds: float
    disruption: Disruption | None
    codes_counted: float  # the broker's count of codes issued over the phase (/metrics)
    master_before: int
    master_after: int
    workers_before: list[int]
    workers_after: list[int]


# --- the phases ---------------------------------------------------------------------------------


def run_phase(
    name: str,
    base_url: str,
    args: argparse.Namespace,
    master: int,
    disrupt: Callable[[], Disruption] | None,
) -> Phase:
    crowd = Crowd()
    workers_before = sorted(children(master))
    codes_before = codes_counted(base_url)
    start = time.perf_counter()
    deadline = start + args.seconds
    threads = drive(
        crowd,
        base_url,
        args.binding,
        args.users,
        lambda: time.perf_counter() >= deadline,
        args.retry_seconds,
    )
    disruption = None
    if disrupt is not None:
        time.sleep(max(0.0, start + args.seconds / 2 - time.perf_counter()))
        disruption = disrupt()
    join(threads, args.seconds + args.retry_seconds + 120)
    return Phase(
        name,
        crowd,
        start,
        args.seconds,
        disruption,
        codes_counted(base_url) - codes_before,
        master,
        master,
        workers_before,
        sorted(children(master)),
    )


def kill_a_worker(master: int, workers: int) -> Disruption:
    """SIGKILL to one worker; then how long until the master has all its workers again."""
    victim = min(children(master))
    os.kill(victim, signal.SIGKILL)
    moment = time.perf_counter()
    disruption = Disruption(f"worker {victim} killed (SIGKILL)", moment, moment)
    deadline = moment + 60
    while time.perf_counter() < deadline:
        now = set(children(master))
        if victim not in now and len(now) >= workers:
            disruption.notes.append(
                f"gunicorn's master started worker {max(now)} after {time.perf_counter() - moment:.2f} s"
            )
            break
        time.sleep(0.02)
    else:
        disruption.notes.append("gunicorn's master did not replace the worker within 60 s")
    return disruption


def restart_postgres(cluster: Postgres, mode: str) -> Disruption:
    start = time.perf_counter()
    took = cluster.restart(mode)
    end = time.perf_counter()
    disruption = Disruption(f"PostgreSQL restarted (pg_ctl restart -m {mode})", start, end)
    disruption.notes.append(f"pg_ctl restart took {took:.2f} s")
    return disruption


_COMPLETED_METRIC = re.compile(
    rf'^broker_signins_completed_total\{{client="{re.escape(CLIENT_ID)}"\}} (\S+)$', re.MULTILINE
)


def codes_counted(base_url: str) -> float:
    """The broker's own count of codes issued to the bench's client, over all workers."""
    for _ in range(20):
        try:
            found = _COMPLETED_METRIC.search(requests.get(f"{base_url}/metrics", timeout=5).text)
            return float(found.group(1)) if found else 0.0
        except requests.RequestException:
            time.sleep(0.5)
    return math.nan


# --- report -------------------------------------------------------------------------------------


def report(phase: Phase, args: argparse.Namespace) -> list[str]:
    """Print the phase's figures; the checks it failed."""
    crowd, failures = phase.crowd, []
    endings, calls = crowd.endings, crowd.calls
    completed = crowd.completed()
    last_end = max((ending.end for ending in endings), default=phase.start + phase.seconds)
    elapsed = max(last_end - phase.start, phase.seconds)
    print(f"\n== {phase.name}: {args.users} users, {phase.seconds:.0f} s ({len(endings)} sign-ins ended)")
    print(f"  sign-ins completed: {len(completed)}, {len(completed) / elapsed:.1f}/s")
    print(f"  {'step':<12} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for step in REPORTED_STEPS:
        print(f"  {step:<12} " + " ".join(f"{value:8.1f}" for value in percentiles(completed, step)))
    kinds = collections.Counter(f"{ending.outcome}: {ending.kind}" for ending in endings if ending.kind)
    print("  sign-ins ended otherwise, by kind:" + ("" if kinds else " none"))
    for kind, count in kinds.most_common():
        print(f"    {count:5d}  {kind}")
    retried = collections.Counter(kind for ending in endings for kind in ending.retried)
    if retried:
        print("  the portal's calls tried again, by what they met first:")
        for kind, count in retried.most_common():
            print(f"    {count:5d}  {kind}")

    issued = [ending for ending in endings if ending.code_issued]
    lost = [ending for ending in issued if not ending.code_redeemed]
    print(
        f"  codes: the users received {len(issued)}, redeemed {len(issued) - len(lost)}, lost {len(lost)};"
        f" the broker counted {phase.codes_counted:.0f} issued"
    )
    if lost:
        failures.append(f"{len(lost)} codes issued but not redeemed")
    unclean = [ending for ending in endings if ending.outcome == UNCLEAN]
    if unclean:
        failures.append(f"{len(unclean)} sign-ins ended other than in protocol form")

    failed_calls = [call for call in calls if call.failed]
    disruption = phase.disruption
    if disruption is None:
        if failed_calls:
            failures.append(f"{len(failed_calls)} requests failed (no answer or 5xx) with nothing disrupted")
        print(f"  requests without an answer or with a 5xx: {len(failed_calls)}")
    else:
        failures += _report_disruption(phase, disruption, failed_calls)
    if phase.master_after != phase.master_before:
        failures.append("gunicorn's master changed")
    bad_outcomes = {NO_ANSWER, SERVER_ERROR, UNCLEAN}
    print(
        "  outcomes: "
        + ", ".join(
            f"{outcome} {sum(ending.outcome == outcome for ending in endings)}"
            for outcome in (COMPLETED, CLEAN, *sorted(bad_outcomes))
        )
    )
    for failure in failures:
        print(f"  FAILED: {failure}")
    if not failures:
        print("  checks: passed")
    return failures


def _report_disruption(phase: Phase, disruption: Disruption, failed: list[Call]) -> list[str]:
    failures = []
    since = disruption.start - phase.start
    print(f"  at {since:.1f} s: {disruption.what}")
    for note in disruption.notes:
        print(f"    {note}")
    overlapping = [
        call for call in phase.crowd.calls if call.start <= disruption.end and call.end >= disruption.start
    ]
    during = [call for call in failed if call.start <= disruption.end and call.end >= disruption.start]
    before = [call for call in failed if call.end < disruption.start]
    after = [call for call in failed if call.start > disruption.end]
    window = "at the kill" if disruption.start == disruption.end else "during the restart"
    print(
        f"  requests in flight {window}: {len(overlapping)}; of them failed (no answer or 5xx): {len(during)}"
    )
    for step, count in collections.Counter(call.step for call in during).most_common():
        print(f"    {count:5d}  {step}")
    print(f"  failed requests before it: {len(before)}, after it: {len(after)}")
    if before or after:
        failures.append(f"{len(before) + len(after)} requests failed beyond those in flight {window}")
        for call in (before + after)[:10]:
            print(f"    {call.step} at {call.start - disruption.end:+.2f} s: status {call.status}")
    completed_after = [ending for ending in phase.crowd.completed() if ending.start > disruption.end]
    if completed_after:
        first = min(ending.end for ending in completed_after) - disruption.end
        print(
            f"  sign-ins started afterwards: {len(completed_after)} completed,"
            f" the first {first:.2f} s after it"
        )
    else:
        failures.append("no sign-in started afterwards completed")
    if "PostgreSQL" in disruption.what and phase.workers_after != phase.workers_before:
        failures.append(f"workers changed: {phase.workers_before} → {phase.workers_after}")
    return failures


# --- main ---------------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=8, help="users signing in at once")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument("--phases", default=",".join(PHASES), help="which phases, in order")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--binding", choices=("artifact", "post"), default="artifact")
    parser.add_argument("--restart-mode", choices=("fast", "immediate"), default="fast")
    parser.add_argument(
        "--redis", action="store_true", help="rate-limit counters in a Redis of the bench's own"
    )
    parser.add_argument(
        "--retry-seconds", type=float, default=20.0, help="how long a portal tries token again"
    )
    parser.add_argument("--log", type=Path, help="keep gunicorn's log (and the broker's) in this file")
    parser.add_argument("--warm-up", type=int, default=3, help="untimed sign-ins per user first")
    parser.add_argument("--gunicorn-args", default="", metavar="ARGS", help="more gunicorn options")
    args = parser.parse_args()
    unknown = set(args.phases.split(",")) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    if not 1 <= args.users <= 64 or not 1 <= args.seconds <= 3600 or not 1 <= args.workers <= 16:
        parser.error("--users 1–64, --seconds 1–3600, --workers 1–16")
    return args


def warm_up(base_url: str, args: argparse.Namespace) -> None:
    def user() -> None:
        http = SocketHttp(base_url)
        for _ in range(args.warm_up):
            sign_in_once(http, args.binding, [], args.retry_seconds)

    threads = [threading.Thread(target=user, daemon=True) for _ in range(args.users)]
    for thread in threads:
        thread.start()
    join(threads, 300)


def main() -> int:
    args = arguments()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="eh-load-") as folder, own_postgres(DATABASE) as cluster:
        tmp = Path(folder)
        with own_redis(tmp) if args.redis else nullcontext() as redis_url:
            environ = bench_environ(
                tmp / "instance", base_url, cluster.url(DATABASE), args.binding, redis_url
            )
            log = args.log.resolve() if args.log else tmp / "gunicorn.log"
            # No worker replaced for its request count (gunicorn.conf.py's max_requests: the soak's
            # subject) while a phase looks at which workers there are.
            extra = ["--max-requests", "0", *args.gunicorn_args.split()]
            with gunicorn(environ, port, log, extra, args.workers) as server:
                print(
                    f"Load: {args.users} users, whole sign-ins ({args.binding} binding) through"
                    f" gunicorn --workers {args.workers} on PostgreSQL (its own cluster, port {cluster.port})"
                    f"; rate limits on, far above the load, counted in {'Redis' if redis_url else 'memory'}"
                )
                warm_up(base_url, args)
                disruptions: dict[str, Callable[[], Disruption] | None] = {
                    "steady": None,
                    "kill": lambda: kill_a_worker(server.pid, args.workers),
                    "restart": lambda: restart_postgres(cluster, args.restart_mode),
                }
                for name in args.phases.split(","):
                    phase = run_phase(name, base_url, args, server.pid, disruptions[name])
                    failures += [f"{name}: {failure}" for failure in report(phase, args)]
            if failures:
                print(f"\ngunicorn's log ends with:\n{log.read_text(errors='replace')[-4000:]}")
    print("\nAll checks passed." if not failures else f"\n{len(failures)} checks failed:")
    for failure in failures:
        print(f"  {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
