"""Running the stores' prepared statements in the session's transaction.

Each store builds its statements once, over the tables, with named parameters: a statement
object reused keeps its compiled form and cache key, and plain table statements skip the ORM's
bookkeeping (identity map, unit of work, session synchronisation), which a sign-in never needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import CursorResult, Executable

from broker.extensions import db


def run(statement: Executable, **parameters: Any) -> CursorResult[Any]:
    """Execute `statement` with `parameters` in the current transaction; the caller commits."""
    return db.session.connection().execute(statement, parameters)


def run_many(statement: Executable, rows: Iterable[Mapping[str, Any]]) -> None:
    """Execute `statement` once per row, in one batch where the driver allows; nothing when no rows."""
    batch = list(rows)
    if batch:
        db.session.connection().execute(statement, batch)


def without_transaction() -> None:
    """Run this request's statements each as its own transaction: for a step of one statement,
    whose BEGIN and COMMIT would be two round trips more. Call before the first statement."""
    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
