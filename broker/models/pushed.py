"""Pushed authorization requests (RFC 9126): validated parameters a client posted, waiting for the
browser to bring their `request_uri` to /oidc/authorize. Single use, short-lived, shared by every
worker; the reference is stored as its SHA-256, as codes are."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, bindparam, delete, insert
from sqlalchemy.orm import Mapped, mapped_column

from broker.extensions import db
from broker.models.statements import run
from broker.models.types import UtcDateTime


class PushedAuthorization(db.Model):
    __tablename__ = "pushed_authorization"

    reference_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, str]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


_pushed = PushedAuthorization.__table__
_ADD = insert(_pushed)
_TAKE = (
    delete(_pushed)
    .where(_pushed.c.reference_hash == bindparam("reference"), _pushed.c.client_id == bindparam("client"))
    .returning(_pushed.c.parameters, _pushed.c.expires_at)
)


def add_pushed(reference_hash: str, client_id: str, parameters: dict[str, str], expires_at: datetime) -> None:
    """Keep a pushed request's validated parameters; the caller commits."""
    run(
        _ADD, reference_hash=reference_hash, client_id=client_id, parameters=parameters, expires_at=expires_at
    )


def take_pushed(reference_hash: str, client_id: str, now: datetime) -> dict[str, str] | None:
    """The parameters pushed under this reference by this client, removed as taken (one delete, so
    two workers never both take them); None when unknown, another client's, used or expired."""
    row = run(_TAKE, reference=reference_hash, client=client_id).first()
    return None if row is None or row.expires_at <= now else dict(row.parameters)
