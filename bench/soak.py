"""Memory soak: whole sign-ins against one gunicorn worker; its resident memory (RSS) along the way.

Run from the repository root: `.venv/bin/python bench/soak.py`
  options: --signins 3000 (20000 for the full soak: some 40 minutes on 2 busy cores), --warm-up
  (sign-ins before the baseline; a tenth of --signins by default), --users 4, --no-recycle,
  --binding, --redis, --log FILE.

The broker runs as `bench/load.py` runs it (its own PostgreSQL cluster, production's settings
but for the simulator) with `gunicorn --workers 1`, under gunicorn.conf.py, which replaces a
worker after about 40,000 requests (8,000 sign-ins here: the simulator's request counts too).
The worker's RSS (VmRSS) is read when the warm-up ends (the baseline) and every twentieth of
the run after it, from whichever worker serves then; the growth is the highest reading's over
the baseline, and must stay under 5%. Every sign-in must complete, through the replacements too.

`--no-recycle` (gunicorn's `--max-requests 0`) keeps the one worker throughout: what one process
keeps of each sign-in, the figure the replacements bound.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
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
    parser.add_argument("--no-recycle", action="store_true", help="one worker throughout (--max-requests 0)")
    parser.add_argument("--log", type=Path, help="keep gunicorn's log (and the broker's) in this file")
    parser.add_argument("--binding", choices=("artifact", "post"), default="artifact")
    parser.add_argument(
        "--redis", action="store_true", help="rate-limit counters in a Redis of the bench's own"
    )
    args = parser.parse_args()
    if not 100 <= args.signins <= 1_000_000 or not 1 <= args.users <= 64:
        parser.error("--signins 100–1000000, --users 1–64")
    args.warm_up = args.warm_up or args.signins // 10
    return args


@dataclass(frozen=True)
class Reading:
    ended: int  # sign-ins ended so far
    worker: int
    rss: int  # KiB
    moment: float  # perf_counter


def newest_worker(master: int) -> tuple[int, int]:
    """The youngest worker (while one is being replaced, the new one) and its RSS in KiB."""
    for _ in range(50):
        try:
            started = {
                pid: int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
                for pid in children(master)
            }
            worker = max(started, key=lambda pid: started[pid])
            return worker, rss_kib(worker)
        except (OSError, ValueError):  # a worker gone between the listing and the reading
            time.sleep(0.1)
    raise RuntimeError("no gunicorn worker to measure")


class Readings:
    """The worker's RSS at sign-in counts: taken by whichever user ends the sign-in that reaches one."""

    def __init__(self, master: int, warm_up: int, every: int, total: int) -> None:
        self.master, self.warm_up, self.every, self.total = master, warm_up, every, total
        self.taken: list[Reading] = []
        self.lock = threading.Lock()

    def after_each(self, ended: int) -> None:
        if ended >= self.warm_up and (ended - self.warm_up) % self.every == 0 and ended <= self.total:
            worker, rss = newest_worker(self.master)
            reading = Reading(ended, worker, rss, time.perf_counter())
            with self.lock:
                self.taken.append(reading)
                self._print(reading)

    def _print(self, reading: Reading) -> None:
        base = self.taken[0]
        growth = 100 * (reading.rss - base.rss) / base.rss
        rate = (reading.ended - base.ended) / (reading.moment - base.moment) if len(self.taken) > 1 else 0.0
        label = (
            "baseline (warm-up done)" if len(self.taken) == 1 else f"{growth:+6.2f}%, {rate:5.1f} sign-ins/s"
        )
        worker = f"worker {reading.worker}"
        print(
            f"  {reading.ended:7d} sign-ins  {worker}  RSS {reading.rss / 1024:7.1f} MiB  {label}", flush=True
        )


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
            extra = ["--max-requests", "0"] if args.no_recycle else []
            with gunicorn(environ, port, log, extra, workers=1) as server:
                recycling = "one worker throughout" if args.no_recycle else "gunicorn.conf.py's max_requests"
                print(
                    f"Soak: {args.warm_up} sign-ins of warm-up, then {args.signins}, {args.users} users,"
                    f" against one gunicorn worker on PostgreSQL ({recycling})"
                )
                readings = Readings(server.pid, args.warm_up, max(1, args.signins // 20), total)
                crowd = Crowd()
                started = [0]

                def until() -> bool:
                    with crowd.lock:
                        started[0] += 1
                        return started[0] > total

                threads = drive(crowd, base_url, args.binding, args.users, until, 20.0, readings.after_each)
                join(threads, 24 * 3600)
            failed = [ending for ending in crowd.endings if ending.outcome != COMPLETED]
            if failed:
                print(f"gunicorn's log ends with:\n{log.read_text(errors='replace')[-3000:]}")
    return report(readings, crowd, failed, args.no_recycle)


def report(readings: Readings, crowd: Crowd, failed: list[Ending], one_worker: bool) -> int:
    failures = []
    base, last = readings.taken[0], readings.taken[-1]
    peak = max(readings.taken, key=lambda reading: reading.rss)
    growth = 100 * (peak.rss - base.rss) / base.rss
    rate = (last.ended - base.ended) / (last.moment - base.moment)
    workers = list(dict.fromkeys(reading.worker for reading in readings.taken))
    print(
        f"\nRSS after {base.ended} sign-ins (warm-up): {base.rss / 1024:.1f} MiB; highest after it"
        f" {peak.rss / 1024:.1f} MiB ({growth:+.2f}%, after {peak.ended}); last {last.rss / 1024:.1f} MiB;"
        f" {rate:.1f} sign-ins/s"
    )
    if one_worker:
        per_sign_in = 1024 * (peak.rss - base.rss) / max(1, peak.ended - base.ended)
        print(f"  kept per sign-in up to the highest reading: {per_sign_in:.0f} bytes")
    print(f"  workers that served after the warm-up: {len(workers)} ({', '.join(map(str, workers))})")
    print(f"sign-ins: {len(crowd.endings)} ended, {len(crowd.endings) - len(failed)} completed")
    if growth >= LIMIT_PERCENT:
        failures.append(f"RSS grew {growth:.2f}% after the warm-up (limit {LIMIT_PERCENT:.0f}%)")
    if failed:
        failures.append(f"{len(failed)} sign-ins did not complete")
    if one_worker and len(workers) != 1:
        failures.append(f"the worker changed: {' → '.join(map(str, workers))}")
    for failure in failures:
        print(f"FAILED: {failure}")
    if not failures:
        print(f"checks: passed (growth under {LIMIT_PERCENT:.0f}%, every sign-in completed)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
