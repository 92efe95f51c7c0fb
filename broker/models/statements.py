"""Running the stores' statements in the session's transaction, on the driver's own cursor.

Each store builds its statements once, over the tables, with named parameters. The first time a
statement runs with a given set of parameter names it is compiled for the database's dialect, and
its columns' conversions (aware UTC datetimes, JSON, dates on SQLite) are looked up, all with
SQLAlchemy's public API; every later run converts the values, hands the SQL text to the driver's
cursor on the session's connection (so in its transaction, and committed with it), and converts
the rows back. SQLAlchemy's execution layer (an execution context, a cache key and a result object
per statement) cost a sign-in more than its dozen round trips to PostgreSQL.

Errors come out as SQLAlchemy's (`IntegrityError` and the rest), and a connection the database
cut is invalidated, as SQLAlchemy's own execution does. Reads that stream (`stream`) still go
through SQLAlchemy, for its server-side cursor.
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Executable, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.sql.compiler import SQLCompiler

from broker.extensions import db

# A row: the statement's columns by name (a named tuple), converted as their types say.
Row = Any
_Convert = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled for one dialect and set of parameter names; nothing in it refers back
    to the statement, which the cache holds weakly."""

    sql: str
    fixed: dict[str, Any]  # the values the statement carries itself (a LIMIT's, a literal's)
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]  # the parameters that need converting
    order: tuple[str, ...] | None  # positional drivers (SQLite's qmark): the parameters' order
    row: type[tuple[Any, ...]] | None  # what the statement returns, if it returns rows
    columns: tuple[_Convert, ...]

    def values(self, parameters: dict[str, Any]) -> Any:
        values = self.fixed | parameters
        for name, convert in self.binds:
            values[name] = convert(values[name])
        return values if self.order is None else tuple(values[name] for name in self.order)

    def rows(self, fetched: list[Any]) -> list[Row]:
        assert self.row is not None
        if not any(self.columns):
            return [self.row._make(raw) for raw in fetched]
        pairs = [zip(self.columns, raw, strict=True) for raw in fetched]
        return [self.row._make([v if to is None else to(v) for to, v in pair]) for pair in pairs]


# Per statement (weakly: a statement made for one call goes with it), per dialect and parameter names.
_PREPARED: weakref.WeakKeyDictionary[Executable, dict[tuple[str, frozenset[str]], _Prepared]] = (
    weakref.WeakKeyDictionary()
)


class Result:
    """What a statement answered: its rows (if it returns any) and how many rows it touched."""

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    def first(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def one_or_none(self) -> Row | None:
        if len(self._rows) > 1:
            raise MultipleResultsFound("more than one row where one was expected")
        return self.first()

    def one(self) -> Row:
        found = self.one_or_none()
        if found is None:
            raise NoResultFound("no row where one was expected")
        return found

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


def run(statement: Executable, **parameters: Any) -> Result:
    """Execute `statement` with `parameters` in the current transaction; the caller commits."""
    connection = db.session.connection()
    prepared = _prepared(statement, connection.dialect, frozenset(parameters))
    values = prepared.values(parameters)
    dbapi = connection.connection.driver_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        cursor.execute(prepared.sql, values)
        rows = prepared.rows(cursor.fetchall()) if prepared.row is not None else []
        return Result(rows, cursor.rowcount)
    except connection.dialect.loaded_dbapi.Error as error:
        raise _translated(connection, cursor, prepared.sql, values, error) from error
    finally:
        cursor.close()


def run_many(statement: Executable, rows: Iterable[Mapping[str, Any]]) -> None:
    """Execute `statement` once per row; nothing when no rows."""
    for row in rows:
        run(statement, **row)


@contextmanager
def stream(statement: Select[Any], batch: int, **parameters: Any) -> Iterator[Iterator[Any]]:
    """The rows of `statement` read `batch` at a time (on PostgreSQL a server-side cursor), through
    SQLAlchemy; closed on the way out, read to the end or not."""
    connection = db.session.connection()
    with connection.execute(statement.execution_options(yield_per=batch), parameters) as rows:
        yield iter(rows)


def without_transaction() -> None:
    """Run this request's statements each as its own transaction: for a step of one statement,
    whose BEGIN and COMMIT would be two round trips more. Call before the first statement."""
    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _prepared(statement: Executable, dialect: Dialect, names: frozenset[str]) -> _Prepared:
    by_key = _PREPARED.setdefault(statement, {})
    key = (dialect.name, names)
    found = by_key.get(key)
    if found is None:
        found = by_key[key] = _prepare(statement, dialect, names)
    return found


def _prepare(statement: Executable, dialect: Dialect, names: frozenset[str]) -> _Prepared:
    compiled = statement.compile(dialect=dialect, column_keys=sorted(names))
    assert isinstance(compiled, SQLCompiler)
    if compiled.escaped_bind_names:
        raise ValueError(f"parameter names must be plain identifiers: {sorted(compiled.escaped_bind_names)}")
    fixed = {name: bind.effective_value for bind, name in compiled.bind_names.items() if not bind.required}
    # One conversion per name: a parameter used twice (`now` in a WHERE and a SET) is one value.
    binds: dict[str, Callable[[Any], Any]] = {}
    for bind, name in compiled.bind_names.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            binds.setdefault(name, convert)
    # A SELECT's columns, or what an INSERT, UPDATE or DELETE returns (none without RETURNING).
    columns = list(getattr(statement, "exported_columns", ()))
    # rename=True: a column without a plain name (a function's result) is reachable by position.
    row = namedtuple("Row", [str(column.key) for column in columns], rename=True) if columns else None
    converts = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
    order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    return _Prepared(compiled.string, fixed, tuple(binds.items()), order, row, converts)


def _translated(connection: Connection, cursor: Any, sql: str, values: Any, error: Exception) -> DBAPIError:
    """`error` as SQLAlchemy raises it; a connection the database cut is invalidated first, so the
    pool opens a new one."""
    dialect = connection.dialect
    dbapi = connection.connection.driver_connection
    disconnected = dialect.is_disconnect(error, dbapi, cursor)
    if disconnected:
        connection.invalidate(error)
    return DBAPIError.instance(
        sql,
        values,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=disconnected,
        dialect=dialect,
    )
