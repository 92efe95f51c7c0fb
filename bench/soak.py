"""Memory soak: whole sign-ins against one gunicorn worker; its resident memory (RSS) along the way.

Run from the repository root: `.venv/bin/python bench/soak.py`
  options: --signins 3000 (20000 for the full soak: about a quarter of an hour here), --warm-up
  (sign-ins before the baseline; a tenth of --signins by default), --users 4, --binding, --redis,
  --log FILE.

The broker runs as `bench/load.py` runs it (its own PostgreSQL cluster, production's settings
but for the simulator), with `gunicorn --workers 1`. The worker's RSS (VmRSS) is read when the
warm-up ends (the baseline) and every twentieth of the run after it; the growth is the last
reading's over the baseline, and must stay under 5%. The worker must be the same process
throughout, and every sign-in must complete.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

# Run as a script, only bench/ is on sys.path: the project's packages live in the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import bench_environ, children, free_port, gunicorn, own_postgres, own_redis, rss_kib
from bench._users import COMPLETED, Crowd, Ending, drive, join

DATABASE = "ehsoak"
LIMIT_PERCENT = 5.0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--signins", type=int, default=3000, help="sign-ins after the warm-up")
    parser.add_argument("--warm-up", type=int, default=0, help="sign-ins before the baseline (0: a tenth)")
    parser.add_argument("--users", type=int, default=4, help="users signing in at once")
    parser.add_argument("--binding", choices=("artifact", "post"), default="artifact")
    parser.add_argument(
        "--redis", action="store_true", help="rate-limit counters in a Redis of the bench's own"
    )
    args = parser.parse_args()
    if not 100 <= args.signins <= 1_000_000 or not 1 <= args.users <= 64:
        parser.error("--signins 100–1000000, --users 1–64")
    args.warm_up = args.warm_up or args.signins // 10
    return args


class Readings:
    """The worker's RSS at sign-in counts: taken by whichever user ends the sign-in that reaches one."""

    def __init__(self, worker: int, warm_up: int, every: int, total: int) -> None:
        self.worker, self.warm_up, self.every, self.total = worker, warm_up, every, total
        self.taken: list[tuple[int, int, float]] = []  # (sign-ins ended, RSS KiB, perf_counter)
        self.lock = threading.Lock()

    def after_each(self, ended: int) -> None:
        if ended >= self.warm_up and (ended - self.warm_up) % self.every == 0 and ended <= self.total:
            reading = (ended, rss_kib(self.worker), time.perf_counter())
            with self.lock:
                self.taken.append(reading)
                self._print(reading)

    def _print(self, reading: tuple[int, int, float]) -> None:
        ended, rss, moment = reading
        base = self.taken[0]
        growth = 100 * (rss - base[1]) / base[1]
        rate = (ended - base[0]) / (moment - base[2]) if moment > base[2] else 0.0
        label = (
            "baseline (warm-up done)" if len(self.taken) == 1 else f"{growth:+6.2f}%, {rate:5.1f} sign-ins/s"
        )
        print(f"  {ended:7d} sign-ins  RSS {rss / 1024:7.1f} MiB  {label}", flush=True)


def main() -> int:
    args = arguments()
    total = args.warm_up + args.signins
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="eh-soak-") as folder, own_postgres(DATABASE) as cluster:
        tmp = Path(folder)
        with own_redis(tmp) if args.redis else nullcontext() as redis_url:
            environ = bench_environ(
                tmp / "instance", base_url, cluster.url(DATABASE), args.binding, redis_url
            )
            log = args.log.resolve() if args.log else tmp / "gunicorn.log"
            with gunicorn(environ, port, log, [], workers=1) as server:
                (worker,) = children(server.pid)
                print(
                    f"Soak: {args.warm_up} sign-ins of warm-up, then {args.signins}, {args.users} users,"
                    f" against one gunicorn worker (pid {worker}) on PostgreSQL"
                )
                readings = Readings(worker, args.warm_up, max(1, args.signins // 20), total)
                crowd = Crowd()
                started = [0]

                def until() -> bool:
                    with crowd.lock:
                        started[0] += 1
                        return started[0] > total

                threads = drive(crowd, base_url, args.binding, args.users, until, 20.0, readings.after_each)
                join(threads, 24 * 3600)
                workers_after = children(server.pid)
            failed = [ending for ending in crowd.endings if ending.outcome != COMPLETED]
            if failed:
                print(f"gunicorn's log ends with:\n{log.read_text(errors='replace')[-3000:]}")
    return report(readings, crowd, failed, worker, workers_after)


def report(
    readings: Readings, crowd: Crowd, failed: list[Ending], worker: int, workers_after: list[int]
) -> int:
    failures = []
    base, last = readings.taken[0], readings.taken[-1]
    growth = 100 * (last[1] - base[1]) / base[1]
    peak = max(rss for _, rss, _ in readings.taken)
    rate = (last[0] - base[0]) / (last[2] - base[2])
    print(
        f"\nRSS after {base[0]} sign-ins (warm-up): {base[1] / 1024:.1f} MiB; after {last[0]}:"
        f" {last[1] / 1024:.1f} MiB ({growth:+.2f}%, peak {peak / 1024:.1f} MiB); {rate:.1f} sign-ins/s"
    )
    print(f"sign-ins: {len(crowd.endings)} ended, {len(crowd.endings) - len(failed)} completed")
    if growth >= LIMIT_PERCENT:
        failures.append(f"RSS grew {growth:.2f}% after the warm-up (limit {LIMIT_PERCENT:.0f}%)")
    if failed:
        failures.append(f"{len(failed)} sign-ins did not complete")
    if workers_after != [worker]:
        failures.append(f"the worker changed: {worker} → {workers_after}")
    for failure in failures:
        print(f"FAILED: {failure}")
    if not failures:
        print(f"checks: passed (growth under {LIMIT_PERCENT:.0f}%, every sign-in completed, the same worker)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
