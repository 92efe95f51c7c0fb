"""Reading local mandates from a CSV file, strictly, for `flask mandates import`.

UTF-8 with or without a byte-order mark; `;` or `,` between fields (as the header row uses); a
header naming the columns `represented_kvk_number`, `representative_kvk_number`, `service`,
`valid_from` and `why`, and optionally `establishment` and `valid_to` (empty: every
establishment; open-ended). Dates are YYYY-MM-DD. Every line is checked and every bad one
reported: a file with any bad line is refused whole, so an import never half-applies, and no
number is ever corrected.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from broker.models import NewMandate
from broker.models.mandates import MAX_WHY
from saml.identifiers import digits_problem

REQUIRED_COLUMNS = ("represented_kvk_number", "representative_kvk_number", "service", "valid_from", "why")
OPTIONAL_COLUMNS = ("establishment", "valid_to")
_DELIMITERS = (";", ",")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class MandateFileError(Exception):
    """The file cannot be imported; `problems` names every bad line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Line:
    """A local mandate read from the file, and the line it is on."""

    number: int
    mandate: NewMandate


def read_mandates(data: bytes, services: Collection[str]) -> list[Line]:
    """The local mandates the file `data` lists, in its order, for `services` (slugs) only;
    MandateFileError naming every bad line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MandateFileError([f"not UTF-8: byte {exc.start} is {data[exc.start]:#04x}"]) from None
    lines = text.splitlines()
    if not lines:
        raise MandateFileError(["the file is empty"])
    delimiter = max(_DELIMITERS, key=lines[0].count)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [cell.strip().casefold() for cell in next(rows)]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise MandateFileError([f"line 1: no column {', '.join(missing)} (the columns: {_COLUMNS})"])
    at = {name: header.index(name) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if name in header}
    read: list[Line] = []
    problems: list[str] = []
    for row in rows:
        number = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {number}: {len(row)} fields, the header names {len(header)}")
            continue
        fields = {name: row[index].strip() for name, index in at.items()}
        mandate = _mandate(fields, services)
        if isinstance(mandate, str):
            problems.append(f"line {number}: {mandate}")
            continue
        clash = next((line for line in read if _overlap(line.mandate, mandate)), None)
        if clash is not None:
            problems.append(f"line {number}: overlaps the local mandate on line {clash.number}")
            continue
        read.append(Line(number, mandate))
    if problems:
        raise MandateFileError(problems)
    if not read:
        raise MandateFileError(["the file lists no local mandates"])
    return read


_COLUMNS = ", ".join((*REQUIRED_COLUMNS, *(f"{name} (optional)" for name in OPTIONAL_COLUMNS)))


def _mandate(fields: dict[str, str], services: Collection[str]) -> NewMandate | str:
    """The line's local mandate, or what is wrong with it."""
    represented, representative = fields["represented_kvk_number"], fields["representative_kvk_number"]
    for what, value in (("represented", represented), ("representative", representative)):
        problem = digits_problem(value, 8)
        if problem is not None:
            return f"{what} KvK number {value!r}: {problem}"
    if represented == representative:
        return "the representative's KvK number is the represented company's"
    service = fields["service"]
    if service not in services:
        return f"service {service!r} is not in the configuration"
    establishment = fields.get("establishment", "") or None
    if establishment is not None and (problem := digits_problem(establishment, 12)) is not None:
        return f"establishment {establishment!r}: {problem}"
    valid_from = _day(fields["valid_from"])
    if valid_from is None:
        return f"valid_from {fields['valid_from']!r} is not a date (YYYY-MM-DD)"
    valid_to = None
    if fields.get("valid_to"):
        valid_to = _day(fields["valid_to"])
        if valid_to is None:
            return f"valid_to {fields['valid_to']!r} is not a date (YYYY-MM-DD)"
        if valid_to < valid_from:
            return f"valid_to {valid_to} is before valid_from {valid_from}"
    why = fields["why"]
    if not why or len(why) > MAX_WHY:
        return f"why must be 1 to {MAX_WHY} characters"
    return NewMandate(represented, representative, service, establishment, valid_from, valid_to, why)


def _day(value: str) -> date | None:
    if not _DAY.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:  # such as 2026-02-30
        return None


def _overlap(a: NewMandate, b: NewMandate) -> bool:
    same_pair = (a.represented_kvk, a.representative_kvk, a.service) == (
        b.represented_kvk,
        b.representative_kvk,
        b.service,
    )
    return same_pair and a.period.overlaps(b.period)
