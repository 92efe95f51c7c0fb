"""The API's JSON answers read strictly into `RegisteredEstablishment` values.

Shapes (DOMAIN.md, "KvK Handelsregister API"): `basisprofielen/{kvkNummer}/vestigingen` lists the
company's current establishments; `vestigingsprofielen/{vestigingsnummer}` describes one, with
`materieleRegistratie.datumEinde` set when it stops (a day to come, for a stop registered ahead,
or one gone by). Anything else is `MALFORMED`.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from broker.decide import RegisteredEstablishment
from broker.kvk.errors import KvkError, KvkFailure
from saml.identifiers import is_establishment_number, is_kvk_number

_MAIN = {"Ja": True, "Nee": False}
# YYYYMMDD; KvK writes zeros for the parts it does not know.
_DATE = re.compile(r"[0-9]{8}")


def parse_establishments(body: bytes, kvk_number: str) -> tuple[RegisteredEstablishment, ...]:
    """The establishments of `kvk_number` in a `basisprofielen/{kvkNummer}/vestigingen` answer."""
    document = _object(body)
    if _text(document, "kvkNummer") != kvk_number:
        raise KvkError(KvkFailure.MALFORMED, "vestigingen: kvkNummer is not the one asked for")
    items = document.get("vestigingen", [])
    if not isinstance(items, list):
        raise KvkError(KvkFailure.MALFORMED, "vestigingen: not a list")
    return tuple(_listed(item, kvk_number) for item in items)


def parse_profile(body: bytes, number: str) -> RegisteredEstablishment:
    """The establishment in a `vestigingsprofielen/{vestigingsnummer}` answer."""
    document = _object(body)
    if _establishment_number(document) != number:
        raise KvkError(KvkFailure.MALFORMED, "vestigingsprofiel: vestigingsnummer is not the one asked for")
    kvk_number = _text(document, "kvkNummer")
    if not is_kvk_number(kvk_number):
        raise KvkError(KvkFailure.MALFORMED, "vestigingsprofiel: kvkNummer is not 8 digits")
    registration = document.get("materieleRegistratie", {})
    if not isinstance(registration, dict):
        raise KvkError(KvkFailure.MALFORMED, "vestigingsprofiel: materieleRegistratie is not an object")
    return RegisteredEstablishment(
        number=number,
        kvk_number=kvk_number,
        trade_name=_text(document, "eersteHandelsnaam", ""),
        main=_main(document),
        address=_first_address(document),
        ended=_end_date(registration.get("datumEinde")),
    )


def _object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise KvkError(KvkFailure.MALFORMED, "the answer is not JSON") from None
    if not isinstance(document, dict):
        raise KvkError(KvkFailure.MALFORMED, "the answer is not a JSON object")
    return document


def _listed(item: Any, kvk_number: str) -> RegisteredEstablishment:
    if not isinstance(item, dict):
        raise KvkError(KvkFailure.MALFORMED, "vestigingen: an entry is not an object")
    return RegisteredEstablishment(
        number=_establishment_number(item),
        kvk_number=kvk_number,
        trade_name=_text(item, "eersteHandelsnaam", ""),
        main=_main(item),
        address=_text(item, "volledigAdres", ""),
        # The list holds the company's current establishments; one that stopped is no longer in it.
    )


def _text(document: dict[str, Any], name: str, default: str | None = None) -> str:
    value = document.get(name, default)
    if not isinstance(value, str):
        raise KvkError(KvkFailure.MALFORMED, f"{name} is missing or not a string")
    return value


def _establishment_number(document: dict[str, Any]) -> str:
    number = _text(document, "vestigingsnummer")
    if not is_establishment_number(number):
        raise KvkError(KvkFailure.MALFORMED, "vestigingsnummer is not 12 digits")
    return number


def _main(document: dict[str, Any]) -> bool:
    value = document.get("indHoofdvestiging", "Nee")
    if value not in _MAIN:
        raise KvkError(KvkFailure.MALFORMED, "indHoofdvestiging is neither Ja nor Nee")
    return _MAIN[value]


def _end_date(value: Any) -> date | None:
    """The day `datumEinde` names; None when absent, empty or all zeros (no end).

    KvK writes zeros for the parts it does not know: an unknown month or day counts as the
    first, the earliest the end can be, so a stop is never seen late.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise KvkError(KvkFailure.MALFORMED, "datumEinde is not a YYYYMMDD date")
    year, month, day = int(value[:4]), int(value[4:6]), int(value[6:])
    if year == 0:
        return None
    try:
        return date(year, month or 1, day or 1)
    except ValueError:
        raise KvkError(KvkFailure.MALFORMED, "datumEinde is not a YYYYMMDD date") from None


def _first_address(document: dict[str, Any]) -> str:
    addresses = document.get("adressen", [])
    if not isinstance(addresses, list):
        raise KvkError(KvkFailure.MALFORMED, "adressen is not a list")
    for address in addresses:
        if isinstance(address, dict) and isinstance(address.get("volledigAdres"), str):
            return address["volledigAdres"]
    return ""
