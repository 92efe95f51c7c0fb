"""Expired flow state removed by the workers themselves, besides `flask purge` from cron.

Each worker sweeps at most once per `BROKER_SWEEP_SECONDS` (300 by default; 0: never), after a
response has gone out (`call_on_close`), so no sign-in waits for it or shares its transaction.
A sweep removes a bounded batch of each table (`sweep_expired`), so it stays short however much
piled up; several workers sweeping at once skip each other's rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from broker.extensions import db
from broker.models.purge import sweep_expired

log = logging.getLogger("broker.sweep")

# Rows of each table one sweep removes at most.
BATCH = 500


class Sweeper:
    def __init__(
        self,
        app: Flask,
        interval_seconds: int,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.interval = interval_seconds
        self.clock = clock
        self.monotonic = monotonic
        self._lock = threading.Lock()
        # Not at start-up: a worker starting sweeps only once it has served for a while.
        self._next = monotonic() + interval_seconds

    def after_request(self, response: Response) -> Response:
        if self._due():
            response.call_on_close(self.sweep)
        return response

    def _due(self) -> bool:
        if self.monotonic() < self._next or not self._lock.acquire(blocking=False):
            return False
        try:
            if self.monotonic() < self._next:
                return False  # another thread of this worker has just taken it
            self._next = self.monotonic() + self.interval
            return True
        finally:
            self._lock.release()

    def sweep(self) -> int:
        """One sweep in a context of its own; a database error is logged, never raised."""
        with self.app.app_context():
            try:
                removed = sweep_expired(self.clock(), BATCH)
            except SQLAlchemyError as error:
                db.session.rollback()
                log.warning("sweep of expired flow state failed: %s", type(error).__name__)
                return 0
        if removed:
            log.info("swept expired flow state rows=%d", removed)
        return removed


def init_app(app: Flask, interval_seconds: int, clock: Callable[[], datetime]) -> None:
    if interval_seconds:
        app.after_request(Sweeper(app, interval_seconds, clock).after_request)
