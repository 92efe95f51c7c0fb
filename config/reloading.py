"""The registry a running broker serves: the configuration file's, read again when the file changes.

Each worker process holds one and looks at the file lazily, when a lookup asks for the registry,
at most once per `ConfigFile.check_seconds`: one `os.stat`, and a read only when the file's
inode, size or modification time changed. A file that does not load is not applied: the error
is logged and the last good registry stays in service until the file changes again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from config.registry import ConfigFile, Registry
from config.settings import ConfigError

log = logging.getLogger("broker.config")

# What tells one version of the file from the next: inode (a replaced file), size, mtime in ns.
Signature = tuple[int, int, int] | None


class LiveRegistry:
    def __init__(
        self,
        config: ConfigFile,
        monotonic: Callable[[], float] = time.monotonic,
        on_reload: Callable[[bool], None] = lambda applied: None,
    ) -> None:
        """Read the file now; ConfigError (an invalid file) stops start-up. `on_reload` hears of
        every change to the file: whether it was applied."""
        self._config = config
        self._monotonic = monotonic
        self._on_reload = on_reload
        self._lock = threading.Lock()
        # Looked at before reading: a change made meanwhile shows as a new signature next time.
        self._seen = _signature(config.path)
        self._registry = config.read()
        self._next_check = monotonic() + config.check_seconds

    def current(self) -> Registry:
        """The registry to serve now; between looks at the file this is one clock read."""
        if self._monotonic() >= self._next_check:
            self._check()
        return self._registry

    def _check(self) -> None:
        # One thread looks at the file; the others serve the registry they have meanwhile.
        if not self._lock.acquire(blocking=False):
            return
        try:
            now = self._monotonic()
            if now < self._next_check:
                return  # another thread has just looked
            self._next_check = now + self._config.check_seconds
            signature = _signature(self._config.path)
            if signature != self._seen:
                self._seen = signature
                self._reload()
        finally:
            self._lock.release()

    def _reload(self) -> None:
        try:
            registry = self._config.read()
        except ConfigError as error:
            log.error("configuration not applied, still serving the one loaded before: %s", error)
            self._on_reload(False)
            return
        self._registry = registry
        self._on_reload(True)
        log.info(
            "configuration reloaded from %s: %d services, %d clients",
            self._config.path,
            len(registry.services),
            len(registry.clients),
        )


def _signature(path: Path) -> Signature:
    try:
        status = os.stat(path)
    except OSError:
        return None  # gone for now: reading it says why, and its return is a change
    return status.st_ino, status.st_size, status.st_mtime_ns
