"""eHerkenning levels of assurance, ordered, with their AuthnContextClassRef URIs."""

from __future__ import annotations

import enum
import functools

from saml.errors import Reason, SamlError

_PREFIX = "urn:etoegang:core:assurance-class:"


@functools.total_ordering
class LevelOfAssurance(enum.Enum):
    """EH2 < EH2+ < EH3 < EH4; the value is the level's short name."""

    LOA2 = "loa2"
    LOA2PLUS = "loa2plus"
    LOA3 = "loa3"
    LOA4 = "loa4"

    @property
    def uri(self) -> str:
        """The AuthnContextClassRef for this level."""
        return _PREFIX + self.value

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @property
    def label(self) -> str:
        """The name people know it by: EH2, EH2+, EH3, EH4."""
        return {"loa2": "EH2", "loa2plus": "EH2+", "loa3": "EH3", "loa4": "EH4"}[self.value]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, LevelOfAssurance):
            return NotImplemented
        return self.rank < other.rank

    @classmethod
    def from_uri(cls, uri: str) -> LevelOfAssurance:
        """The level for an AuthnContextClassRef; loa1 and unknown URIs are refused."""
        name = uri.strip().removeprefix(_PREFIX) if uri.strip().startswith(_PREFIX) else None
        try:
            return cls(name)
        except ValueError:
            raise SamlError(Reason.LOA_UNKNOWN, f"unknown or obsolete level {uri.strip()[:100]!r}") from None


_ORDER = (LevelOfAssurance.LOA2, LevelOfAssurance.LOA2PLUS, LevelOfAssurance.LOA3, LevelOfAssurance.LOA4)
