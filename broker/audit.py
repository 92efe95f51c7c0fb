"""The audit trail: an append-only, hash-chained record of every decision on a sign-in and of every
change made through the broker to its configuration and registers.

A record's content is canonical JSON (sorted keys, no spaces, ASCII): its `content_hash` is the
SHA-256 of those bytes, its `chain_hash` the SHA-256 of the previous record's chain hash and its
own content hash (`broker.models.audit`). Anyone holding the records can check them: `verify`
walks the chain from its anchor (genesis, or where the last retention run left it) to the head
and names the first record that does not fit.

A decision keeps what says who was let in where, or why not, and nothing else of the person: the
acting subject's pseudonym (specific to this broker and company), the legal subject and
intermediary (a KvK number or RSIN; of a BSN only its type), the HM, the level, the mandate, the
establishment and where it came from. A change keeps who made it (the OS user), what, and before
and after as small values of the configuration or register itself.
"""

from __future__ import annotations

import enum
import getpass
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from broker.decide import EstablishmentSource, MandateKind
from broker.extensions import db
from broker.models import audit as store
from saml.identifiers import IdentifierType
from saml.identity import Identifier
from saml.loa import LevelOfAssurance


class Outcome(enum.StrEnum):
    ADMITTED = "admitted"
    REFUSED = "refused"


@dataclass(frozen=True)
class DecisionRecord:
    """A sign-in admitted or refused, in plain values (the web layer builds it).

    A refusal before the HM's answer was validated knows no subject: those fields stay empty.
    """

    at: datetime
    client_id: str
    service: str  # the service's slug
    hm: str  # the HM's entityID
    outcome: Outcome
    reason: str | None = None  # the reason code of a refusal
    level: LevelOfAssurance | None = None  # the level achieved
    acting_subject: str | None = None  # the ActingSubjectID pseudonym
    legal_subject: Identifier | None = None
    intermediary: Identifier | None = None
    mandate: MandateKind | None = None
    establishment: str | None = None  # the establishment number
    establishment_source: EstablishmentSource | None = None

    def __post_init__(self) -> None:
        if (self.outcome is Outcome.REFUSED) != bool(self.reason):
            raise ValueError("a refusal has a reason code, an admission none")
        if (self.establishment is None) != (self.establishment_source is None):
            raise ValueError("an establishment number comes with its source")

    def content(self) -> dict[str, Any]:
        establishment = None
        if self.establishment is not None:
            establishment = {"number": self.establishment, "source": str(self.establishment_source)}
        return {
            "client_id": self.client_id,
            "service": self.service,
            "hm": self.hm,
            "level": None if self.level is None else self.level.uri,
            "acting_subject": self.acting_subject,
            "legal_subject": _identifier(self.legal_subject),
            "intermediary": _identifier(self.intermediary),
            "mandate": None if self.mandate is None else str(self.mandate),
            "establishment": establishment,
            "outcome": str(self.outcome),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ChangeRecord:
    """A change to the configuration or a register: who (the OS user, or an admin), what (the
    command), which entry (`key`), and the entry before and after (None: there was none, or is
    none now)."""

    at: datetime
    who: str
    what: str
    key: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None

    def content(self) -> dict[str, Any]:
        return {
            "who": self.who,
            "what": self.what,
            "key": self.key,
            "before": self.before,
            "after": self.after,
        }


Record = DecisionRecord | ChangeRecord
_KINDS: dict[type[Record], str] = {DecisionRecord: "decision", ChangeRecord: "change"}


def record_decision(decision: DecisionRecord) -> str:
    """Add `decision` to the trail: one INSERT in the caller's transaction, which commits it.
    Returns the record's reference (16 hex digits), to show the person and find the record by."""
    return _append(decision)


def record_change(change: ChangeRecord) -> str:
    """Add `change` to the trail, in the caller's transaction (the one making the change, or, for
    the configuration file, committed once the file is written). Returns the reference."""
    return _append(change)


def os_user() -> str:
    """Who is running this command: the login name, else the numeric user id."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no name in the environment nor the password database
        return f"uid {os.getuid()}"


def canonical(content: Mapping[str, Any]) -> str:
    """The one serialisation a record's hash covers: sorted keys, no spaces, ASCII."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _append(record: Record) -> str:
    if record.at.tzinfo is None:
        raise ValueError("an audit record's time must be aware")
    # 64 random bits: across the tens of millions of records a retention period may hold, a
    # collision (which would fail the INSERT) stays below one in ten thousand.
    reference = secrets.token_hex(8)
    kind = _KINDS[type(record)]
    content = canonical({"kind": kind, "at": _time(record.at), "reference": reference, **record.content()})
    store.append(record.at, reference, kind, content, store.content_hash(content))
    return reference


def _time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _identifier(identifier: Identifier | None) -> dict[str, str] | None:
    if identifier is None:
        return None
    if identifier.type is IdentifierType.BSN:
        # A citizen service number is not kept: its type says enough for the trail.
        return {"type": identifier.type.short}
    return {"type": identifier.type.short, "value": identifier.value}


# Reading the trail back.


@dataclass(frozen=True)
class Anchor:
    """Where the remaining chain starts: genesis, or the last record a retention run removed."""

    seq: int
    chain_hash: str
    at: datetime | None
    anchored_at: datetime | None

    def __str__(self) -> str:
        if self.seq == 0:
            return "genesis"
        made = _time(self.at) if self.at else "unknown"
        removed = _time(self.anchored_at) if self.anchored_at else "unknown"
        return f"seq {self.seq} ({self.chain_hash}, made {made}, the records up to it removed {removed})"


@dataclass(frozen=True)
class Flaw:
    """The first record (or the head) that does not fit the chain."""

    seq: int
    reference: str | None
    problem: str

    def __str__(self) -> str:
        named = f"record seq {self.seq}" + (f" (reference {self.reference})" if self.reference else "")
        return f"{named}: {self.problem}"


@dataclass(frozen=True)
class Verified:
    records: int
    anchor: Anchor
    head_seq: int
    head_hash: str
    flaw: Flaw | None


def verify() -> Verified:
    """Walk the chain from its anchor to its head, recomputing every hash from the stored content."""
    store.read_one_snapshot()
    head = store.chain()
    anchor = _anchor_of(head)
    count, previous_seq, previous_hash = 0, head.anchor_seq, head.anchor_hash
    with closing(store.records_up_to(head.seq)) as records:
        for record in records:
            problem = _misfit(record, previous_seq, previous_hash)
            if problem is not None:
                flaw = Flaw(record.seq, record.reference, problem)
                return Verified(count, anchor, head.seq, head.chain_hash, flaw)
            count, previous_seq, previous_hash = count + 1, record.seq, record.chain_hash
    if (previous_seq, previous_hash) != (head.seq, head.chain_hash):
        problem = (
            f"the chain's head is here (hash {head.chain_hash}), but the last record is seq {previous_seq}"
        )
        return Verified(count, anchor, head.seq, head.chain_hash, Flaw(head.seq, None, problem))
    return Verified(count, anchor, head.seq, head.chain_hash, None)


def _misfit(record: store.StoredRecord, previous_seq: int, previous_hash: str) -> str | None:
    if record.seq <= previous_seq:
        return f"it lies behind the chain's anchor, seq {previous_seq}"
    if record.seq > previous_seq + 1:
        return f"the records seq {previous_seq + 1} to {record.seq - 1} before it are missing"
    if store.content_hash(record.content) != record.content_hash:
        return "its content does not fit its content_hash"
    try:
        content = json.loads(record.content)
        fits = (content["kind"], content["reference"], content["at"]) == (
            record.kind,
            record.reference,
            _time(record.at),
        )
    except (ValueError, KeyError, TypeError):
        return "its content is not a record"
    if not fits:
        return "its kind, reference or time differ from its content"
    if store.chain_hash(previous_hash, record.content_hash) != record.chain_hash:
        return "its chain_hash does not follow from the record before it"
    return None


def exported(record: store.StoredRecord) -> dict[str, Any]:
    """A record as one line of an export: its content's fields, its seq and both hashes; the
    content hash is the SHA-256 of `canonical` of the content's fields alone."""
    return {
        "seq": record.seq,
        **json.loads(record.content),
        "content_hash": record.content_hash,
        "chain_hash": record.chain_hash,
    }


def export(first: date, last: date) -> Iterator[str]:
    """JSON lines of the records made on the days `first` to `last` (UTC, both included), in chain order."""
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    for record in store.records_between(start, end):
        yield json.dumps(exported(record), ensure_ascii=False)


def find(reference: str) -> dict[str, Any] | None:
    """The record with `reference` (as an export line holds it), or None."""
    record = store.find(reference.strip().lower())
    return None if record is None else exported(record)


@dataclass(frozen=True)
class Retained:
    removed: int
    before: Anchor
    after: Anchor


# Records removed per transaction: each holds the chain's head, and so every append, until it commits.
RETENTION_STEP = 10_000


def retain(now: datetime, retention: timedelta, who: str, step: int = RETENTION_STEP) -> Retained:
    """Remove the records made more than `retention` before `now`, oldest first and without a gap,
    at most `step` at a time. Each step is one transaction, committed here: the last record it
    removes becomes the anchor the chain is verified from, and the step is itself recorded."""
    head = store.chain()
    before = after = _anchor_of(head)
    removed = 0
    while (last := store.last_before(now - retention, head, step)) is not None:
        gone = store.remove_through(last, now)
        moved = Anchor(last.seq, last.chain_hash, last.at, now)
        record_change(
            ChangeRecord(
                now, who, "audit purge", "anchor", _anchor(after), {**_anchor(moved), "removed": gone}
            )
        )
        db.session.commit()
        removed, after, head = removed + gone, moved, store.chain()
    return Retained(removed, before, after)


def _anchor_of(head: store.Chain) -> Anchor:
    return Anchor(head.anchor_seq, head.anchor_hash, head.anchor_at, head.anchored_at)


def _anchor(anchor: Anchor) -> dict[str, Any]:
    return {"seq": anchor.seq, "chain_hash": anchor.chain_hash, "at": anchor.at and _time(anchor.at)}
