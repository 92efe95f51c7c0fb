"""Answers of the KvK Handelsregister API, kept to serve while the API is unavailable."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Executable, String, Text, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from broker.extensions import db
from broker.models.statements import run
from broker.models.types import UtcDateTime


class KvkAnswer(db.Model):
    """The last successful answer to one question (its API path), until it is too old to serve."""

    __tablename__ = "kvk_answer"

    path: Mapped[str] = mapped_column(String(128), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


_answers = KvkAnswer.__table__
_FIND_ANSWER = select(_answers.c.body).where(
    _answers.c.path == bindparam("path"), _answers.c.expires_at > bindparam("now")
)


def _upsert(dialect: str) -> Executable:
    # Two workers may fetch the same answer at once: the later one replaces the earlier.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_answers)
    return statement.on_conflict_do_update(
        index_elements=[_answers.c.path],
        set_={
            "body": statement.excluded.body,
            "fetched_at": statement.excluded.fetched_at,
            "expires_at": statement.excluded.expires_at,
        },
    )


_REMEMBER = {dialect: _upsert(dialect) for dialect in ("postgresql", "sqlite")}


def remember_kvk_answer(path: str, body: bytes, now: datetime, lifetime: timedelta) -> None:
    """Keep a successful answer for `lifetime`; the caller commits."""
    dialect = db.session.connection().dialect.name
    run(
        _REMEMBER[dialect],
        path=path,
        body=body.decode("utf-8"),
        fetched_at=now,
        expires_at=now + lifetime,
    )


def cached_kvk_answer(path: str, now: datetime) -> bytes | None:
    """The kept answer to `path`, if it is not too old."""
    body = run(_FIND_ANSWER, path=path, now=now).scalar()
    return None if body is None else body.encode("utf-8")
