"""gunicorn's settings for eh-broker (read from the working folder by default): the hooks that
Prometheus's multiprocess mode needs when PROMETHEUS_MULTIPROC_DIR is set (see broker/metrics.py).

Everything else (workers, bind address) stays on the command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess


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
