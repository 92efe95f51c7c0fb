"""Sign-in benchmark: whole sign-ins (authorize → HM simulator → ACS → token → userinfo) per second,
and the broker's CPU per sign-in beside the cryptography it calls.

Run from the repository root: `.venv/bin/python bench/signin.py`
  options: --binding artifact|post (default artifact, what eHerkenning uses), --seconds 10,
  --clients 12, --only inprocess|gunicorn, --db auto|postgres|sqlite, --profile N,
  --gunicorn-args "..." (say, "--worker-class gthread --threads 2": under load the default sync
  workers did best here).

Two setups, each after a warm-up:

1. in-process: the Flask test client on one thread, the built-in simulator in the same app, the
   database chosen as for gunicorn (below). CPU per sign-in is this process's CPU time (the broker,
   the simulator, the test client and the driver). Then 30 sign-ins more with every call into the
   cryptographic libraries (cryptography, xmlsec) timed in CPU time, each counted for the broker or
   the simulator by the code that made it (`crypto_share`).
2. gunicorn: the broker as in production but for its HM, `gunicorn --workers 2 wsgi:app` with the
   repository's gunicorn.conf.py, rate limits on (far above what the bench sends), Prometheus's
   multiprocess mode, the development profile; it runs *without* the simulator. The HM is the
   simulator on a second gunicorn (2 workers, the same settings and instance folder, at an address
   of its own: BROKER_SIMULATOR_URL): the broker fetches its metadata (BROKER_HM_METADATA, signature
   checked), sends each user there and resolves each artifact there over HTTP, as with a real HM (a
   real HM's TLS handshake aside). So the broker's workers do the broker's work alone, and the
   simulator's signing, encrypting and artifact store are in the simulator's processes, counted
   apart. `--clients` threads drive it, each opening a socket per request (a minimal HTTP client),
   for `--seconds`. The database is PostgreSQL (a dedicated database `ehbench_<pid>`, created afresh and
   dropped afterwards, on postgres@127.0.0.1:5432) when it is reachable, else SQLite with a
   warning. CPU per sign-in is read per process from /proc/<pid>/stat: the broker's workers, its
   master, the simulator, the load generator, and the rest of the machine (PostgreSQL, other
   work), since they share the same cores. Meanwhile a thread of the bench times the cryptography
   as in 1. (in-process sign-ins, an SQLite database of their own, batches of 3 a second apart
   until the window ends): the CPU time a signature takes varies with what else the machine runs,
   so it is taken at the same moment as the broker's. Then one client alone for `--seconds`: the
   latency of each step when no other sign-in queues before it.

The last line is machine-readable:
`broker_cpu_ms_per_signin=X broker_crypto_ms_per_signin=Y ratio=Z`: X the broker's workers' CPU
time per sign-in under load (gunicorn, `--clients` threads), Y the CPU time of the broker's own
cryptographic calls per sign-in (timed beside that window, as above), Z = X / Y: all the broker
spends on a sign-in, as a multiple of its cryptography.

`--profile N` instead profiles N in-process sign-ins with cProfile (wall clock) and prints the top
costs per sign-in (the simulator in-process included).
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, only bench/ is on sys.path: the project's packages live in the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy
from flask.testing import FlaskClient
from flask_migrate import upgrade

from bench._server import bench_environ, children, free_port, gunicorn
from bench._signin_flow import (
    ACS_TO_TOKEN,
    CONFIG_YAML,
    STEPS,
    TOTAL,
    FlowError,
    SocketHttp,
    TestClientHttp,
    sign_in,
)
from broker import create_app
from broker.extensions import db
from config import load_settings

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
# One per run: two runs at once on the same server must not drop each other's database.
PG_DATABASE = f"ehbench_{os.getpid()}"
TARGET_RATE = 150.0
TARGET_ACS_TO_TOKEN_MS = 10.0
TICK = os.sysconf("SC_CLK_TCK")
BROKER_WORKERS = "broker's workers"
Timings = dict[str, float]


@dataclass
class Run:
    """The sign-ins of one timed window."""

    label: str
    thread_cpu: str  # what the per-step CPU column measures
    samples: list[Timings] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per consumer over the window
    busy: float = 0.0  # the machine's busy fraction over the window (of all cores)
    crypto: list[CryptoCall] = field(default_factory=list)  # see `crypto_share` and `CryptoBeside`


@dataclass(frozen=True)
class CryptoCall:
    """One cryptographic library call of a sign-in (broker and simulator): how often, how long."""

    name: str
    calls: float  # per sign-in
    seconds: float  # per sign-in


# --- settings -------------------------------------------------------------------------------------


def broker_environ(instance: Path, base_url: str, database_url: str, binding: str) -> dict[str, str]:
    """The environment the app needs, with the bench's own config file (one service, one client)."""
    instance.mkdir(parents=True, exist_ok=True)
    config = instance / "bench.yaml"
    config.write_text(CONFIG_YAML)
    return {
        "BROKER_ENV": "test",
        "BROKER_SIMULATOR": "1",
        "BROKER_INSTANCE_PATH": str(instance),
        "BROKER_BASE_URL": base_url,
        "BROKER_CONFIG": str(config),
        "BROKER_DATABASE_URL": database_url,
        "BROKER_SAML_RESPONSE_BINDING": binding,
    }


@contextmanager
def bench_database(choice: str, folder: Path) -> Iterator[str]:
    """A fresh PostgreSQL database `ehbench_<pid>` (dropped afterwards), or else an SQLite file."""
    if choice != "sqlite":
        try:
            _recreate_pg_database()
        except sqlalchemy.exc.OperationalError as error:
            if choice == "postgres":
                raise
            print(f"WARNING: PostgreSQL at {PG_SERVER} is not reachable ({error.orig}); using SQLite")
        else:
            try:
                yield f"{PG_SERVER}/{PG_DATABASE}"
            finally:
                _drop_pg_database()
            return
    yield f"sqlite:///{folder / 'bench.sqlite3'}"


def _pg_admin(statement: str) -> None:
    engine = sqlalchemy.create_engine(
        f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(statement))
    finally:
        engine.dispose()


def _recreate_pg_database() -> None:
    _drop_pg_database()
    _pg_admin(f"CREATE DATABASE {PG_DATABASE}")


def _drop_pg_database() -> None:
    _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


# --- CPU accounting -----------------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process `pid` (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_cpu() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine, from /proc/stat."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    total = sum(ticks[:8])  # guest time is already counted in user
    return (total - idle) / TICK, total / TICK


@dataclass
class CpuMeter:
    """CPU seconds used between `start` and `stop` by the named processes and the whole machine."""

    pids: dict[str, list[int]]
    before: dict[str, float] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        used = {name: sum(process_cpu(pid) for pid in pids) for name, pids in self.pids.items()}
        used["bench"] = time.process_time()
        used["machine busy"], used["machine total"] = machine_cpu()
        return used

    def start(self) -> None:
        self.before = self.read()

    def stop(self, run: Run) -> None:
        after = self.read()
        delta = {name: after[name] - self.before[name] for name in after}
        total = delta.pop("machine total")
        run.busy = delta["machine busy"] / total if total else 0.0
        delta["rest of machine"] = delta.pop("machine busy") - sum(delta.values())
        run.cpu = delta


# --- in-process ---------------------------------------------------------------------------------


@contextmanager
def inprocess_client(tmp: Path, args: argparse.Namespace) -> Iterator[tuple[FlaskClient, str]]:
    """The app in a temporary instance folder, migrated, and its test client; and the database's kind."""
    instance = tmp / "inprocess"
    instance.mkdir(parents=True, exist_ok=True)
    with bench_database(args.db, instance) as database:
        settings = load_settings(broker_environ(instance, "http://localhost", database, args.binding))
        app = create_app(settings)
        handlers = logging.getLogger().handlers[:]
        with app.app_context():
            upgrade()
        # Alembic's logging set-up sends log lines to stderr; they belong in the log file.
        logging.getLogger().handlers[:] = handlers
        try:
            yield app.test_client(), _kind(database)
        finally:
            with app.app_context():
                db.engine.dispose()


def _kind(database: str) -> str:
    return "PostgreSQL" if database.startswith("postgresql") else "SQLite"


def run_inprocess(tmp: Path, args: argparse.Namespace) -> Run:
    with inprocess_client(tmp, args) as (client, kind):
        return _drive_inprocess(TestClientHttp(client), kind, args)


def _drive_inprocess(http: TestClientHttp, kind: str, args: argparse.Namespace) -> Run:
    for _ in range(args.warm_up):
        sign_in(http, args.binding)
    run, meter = Run(f"in-process: Flask test client, 1 thread, {kind}", "broker + test client"), CpuMeter({})
    meter.start()
    start = time.perf_counter()
    deadline = start + args.seconds
    while time.perf_counter() < deadline:
        _attempt(run, lambda: sign_in(http, args.binding))
    run.seconds = time.perf_counter() - start
    meter.stop(run)
    run.crypto = crypto_share(http, args.binding)
    return run


# The library calls that are the sign-in's cryptography: signing, verifying, encrypting, decrypting.
_CRYPTO_LIBRARIES = ("cryptography", "xmlsec")
_SIMULATOR_CODE = f"{os.sep}simulator"  # saml/simulator/ and broker/web/simulator.py


def crypto_share(http: TestClientHttp, binding: str, runs: int = 30) -> list[CryptoCall]:
    """The time `runs` sign-ins spend inside the cryptographic libraries, per call and per sign-in,
    each call counted for the broker or for the simulator by the code that made it.

    These are C calls of about a millisecond each: timed in this thread's CPU time from their call
    to their return, with nothing of the profiling hook inside, their sum is what the sign-in's
    cryptography costs this machine, whatever the rest costs and whatever else the machine runs."""
    found: dict[str, list[float]] = {}
    started: list[tuple[Any, str, float]] = []  # a C call may call back into Python, and so nest

    def hook(frame: Any, event: str, function: Any) -> None:
        if event == "c_call":
            owner = type(getattr(function, "__self__", None)).__module__
            if owner.startswith(_CRYPTO_LIBRARIES):
                label = f"{_party(frame)}: {function.__qualname__}"
                started.append((function, label, time.thread_time()))
        elif event in ("c_return", "c_exception") and started and started[-1][0] is function:
            _, label, since = started.pop()
            totals = found.setdefault(label, [0.0, 0.0])
            totals[0] += 1 / runs
            totals[1] += (time.thread_time() - since) / runs

    sys.setprofile(hook)
    try:
        for _ in range(runs):
            sign_in(http, binding)
    finally:
        sys.setprofile(None)
    calls = [CryptoCall(label, calls, seconds) for label, (calls, seconds) in found.items()]
    return sorted(calls, key=lambda call: call.seconds, reverse=True)


def _party(frame: Any) -> str:
    while frame is not None:
        if _SIMULATOR_CODE in frame.f_code.co_filename:
            return "simulator"
        frame = frame.f_back
    return "broker"


@dataclass
class CryptoBeside:
    """`crypto_share` of in-process sign-ins (on an SQLite database of their own) while the
    gunicorn run's clients sign in: the broker's cryptography as the machine runs it at that moment."""

    http: TestClientHttp
    binding: str
    batches: list[list[CryptoCall]] = field(default_factory=list)

    def measure(self, deadline: float) -> None:
        """Batches of 3 sign-ins a second apart until `deadline`: a sample of the window that
        leaves the load generator, which shares this process, most of its CPU."""
        while time.perf_counter() < deadline or not self.batches:
            self.batches.append(crypto_share(self.http, self.binding, runs=3))
            time.sleep(max(0.0, min(1.0, deadline - time.perf_counter())))

    def per_sign_in(self) -> list[CryptoCall]:
        totals: dict[str, list[float]] = {}
        for batch in self.batches:
            for call in batch:
                found = totals.setdefault(call.name, [0.0, 0.0])
                found[0] += call.calls / len(self.batches)
                found[1] += call.seconds / len(self.batches)
        calls = [CryptoCall(name, calls, seconds) for name, (calls, seconds) in totals.items()]
        return sorted(calls, key=lambda call: call.seconds, reverse=True)


def _attempt(run: Run, sign_in_once: Callable[[], Timings]) -> None:
    try:
        run.samples.append(sign_in_once())
    except (FlowError, OSError, ValueError, KeyError) as error:
        run.errors.append(f"{type(error).__name__}: {error}")


# --- gunicorn -----------------------------------------------------------------------------------


def run_gunicorn(tmp: Path, args: argparse.Namespace) -> list[Run]:
    """Under load (`--clients` threads: throughput, CPU), then one client alone (latency unqueued).

    The broker runs without the simulator, on a gunicorn of its own; the simulator is the HM on a
    second gunicorn (the same settings, BROKER_SIMULATOR_URL its own address): the broker fetches its
    metadata, sends the users there and resolves artifacts there over HTTP, as with a real HM."""
    port, hm_port = free_port(), free_port()
    base_url, hm_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{hm_port}/simulator"
    runs = []
    with bench_database(args.db, tmp) as database:
        instance = tmp / "gunicorn"
        environ = bench_environ(instance, base_url, database, args.binding)
        (tmp / "hm-prometheus").mkdir()
        hm_environ = environ | {
            "BROKER_SIMULATOR_URL": hm_url,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "hm-prometheus"),
        }
        with gunicorn(hm_environ, hm_port, tmp / "hm.log", []) as hm:
            broker = {name: value for name, value in environ.items() if name != "BROKER_SIMULATOR"}
            broker |= {
                "BROKER_HM_METADATA": f"{hm_url}/metadata",
                "BROKER_HM_METADATA_SIGNER": str(instance / "simulator" / "hm-cert.pem"),
            }
            with (
                gunicorn(broker, port, tmp / "gunicorn.log", args.gunicorn_args.split()) as server,
                inprocess_client(tmp / "crypto", argparse.Namespace(**{**vars(args), "db": "sqlite"})) as (
                    client,
                    _,
                ),
            ):
                crypto = CryptoBeside(TestClientHttp(client), args.binding)
                for _ in range(args.warm_up):
                    sign_in(crypto.http, args.binding)
                for clients in (args.clients, 1):
                    label = f"gunicorn --workers 2, {clients} client thread(s), {_kind(database)}"
                    run = Run(label, "client only")
                    processes = {
                        BROKER_WORKERS: children(server.pid),
                        "broker's master": [server.pid],
                        "HM simulator": [hm.pid, *children(hm.pid)],
                    }
                    loaded = clients == args.clients
                    drive(
                        run, CpuMeter(processes), base_url, args, clients, crypto.measure if loaded else None
                    )
                    if loaded:
                        run.crypto = crypto.per_sign_in()
                    runs.append(run)
        if any(run.errors for run in runs):
            for log in ("gunicorn.log", "hm.log"):
                print(f"{log} ends with:\n{(tmp / log).read_text()[-2000:]}")
    return runs


def drive(
    run: Run,
    meter: CpuMeter,
    base_url: str,
    args: argparse.Namespace,
    clients: int,
    beside: Callable[[float], None] | None = None,
) -> None:
    """Warm up, then sign in from `clients` threads (a connection each) for `args.seconds`; and
    `beside(deadline)` in a thread of its own meanwhile, if given."""
    local = threading.local()
    lock = threading.Lock()

    def once() -> Timings:
        if not hasattr(local, "http"):
            local.http = SocketHttp(base_url)
        return sign_in(local.http, args.binding)

    def loop(deadline: float) -> None:
        while time.perf_counter() < deadline:
            mine = Run(run.label, run.thread_cpu)
            _attempt(mine, once)
            with lock:
                run.samples += mine.samples
                run.errors += mine.errors

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda _: once(), range(max(args.warm_up, clients))))
        meter.start()
        start = time.perf_counter()
        other = threading.Thread(target=beside, args=(start + args.seconds,)) if beside else None
        if other is not None:
            other.start()
        list(pool.map(loop, [start + args.seconds] * clients))
        run.seconds = time.perf_counter() - start
        meter.stop(run)
        if other is not None:
            other.join()


# --- report -------------------------------------------------------------------------------------


def report(run: Run) -> None:
    count = len(run.samples)
    print(f"\n{run.label}: {count} sign-ins in {run.seconds:.1f} s, {len(run.errors)} errors")
    for error in sorted(set(run.errors))[:5]:
        print(f"  error: {error[:300]}")
    if count < 2:
        return
    rate = count / run.seconds
    print(f"  sign-ins/s: {rate:8.1f}    (target ≥ {TARGET_RATE:.0f}/s through gunicorn on 2 cores)")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"  machine busy: {100 * run.busy:.0f}% of {cores} cores")
    for name, seconds in run.cpu.items():
        print(f"  CPU ms per sign-in, {name:<17} {1000 * seconds / count:8.2f}")
    print(f"  {'step':<12} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'CPU ms':>8}  (CPU: {run.thread_cpu})")
    for step in (*STEPS, ACS_TO_TOKEN, TOTAL):
        note = f"   (target p50 ≤ {TARGET_ACS_TO_TOKEN_MS:.0f} ms)" if step == ACS_TO_TOKEN else ""
        print(f"  {step:<12} " + " ".join(f"{v:8.2f}" for v in _figures(run, step)) + note)
    if run.crypto:
        _report_crypto(run.crypto, cores or 1)


def summary(run: Run, crypto: list[CryptoCall]) -> str:
    """The machine-readable last line: the broker's workers' CPU per sign-in under load, the broker's
    own cryptography per sign-in, and how many times the one is the other."""
    cpu = 1000 * run.cpu[BROKER_WORKERS] / max(len(run.samples), 1)
    own = 1000 * sum(call.seconds for call in crypto if call.name.startswith("broker"))
    rate = len(run.samples) / run.seconds if run.seconds else 0.0
    return (
        f"{run.label}: {rate:.1f} sign-ins/s, {len(run.errors)} errors\n"
        f"broker_cpu_ms_per_signin={cpu:.2f} broker_crypto_ms_per_signin={own:.2f} ratio={cpu / own:.2f}"
    )


def _report_crypto(crypto: list[CryptoCall], cores: int) -> None:
    """What the cryptography alone costs a sign-in here, and the rate it would allow with nothing else."""
    total = sum(call.seconds for call in crypto)
    broker = sum(call.seconds for call in crypto if call.name.startswith("broker"))
    print(
        f"  cryptography per sign-in: {1000 * total:.2f} ms"
        f" (broker {1000 * broker:.2f}, simulator {1000 * (total - broker):.2f})"
    )
    for call in crypto:
        if call.seconds >= 0.01 * total:
            print(f"    {call.name:<42} {call.calls:5.1f} calls {1000 * call.seconds:8.2f} ms")
    print(f"  ceiling from this cryptography alone on {cores} cores: {cores / total:.0f} sign-ins/s")
    budget = 1000 * cores / TARGET_RATE - 1000 * total
    print(f"  at {TARGET_RATE:.0f}/s the machine has {budget:.2f} ms per sign-in left for everything else")


def _figures(run: Run, step: str) -> list[float]:
    """p50, p99 and mean wall time, and mean CPU time of the driving thread, in ms."""
    times = [sample[step] for sample in run.samples]
    cuts = statistics.quantiles(times, n=100)
    cpu = statistics.fmean(sample[f"cpu {step}"] for sample in run.samples)
    return [1000 * value for value in (cuts[49], cuts[98], statistics.fmean(times), cpu)]


# --- profile ------------------------------------------------------------------------------------


def profile(tmp: Path, args: argparse.Namespace) -> None:
    """cProfile of `args.profile` in-process sign-ins after warm-up; the top costs per sign-in."""
    with inprocess_client(tmp, args) as (client, kind):
        http = TestClientHttp(client)
        for _ in range(args.warm_up):
            sign_in(http, args.binding)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.profile):
            sign_in(http, args.binding)
        profiler.disable()
    print(f"Profile of in-process sign-ins on {kind}")
    stats = pstats.Stats(profiler)
    print("cProfile's own overhead inflates pure-Python code (SQLAlchemy, authlib) more than C code")
    for key, title in ((3, "cumulative"), (2, "own (tottime)")):
        _print_top(stats, key, title, args.profile)


def _print_top(stats: pstats.Stats, key: int, title: str, runs: int, limit: int = 40) -> None:
    rows = sorted(stats.stats.items(), key=lambda item: item[1][key], reverse=True)[:limit]
    print(f"\nTop {limit} by {title} time, per sign-in ({runs} sign-ins profiled):")
    print(f"{'cum ms':>8} {'own ms':>8} {'calls':>7}  function")
    for (file, line, name), (_, calls, own, cumulative, _) in rows:
        figures = f"{1000 * cumulative / runs:8.2f} {1000 * own / runs:8.2f} {calls / runs:7.1f}"
        print(f"{figures}  {name} {_short(file)}:{line}")


def _short(file: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


# --- main ---------------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--binding", choices=("artifact", "post"), default="artifact")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed window per setup")
    parser.add_argument("--warm-up", type=int, default=20, help="untimed sign-ins first")
    parser.add_argument("--clients", type=int, default=12, help="concurrent clients against gunicorn")
    parser.add_argument("--only", choices=("inprocess", "gunicorn"))
    parser.add_argument("--db", choices=("auto", "postgres", "sqlite"), default="auto")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile N sign-ins instead")
    parser.add_argument(
        "--gunicorn-args",
        default="",
        metavar="ARGS",
        help='more gunicorn options, e.g. "--worker-class gthread"',
    )
    return parser.parse_args()


def main() -> None:
    args = arguments()
    # Any log lines of the in-process app go to a file, not over the figures.
    with tempfile.TemporaryDirectory(prefix="eh-bench-") as folder:
        tmp = Path(folder)
        logging.basicConfig(filename=tmp / "inprocess.log", level=logging.INFO)
        if args.profile:
            profile(tmp, args)
            return
        print(f"Whole sign-ins, {args.binding} binding; warm-up {args.warm_up}, window {args.seconds:.0f} s")
        if args.only in (None, "inprocess"):
            report(run_inprocess(tmp, args))
        if args.only in (None, "gunicorn"):
            runs = run_gunicorn(tmp, args)
            for run in runs:
                report(run)
            print(summary(runs[0], runs[0].crypto))


if __name__ == "__main__":
    main()
