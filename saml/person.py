"""The acting person's name and date of birth, which an HM sends for a service that requested them.

eHerkenning's natural-person attributes (`urn:etoegang:1.9:attribute:…`) carry one text value
each, in a plain Attribute or an EncryptedAttribute (the assertion's reader decrypts those). A
value that cannot be read is left out and named in `Person.unreadable`, never refused: the sign-in
itself does not depend on it. Whether a value may be released is not decided here: the service's
catalogue entry says which it requested.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from lxml import etree

FIRST_NAME = "urn:etoegang:1.9:attribute:FirstName"
FAMILY_NAME = "urn:etoegang:1.9:attribute:FamilyName"
INITIALS = "urn:etoegang:1.9:attribute:Initials"
DATE_OF_BIRTH = "urn:etoegang:1.9:attribute:DateOfBirth"
# Far beyond any real name: a bound, not a rule of the register.
_MAX_NAME = 200
# xs:date, with the time zone it may carry, or the register's YYYYMMDD.
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2})?|(\d{4})(\d{2})(\d{2})")


@dataclass(frozen=True)
class Person:
    """What the HM said of the acting person; `unreadable` names (by the short name of the catalogue,
    e.g. "DateOfBirth") the attributes that came with a value that could not be read."""

    first_name: str | None = None
    family_name: str | None = None
    initials: str | None = None
    date_of_birth: date | None = None
    unreadable: tuple[str, ...] = ()


def read_person(values: Mapping[str, Sequence[etree._Element]]) -> Person:
    """The person attributes among an assertion's attribute `values` (AttributeValue elements by
    attribute Name); absent ones are None."""
    unreadable: list[str] = []

    def read(name: str) -> str | None:
        found = values.get(name)
        if found is None:
            return None
        value = _one_text(found)
        if value is None or (name != DATE_OF_BIRTH and not _is_name(value)):
            unreadable.append(name.rsplit(":", 1)[1])
            return None
        return value

    birth = read(DATE_OF_BIRTH)
    date_of_birth = None if birth is None else _date(birth)
    if birth is not None and date_of_birth is None:
        unreadable.append("DateOfBirth")
    return Person(
        first_name=read(FIRST_NAME),
        family_name=read(FAMILY_NAME),
        initials=read(INITIALS),
        date_of_birth=date_of_birth,
        unreadable=tuple(sorted(unreadable)),
    )


def _one_text(found: Sequence[etree._Element]) -> str | None:
    """The one AttributeValue's text; None for several values, none, or one holding elements."""
    if len(found) != 1 or len(found[0]):
        return None
    return (found[0].text or "").strip()


def _is_name(value: str) -> bool:
    return bool(value) and len(value) <= _MAX_NAME and value.isprintable()


def _date(value: str) -> date | None:
    match = _DATE.fullmatch(value)
    if match is None:
        return None
    year, month, day = (int(part) for part in (match.group(1, 2, 3) if match[1] else match.group(4, 5, 6)))
    try:
        return date(year, month, day)
    except ValueError:
        return None
