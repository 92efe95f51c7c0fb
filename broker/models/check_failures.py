"""Failed SAML checks kept by their reference (the one the refusal page shows), for
`flask eherkenning explain`: which check, and what it expected and received.

Only what names no person is kept: entity IDs, URLs, moments, algorithms, status codes, reason
codes. Rows go after `RETENTION` with the rest of the flow state (`broker.models.purge`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import JSON, String, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from broker.extensions import db
from broker.models.types import UtcDateTime

RETENTION = timedelta(days=30)


class CheckFailure(db.Model):
    __tablename__ = "check_failure"

    # The refusal page's reference.
    reference: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The sign-in's reference (its SAML request's ID), when the message could be placed.
    sign_in: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(500))
    facts: Mapped[dict[str, str]] = mapped_column(JSON)


@dataclass(frozen=True)
class RecordedFailure:
    reference: str
    sign_in: str | None
    at: datetime
    reason: str
    detail: str
    facts: Mapping[str, str]


_table = CheckFailure.__table__
_ADD = insert(_table)


def record_check_failure(failure: RecordedFailure) -> None:
    """Keep `failure`; the caller commits."""
    db.session.execute(
        _ADD,
        {
            "reference": failure.reference,
            "sign_in": failure.sign_in,
            "at": failure.at,
            "expires_at": failure.at + RETENTION,
            "reason": failure.reason,
            "detail": failure.detail[:500],
            "facts": dict(failure.facts),
        },
    )


def check_failures(reference: str) -> list[RecordedFailure]:
    """The failures kept under `reference`: the page's reference, or a sign-in's (then every
    failed answer to it, oldest first)."""
    rows = db.session.execute(
        select(_table)
        .where((_table.c.reference == reference) | (_table.c.sign_in == reference))
        .order_by(_table.c.at)
    ).all()
    return [RecordedFailure(r.reference, r.sign_in, r.at, r.reason, r.detail, r.facts) for r in rows]
