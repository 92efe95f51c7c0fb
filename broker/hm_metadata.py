"""The HM's metadata each worker uses, kept fresh from its source (BROKER_HM_METADATA).

- Start-up takes the database's last good copy when it still verifies and is valid, so a restart
  needs no network; else it fetches (and stops when that fails, as before).
- Each worker, at most once per `BROKER_HM_METADATA_REFRESH_MINUTES` and after a response has gone
  out (no sign-in waits for it), looks at the database: a newer good copy there is verified
  again and taken into use. When no worker has tried for that long, this one claims the fetch:
  the copy is fetched, its signature checked against the pinned signer, its validUntil honoured,
  and kept as the new good copy. A failure is logged and recorded with the row; the good copy
  stays in use.
- `flask eherkenning refresh` fetches at once (for cron, or after the HM announced a change).
- A copy past its validUntil is not trusted: sign-ins stop with a page (`MetadataExpired`)
  until a good copy arrives.

The sign-in itself reads only memory: the copy in use and its validUntil.
The built-in simulator's metadata is made in-process, and made anew when it runs out.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import requests
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from broker import metrics
from broker.extensions import db
from broker.models.hm_metadata import StoredCopy, claim_refresh, keep_copy, record_failure, stored_copy
from config import DEFAULT_HM
from saml.hm_metadata import (
    IdentityProvider,
    MetadataError,
    MetadataExpired,
    parse_metadata,
    read_metadata_source,
)
from saml.xml import format_instant

log = logging.getLogger("broker.hm_metadata")
METADATA_LIMIT = 4 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class MetadataStatus:
    """The HM's metadata as this worker knows it, for readiness and the command line."""

    source: str | None  # the URL or file; None: the built-in simulator
    entity_id: str
    valid_until: datetime | None  # of the copy in use; None: it names none
    fetched_at: datetime | None  # when the copy in use was fetched
    # The last refresh that failed after the copy in use was fetched (any worker's), and why.
    failed_at: datetime | None = None
    failure: str | None = None


@dataclass(frozen=True)
class _InUse:
    idp: IdentityProvider
    digest: str
    status: MetadataStatus


@dataclass(frozen=True)
class Refreshed:
    """What a fetch came to: the status after it, and whether the copy changed (or why it failed)."""

    status: MetadataStatus
    changed: bool = False
    failure: str | None = None


class LiveHm:
    def __init__(
        self,
        app: Flask,
        source: str | None,
        read: Callable[[], bytes],
        signers: tuple[bytes, ...],
        clock: Callable[[], datetime],
        interval: timedelta,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = DEFAULT_HM,
    ) -> None:
        """`read` gives the metadata's bytes from `source` (None: the simulator's, kept nowhere).
        Loads the copy to start with; MetadataError when there is none to be had."""
        self.app = app
        self.name = name
        self.source = source
        self._read = read
        self._signers = signers
        self._clock = clock
        self._interval = interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        # The monotonic moment of this worker's next look at the database (and perhaps the source).
        self.look_due_at = monotonic() + interval.total_seconds()
        self._in_use = self._start(clock())

    def install(self) -> None:
        """Look after the metadata once per interval."""
        if self.source is not None:
            self.app.after_request(self.after_request)

    @property
    def pinned(self) -> bool:
        """Whether the metadata's signature is checked (BROKER_HM_METADATA_SIGNER)."""
        return bool(self._signers)

    @property
    def idp(self) -> IdentityProvider:
        """The HM as the copy in use describes it, expired or not."""
        return self._in_use.idp

    def status(self) -> MetadataStatus:
        return self._in_use.status

    def in_use(self, now: datetime) -> IdentityProvider:
        """The HM for a sign-in at `now`; MetadataExpired once the copy is past its validUntil."""
        in_use = self._in_use
        valid_until = in_use.idp.valid_until
        if valid_until is not None and valid_until <= now:
            if self.source is not None:
                raise MetadataExpired(valid_until)
            # The simulator's metadata is ours to make: made anew, never stale.
            in_use = self._take(self._parse(self._read(), now), None)
        return in_use.idp

    def after_request(self, response: Response) -> Response:
        """Once per interval, after a response has gone out: look for a newer copy (`look`)."""
        if self._due():
            response.call_on_close(self.look)
        return response

    def look(self) -> None:
        """What each worker does once per interval: take a newer good copy from the database, and
        fetch when no worker has for an interval. A database error is logged, never raised."""
        assert self.source is not None  # installed only for a source
        now = self._clock()
        with self.app.app_context():
            try:
                self._pick_up(now)
                claimed = claim_refresh(self.source, now, now - self._interval)
                db.session.commit()
                if claimed:
                    self._fetch(now)
            except SQLAlchemyError as error:
                db.session.rollback()
                log.warning("HM metadata: the database could not be read: %s", type(error).__name__)

    def refresh(self) -> Refreshed:
        """Fetch now, whatever the interval (`flask eherkenning refresh`); in the caller's app context."""
        return self._fetch(self._clock())

    def _due(self) -> bool:
        if self._monotonic() < self.look_due_at or not self._lock.acquire(blocking=False):
            return False
        try:
            if self._monotonic() < self.look_due_at:
                return False  # another thread of this worker has just taken it
            self.look_due_at = self._monotonic() + self._interval.total_seconds()
            return True
        finally:
            self._lock.release()

    def _start(self, now: datetime) -> _InUse:
        if self.source is None:
            return self._take(self._parse(self._read(), now), None)
        stored = self._stored()
        if stored is not None and stored.document is not None:
            try:
                return self._take(self._parse(stored.document, now), stored.fetched_at, stored.digest)
            except MetadataError as error:
                log.warning("HM metadata: the copy in the database is not used (%s); fetching it", error)
        data = self._fetched()
        in_use = self._take(self._parse(data, now), now, _digest(data))
        self._keep(data, in_use, now)
        return in_use

    def _stored(self) -> StoredCopy | None:
        """The database's copy at start-up; None when there is none or the database cannot say (not
        migrated yet, say): then the source is asked."""
        assert self.source is not None
        with self.app.app_context():
            try:
                return stored_copy(self.source)
            except SQLAlchemyError as error:
                db.session.rollback()
                log.info("HM metadata: no copy from the database (%s)", type(error).__name__)
                return None

    def _keep(self, data: bytes, in_use: _InUse, now: datetime) -> None:
        assert self.source is not None
        with self.app.app_context():
            try:
                keep_copy(self.source, data, in_use.digest, in_use.idp.entity_id, now, in_use.idp.valid_until)
                db.session.commit()
            except SQLAlchemyError as error:
                db.session.rollback()
                log.info("HM metadata: the copy is not kept in the database (%s)", type(error).__name__)

    def _pick_up(self, now: datetime) -> None:
        """A newer good copy another worker fetched, verified again before use; the last failure."""
        assert self.source is not None
        stored = stored_copy(self.source)
        if stored is None:
            return
        in_use = self._in_use
        if stored.document is not None and stored.digest != in_use.digest:
            try:
                idp = self._parse(stored.document, now)
                self._same_hm(idp)
            except MetadataError as error:
                log.warning("HM metadata: the copy in the database is not taken into use: %s", error)
            else:
                in_use = self._take(idp, stored.fetched_at, stored.digest)
                log.info("HM metadata: a newer copy taken into use, fetched at %s", _when(stored.fetched_at))
        self._note_failure(in_use, stored.failed_at, stored.failure)

    def _fetch(self, now: datetime) -> Refreshed:
        """Fetch, verify and keep the copy; on failure the copy in use stays, and the failure is
        logged and recorded. Commits."""
        assert self.source is not None
        before = self._in_use
        try:
            data = self._fetched()
            idp = self._parse(data, now)
            self._same_hm(idp)
        except MetadataError as error:
            failure = str(error)
            log.warning(
                "HM metadata refresh failed, still using the copy fetched at %s (valid until %s): %s",
                _when(before.status.fetched_at),
                _when(before.idp.valid_until),
                failure,
            )
            record_failure(self.source, now, failure)
            db.session.commit()
            self._note_failure(self._in_use, now, failure)
            return Refreshed(self._in_use.status, failure=failure)
        digest = _digest(data)
        keep_copy(self.source, data, digest, idp.entity_id, now, idp.valid_until)
        db.session.commit()
        in_use = self._take(idp, now, digest)
        changed = digest != before.digest
        if changed:
            log.info("HM metadata: a new copy fetched and in use, valid until %s", _when(idp.valid_until))
        return Refreshed(in_use.status, changed=changed)

    def _fetched(self) -> bytes:
        try:
            return self._read()
        except (requests.RequestException, ValueError) as error:
            raise MetadataError(f"cannot fetch {self.source}: {error}") from None

    def _parse(self, data: bytes, now: datetime) -> IdentityProvider:
        return parse_metadata(data, now, self._signers)

    def _same_hm(self, idp: IdentityProvider) -> None:
        entity_id = self._in_use.idp.entity_id
        if idp.entity_id != entity_id:
            # Sign-ins under way and the requests' records name the HM this worker started with.
            raise MetadataError(
                f"it names another HM ({idp.entity_id!r}, not {entity_id!r}): not taken; to move to another"
                " HM, configure it beside this one (BROKER_HMS) and restart"
            )

    def _take(self, idp: IdentityProvider, fetched_at: datetime | None, digest: str | None = None) -> _InUse:
        status = MetadataStatus(self.source, idp.entity_id, idp.valid_until, fetched_at)
        in_use = _InUse(idp, digest or "", status)
        self._in_use = in_use
        metrics.hm_metadata_valid_until(self.name, idp.valid_until)
        return in_use

    def _note_failure(self, in_use: _InUse, failed_at: datetime | None, failure: str | None) -> None:
        fetched_at = in_use.status.fetched_at
        if failed_at is None or (fetched_at is not None and failed_at <= fetched_at):
            failed_at, failure = None, None
        self._in_use = replace(in_use, status=replace(in_use.status, failed_at=failed_at, failure=failure))


def source_reader(source: str) -> Callable[[], bytes]:
    """How the metadata is read from `source`: fetched over HTTP(S), or read from a file."""
    return lambda: read_metadata_source(source, fetch_url)


def fetch_url(url: str) -> bytes:
    """The body at `url`, at most METADATA_LIMIT bytes; an HTTP error status raises."""
    with requests.get(url, timeout=FETCH_TIMEOUT_SECONDS, stream=True) as answer:
        answer.raise_for_status()
        body = b""
        for chunk in answer.iter_content(64 * 1024):
            body += chunk
            if len(body) > METADATA_LIMIT:
                raise ValueError(f"the metadata is larger than {METADATA_LIMIT} bytes")
    return body


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else format_instant(moment)
