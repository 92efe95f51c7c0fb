"""Reading the public register of recognised sponsors as exported to CSV, strictly.

UTF-8 with or without a byte-order mark; `;` or `,` between fields (as the header row uses); a
header naming the KvK-number and organisation columns. Every line is checked and every bad one
reported: a file with any bad line is refused whole, so an import never half-applies a list, and
no KvK number is ever corrected (a dropped leading zero or an O for a 0 is named, not guessed).
"""

from __future__ import annotations

import csv
import io

from broker.models import Listed
from saml.identifiers import digits_problem

KVK_COLUMNS = ("kvk-nummer", "kvk nummer", "kvk_number")
NAME_COLUMNS = ("organisatie", "naam", "name")
_DELIMITERS = (";", ",")
# The register's column width.
MAX_NAME = 255


class ExportError(Exception):
    """The file cannot be imported; `problems` names every bad line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_export(data: bytes) -> list[Listed]:
    """The companies the export `data` lists, in its order; ExportError naming every bad line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportError([f"not UTF-8: byte {exc.start} is {data[exc.start]:#04x}"]) from None
    lines = text.splitlines()
    if not lines:
        raise ExportError(["the file is empty"])
    delimiter = max(_DELIMITERS, key=lines[0].count)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [cell.strip().casefold() for cell in next(rows)]
    kvk_at = _column(header, KVK_COLUMNS, "KvK number")
    name_at = _column(header, NAME_COLUMNS, "organisation")
    listed: list[Listed] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for row in rows:
        line = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(kvk_at, name_at):
            problems.append(f"line {line}: {len(row)} fields, the header names {len(header)}")
            continue
        kvk, name = row[kvk_at].strip(), row[name_at].strip()
        problem = _problem(kvk, name, first_line)
        if problem is not None:
            problems.append(f"line {line}: {problem}")
            continue
        first_line[kvk] = line
        listed.append(Listed(kvk, name))
    if problems:
        raise ExportError(problems)
    if not listed:
        raise ExportError(["the file lists no companies"])
    return listed


def _column(header: list[str], names: tuple[str, ...], what: str) -> int:
    found = next((at for at, cell in enumerate(header) if cell in names), None)
    if found is None:
        raise ExportError([f"line 1: no {what} column (one of: {', '.join(names)})"])
    return found


def _problem(kvk: str, name: str, first_line: dict[str, int]) -> str | None:
    problem = digits_problem(kvk, 8)
    if problem is not None:
        return f"KvK number {kvk!r}: {problem}"
    if kvk in first_line:
        return f"KvK number {kvk} is listed already on line {first_line[kvk]}"
    if not name:
        return f"KvK number {kvk}: the organisation's name is empty"
    if len(name) > MAX_NAME:
        return f"KvK number {kvk}: the organisation's name is longer than {MAX_NAME} characters"
    return None
