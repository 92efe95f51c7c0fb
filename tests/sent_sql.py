"""The SQL the broker sends to its database, as the driver receives it, on every connection the pool
hands out while a block runs. The stores run their statements on the driver's cursor
(broker/models/statements.py), past SQLAlchemy's execute events; the driver sees everything.

- SQLite: sqlite3's trace callback. It reports a statement again for each trigger the statement
  fires (CPython expands the statement's SQL for the trigger's trace event too), so a repeat
  straight after the same text is not counted: the tests never run one statement twice in a row
  with the same values.
- PostgreSQL: psycopg's `cursor_factory`, a cursor that notes what it executes.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from flask import Flask
from sqlalchemy import event

from broker.extensions import db


@contextmanager
def sent_sql(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []
    with app.app_context():
        pool = db.engine.pool

    def traced(sql: str) -> None:
        if not seen or seen[-1] != sql:
            seen.append(sql)

    class NotingCursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(query if isinstance(query, str) else str(query))
            return super().execute(query, *args, **kwargs)

    def checkout(connection: Any, *_: object) -> None:
        if isinstance(connection, sqlite3.Connection):
            connection.set_trace_callback(traced)
        else:
            connection.cursor_factory = NotingCursor

    def checkin(connection: Any, *_: object) -> None:
        if isinstance(connection, sqlite3.Connection):
            connection.set_trace_callback(None)
        else:
            connection.cursor_factory = psycopg.Cursor

    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        yield seen
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)


def first_words(statements: list[str]) -> list[str]:
    """Each statement's verb, the transactions' and SQLite's own (BEGIN, COMMIT, PRAGMA) left out."""
    verbs = [statement.split(None, 1)[0].upper() for statement in statements]
    return [verb for verb in verbs if verb not in {"BEGIN", "COMMIT", "PRAGMA"}]


def touches(sql: str, table: str) -> bool:
    """Whether `sql` reads or writes `table` (SQLite's trace shows the values too: a value that
    happens to contain the table's name does not count)."""
    return re.search(rf"\b(?:FROM|INTO|UPDATE|JOIN)\s+{re.escape(table)}\b", sql) is not None
