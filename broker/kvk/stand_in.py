"""A stand-in for the KvK Handelsregister API, for development and tests (BROKER_SIMULATOR=1).

Answers the two endpoints the broker reads with the API's real JSON shapes, for a few fixed
companies that line up with the HM simulator's KvK numbers (README, "A sign-in through the
simulator"). Pure: a path in, a `KvkReply` out; `broker.web.simulator` serves it over HTTP, and
the broker asks it in-process (the development server answers one request at a time).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from broker.kvk.client import KvkReply


@dataclass(frozen=True)
class _Vestiging:
    number: str
    kvk_number: str
    trade_name: str
    main: bool
    street: str
    postcode: str
    city: str
    ended: str = ""  # YYYYMMDD once it has stopped

    @property
    def address(self) -> str:
        return f"{self.street} {self.postcode} {self.city}"


# The simulator's default company: several establishments, one of them stopped.
SEVERAL = "12345678"
# One establishment only: picked without asking.
ONE = "24444001"
# A foundation registered as a legal entity only: no establishment number (0000 + KvK).
NONE = "11112222"
# The API answers IPD1002 (temporarily unavailable) for this one: to see the retry page.
UNAVAILABLE = "99999999"

_VESTIGINGEN = (
    _Vestiging("000052460101", SEVERAL, "Bakkerij Van Dijk", True, "Oudegracht 12", "3511AB", "Utrecht"),
    _Vestiging("000052460102", SEVERAL, "Bakkerij Van Dijk", False, "Langestraat 3", "3811AA", "Amersfoort"),
    _Vestiging("000052460103", SEVERAL, "Van Dijk Banket", False, "Slotlaan 40", "3701GK", "Zeist"),
    _Vestiging(
        "000052460104", SEVERAL, "Bakkerij Van Dijk", False, "Grotestraat 8", "3511AC", "Utrecht", "20240630"
    ),
    _Vestiging("000061830201", ONE, "Installatiebedrijf Jansen", True, "Dorpsstraat 1", "1234AB", "Ede"),
)
_COMPANIES = frozenset({SEVERAL, ONE, NONE})

_LIST = re.compile(r"/api/v1/basisprofielen/([0-9]{8})/vestigingen")
_PROFILE = re.compile(r"/api/v1/vestigingsprofielen/([0-9]{12})")


def answer(path: str) -> KvkReply:
    """What the API would answer a GET of `path` (below the base URL)."""
    if (found := _LIST.fullmatch(path)) is not None:
        return _establishments(found.group(1))
    if (found := _PROFILE.fullmatch(path)) is not None:
        return _profile(found.group(1))
    return _error(400, "IPD0004", "Het opgegeven nummer is niet valide")


def _establishments(kvk_number: str) -> KvkReply:
    if kvk_number == UNAVAILABLE:
        return _error(500, "IPD1002", "Het Handelsregister is tijdelijk niet beschikbaar")
    if kvk_number not in _COMPANIES:
        return _error(404, "IPD0005", "Het product is niet leverbaar voor dit KvK-nummer")
    current = [v for v in _VESTIGINGEN if v.kvk_number == kvk_number and not v.ended]
    return _json(
        {
            "kvkNummer": kvk_number,
            "aantalCommercieleVestigingen": len(current),
            "aantalNietCommercieleVestigingen": 0,
            "totaalAantalVestigingen": len(current),
            "vestigingen": [
                {
                    "vestigingsnummer": v.number,
                    "eersteHandelsnaam": v.trade_name,
                    "indHoofdvestiging": "Ja" if v.main else "Nee",
                    "indCommercieleVestiging": "Ja",
                    "volledigAdres": v.address,
                }
                for v in current
            ],
        }
    )


def _profile(number: str) -> KvkReply:
    found = next((v for v in _VESTIGINGEN if v.number == number), None)
    if found is None:
        return _error(404, "IPD0005", "Het product is niet leverbaar voor dit vestigingsnummer")
    return _json(
        {
            "vestigingsnummer": found.number,
            "kvkNummer": found.kvk_number,
            "eersteHandelsnaam": found.trade_name,
            "indHoofdvestiging": "Ja" if found.main else "Nee",
            "indCommercieleVestiging": "Ja",
            "materieleRegistratie": {"datumAanvang": "20100101", "datumEinde": found.ended or None},
            "adressen": [
                {
                    "type": "bezoekadres",
                    "volledigAdres": found.address,
                    "postcode": found.postcode,
                    "plaats": found.city,
                    "land": "Nederland",
                }
            ],
        }
    )


def _json(document: dict[str, Any], status: int = 200) -> KvkReply:
    return KvkReply(status, json.dumps(document).encode("utf-8"))


def _error(status: int, code: str, description: str) -> KvkReply:
    return _json({"fout": [{"code": code, "omschrijving": description}]}, status)
