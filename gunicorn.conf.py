"""gunicorn's settings for eh-broker: `gunicorn --config gunicorn.conf.py wsgi:app` in the
repository's root, as README's production section and the Dockerfile run it (gunicorn also reads
this file by itself from the working folder, so the benchmarks' and tests' gunicorns use it too).

- workers: `WEB_CONCURRENCY`, else two per core this process may use. gunicorn's sync workers
  serve one request each at a time; a sign-in is mostly CPU (signatures, decryption), but at the
  ACS a worker also waits for the HM (artifact resolution) and for KvK, and a second worker per
  core keeps the core busy meanwhile. In a container limited to fewer cores than the machine
  has, set `WEB_CONCURRENCY`.
- the address: gunicorn's own default, 127.0.0.1:8000 (for a reverse proxy on the same machine),
  or 0.0.0.0:`$PORT` when `PORT` is set (the container image sets 8000).
- workers replaced after about 40,000 requests each (below: the memory libxml2 keeps).
- the hooks that Prometheus's multiprocess mode needs when `PROMETHEUS_MULTIPROC_DIR` is set (see
  broker/metrics.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * _cores())
# Each worker loads the app after the fork: its own database connections and metrics files.
preload_app = False
# Each worker is replaced after about this many requests, gracefully (it finishes the one in hand
# while the others serve): xmlsec registers every ID attribute of a message it verifies with
# libxml2, which keeps the value in lxml's per-thread string dictionary for the life of the
# process, about 90 bytes an ID, 450 a sign-in (bench/soak.py --no-recycle). 40,000 requests are
# some 10,000 sign-ins, under 5 MiB; the jitter keeps the workers from going at once.
max_requests = 40_000
max_requests_jitter = 4_000
# Above the longest request: at the ACS, the HM's artifact resolution (10 s at most) and the
# KvK calls of an establishment (BROKER_KVK_TIMEOUT_SECONDS each, 5 by default).
timeout = 30
# The broker logs every request itself (endpoint, status, duration), without query strings: an
# access log would add each URL, the ACS's SAMLart included.
accesslog = None
# gunicornc's socket (to add and remove workers at runtime) is not used: no socket, no one to misuse it.
control_socket_disable = True
# The workers' heartbeat files on tmpfs: on a container's overlay disk a write can stall a worker.
_TMPFS = Path("/dev/shm")  # noqa: S108 (gunicorn makes its files there with mkstemp)
worker_tmp_dir = str(_TMPFS) if _TMPFS.is_dir() else None


def _metrics_folder() -> Path | None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    return Path(folder) if folder else None


def on_starting(server: Any) -> None:
    """Values a previous run left would be added to this run's: start from an empty folder."""
    folder = _metrics_folder()
    if folder is not None and folder.is_dir():
        for stale in folder.glob("*.db"):
            stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A worker gone: its live gauges (connections in use, expiries) leave the sums; its counters stay."""
    if _metrics_folder() is not None:
        multiprocess.mark_process_dead(worker.pid)
