"""Dutch identifiers carried by eHerkenning assertions, with strict format checks."""

from __future__ import annotations

import enum
import re
import unicodedata

from saml.errors import Reason, SamlError
from saml.problem import N_, Problem


class IdentifierType(enum.Enum):
    """Identifier types by the NameQualifier / attribute name eHerkenning uses for them."""

    KVK = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
    RSIN = "urn:etoegang:1.9:EntityConcernedID:RSIN"
    BSN = "urn:etoegang:1.12:EntityConcernedID:BSN"

    @property
    def short(self) -> str:
        return {"KVK": "kvk", "RSIN": "rsin", "BSN": "bsn"}[self.name]

    def check(self, value: str) -> str:
        """`value` if it is well-formed for this type, else a SamlError naming the type."""
        valid = {
            IdentifierType.KVK: is_kvk_number,
            IdentifierType.RSIN: is_rsin,
            IdentifierType.BSN: is_bsn,
        }[self](value)
        if not valid:
            raise SamlError(Reason.ATTRIBUTE_INVALID, f"malformed {self.short} identifier")
        return value


# ASCII digits only: `\d` would take any script's digits ("１２３４５６７８", "١٢٣٤٥٦٧٨").
_KVK = re.compile(r"[0-9]{8}")
_ESTABLISHMENT = re.compile(r"[0-9]{12}")
_NINE = re.compile(r"[0-9]{9}")


def is_kvk_number(value: str) -> bool:
    """Eight digits, leading zeros kept."""
    return _KVK.fullmatch(value) is not None


def digits_problem(value: str, length: int) -> Problem | None:
    """Why `value` is not `length` digits, naming the first wrong character; None when it is.

    For identifiers typed by hand, where 0/O and 1/I/l get confused: say which character is
    wrong, never correct it.
    """
    for position, char in enumerate(value, start=1):
        if char not in "0123456789":
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            template = N_("character %(position)s is %(char)r (%(name)s), not a digit")
            return Problem(template, {"position": position, "char": char, "name": name})
    if len(value) != length:
        counts = {"length": length, "count": len(value)}
        return Problem(N_("must be %(length)s digits, not %(count)s"), counts)
    return None


def is_establishment_number(value: str) -> bool:
    """A vestigingsnummer: twelve digits."""
    return _ESTABLISHMENT.fullmatch(value) is not None


def _eleven_test(value: str) -> bool:
    # Weights 9..2 for the first eight digits, -1 for the last; the sum divides by 11.
    total = sum(int(d) * w for d, w in zip(value[:8], range(9, 1, -1), strict=True)) - int(value[8])
    return total % 11 == 0


def is_rsin(value: str) -> bool:
    """Nine digits passing the eleven-test."""
    return _NINE.fullmatch(value) is not None and _eleven_test(value)


def is_bsn(value: str) -> bool:
    """Nine digits passing the eleven-test, not all zeros."""
    return is_rsin(value) and value != "000000000"
