"""What the benchmarks run the broker on: gunicorn as a subprocess, and for the load and memory
benches a PostgreSQL cluster (and optionally a Redis) of their own, on spare loopback ports in a
temporary folder, so they can be restarted and are removed afterwards.

The PostgreSQL cluster runs as the `postgres` user when the bench runs as root (initdb refuses
root). Nothing here touches a server it did not start.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import requests

from bench._signin_flow import CONFIG_YAML
from config.settings import RateLimits

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_kib(pid: int) -> int:
    """Resident memory of process `pid`, in KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS")


# --- the broker's environment -------------------------------------------------------------------

# Far above what a bench sends: the limits are counted (their cost is in the figures), never reached.
GENEROUS = "1000000/minute"


def bench_environ(
    instance: Path, base_url: str, database_url: str, binding: str, redis_url: str | None = None
) -> dict[str, str]:
    """The broker as it runs in production, but for the simulator (so the development profile, with
    its generated keys): rate limits on and generous (every step's, per address and per client),
    the workers' housekeeping on, Prometheus's multiprocess mode; the bench's one service and client."""
    instance.mkdir(parents=True, exist_ok=True)
    config, metrics = instance / "bench.yaml", instance / "prometheus"
    config.write_text(CONFIG_YAML)
    metrics.mkdir(exist_ok=True)
    environ = {
        "BROKER_ENV": "development",
        "BROKER_SIMULATOR": "1",
        "BROKER_INSTANCE_PATH": str(instance),
        "BROKER_BASE_URL": base_url,
        "BROKER_CONFIG": str(config),
        "BROKER_DATABASE_URL": database_url,
        "BROKER_SAML_RESPONSE_BINDING": binding,
        "BROKER_RATE_LIMITS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }
    for name in RateLimits.__dataclass_fields__:
        if name not in {"enabled", "redis_url"}:
            environ[f"BROKER_LIMIT_{name.upper()}"] = GENEROUS
    if redis_url is not None:
        environ["BROKER_REDIS_URL"] = redis_url
    return environ


# --- gunicorn -----------------------------------------------------------------------------------


@contextmanager
def gunicorn(
    environ: dict[str, str], port: int, log: Path, extra: list[str], workers: int = 2
) -> Iterator[subprocess.Popen[bytes]]:
    """`gunicorn --workers N` plus `extra` on `wsgi:app` (reading the repository's gunicorn.conf.py),
    migrated first; terminated on the way out."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("BROKER_")} | environ
    migrate = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        capture_output=True,
    )
    if migrate.returncode:
        raise RuntimeError(f"flask db upgrade failed:\n{migrate.stderr.decode()[-3000:]}")
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), *extra]
    command += ["--bind", f"127.0.0.1:{port}", "wsgi:app"]
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(server, f"http://127.0.0.1:{port}", log, workers)
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_ready(server: subprocess.Popen[bytes], base_url: str, log: Path, workers: int) -> None:
    """Until /readyz answers 200 and the master has all its workers."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            ready = requests.get(f"{base_url}/readyz", timeout=2).ok
            if ready and len(children(server.pid)) >= workers:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn was not ready within {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


# --- PostgreSQL ---------------------------------------------------------------------------------


def _postgres_bin() -> Path:
    """The folder of initdb and pg_ctl: on PATH, else the newest under /usr/lib/postgresql."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("initdb not found: install PostgreSQL's server package")
    return found[-1].parent


class Postgres:
    """A cluster of the bench's own: `initdb` in a temporary folder, listening on 127.0.0.1:`port`
    and on a Unix socket in that folder only."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.data, self.log = folder / "data", folder / "postgres.log"
        self.bin = _postgres_bin()
        # initdb refuses root: the cluster is then the postgres user's.
        self.owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, timeout: float = 60) -> float:
        """Run a server program as the cluster's owner; the seconds it took."""
        prefix = ["runuser", "-u", "postgres", "--"] if self.owner else []
        start = time.monotonic()
        done = subprocess.run([*prefix, *command], capture_output=True, timeout=timeout, cwd=self.folder)
        if done.returncode:
            output = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
            raise RuntimeError(f"{Path(command[0]).name} failed:\n{output}\n{self._log_tail()}")
        return time.monotonic() - start

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def _pg_ctl(self, action: str, *options: str) -> float:
        pg_ctl = str(self.bin / "pg_ctl")
        return self._run(
            pg_ctl, action, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *options
        )

    def create(self) -> None:
        if self.owner:
            os.chown(self.folder, self.owner.pw_uid, self.owner.pw_gid)
        initdb = str(self.bin / "initdb")
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.folder}'\nmax_connections = 100\n"
            )

    def start(self) -> float:
        return self._pg_ctl("start")

    def restart(self, mode: str = "fast") -> float:
        """Stop (`fast`: connections cut, transactions rolled back; `immediate`: as a crash) and
        start again; the seconds it was away."""
        return self._pg_ctl("restart", "-m", mode)

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def create_database(self, name: str) -> None:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f"CREATE DATABASE {name}")


@contextmanager
def own_postgres(database: str) -> Iterator[Postgres]:
    """A fresh cluster with an empty `database`; stopped and removed on the way out."""
    folder = Path(tempfile.mkdtemp(prefix="eh-bench-pg-"))
    cluster = Postgres(folder, free_port())
    try:
        cluster.create()
        cluster.start()
        try:
            cluster.create_database(database)
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def own_redis(folder: Path) -> Iterator[str]:
    """A Redis of the bench's own on a spare loopback port, keeping nothing on disk; its URL."""
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("redis-server not found")
    port = free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(folder)]
    with (folder / "redis.log").open("wb") as out:
        redis = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        redis.terminate()
        redis.wait(timeout=10)
