"""Levels of assurance as a client reads and asks for them: eHerkenning URIs, or eIDAS URIs.

The HM authenticates at an eHerkenning level; a client registered with `acr_format: eidas` reads
its `acr` as the eIDAS level that level meets (the NL GOV Assurance profile prefers eIDAS values).
Either form is understood in `acr_values`: an eIDAS level asks for the lowest eHerkenning level
that meets it.
"""

from __future__ import annotations

from saml.errors import SamlError
from saml.loa import LevelOfAssurance

_EIDAS = "http://eidas.europa.eu/LoA/"

# The eIDAS level each eHerkenning level meets, for the `acr` claim.
EIDAS_OF: dict[LevelOfAssurance, str] = {
    LevelOfAssurance.LOA2: _EIDAS + "low",
    LevelOfAssurance.LOA2PLUS: _EIDAS + "low",
    LevelOfAssurance.LOA3: _EIDAS + "substantial",
    LevelOfAssurance.LOA4: _EIDAS + "high",
}
# The lowest eHerkenning level that meets each eIDAS level, for `acr_values`.
_REQUESTED: dict[str, LevelOfAssurance] = {
    _EIDAS + "low": LevelOfAssurance.LOA2,
    _EIDAS + "substantial": LevelOfAssurance.LOA3,
    _EIDAS + "high": LevelOfAssurance.LOA4,
}


def acr_claim(level_uri: str, acr_format: str) -> str:
    """The `acr` a client reads for a sign-in at the eHerkenning level `level_uri`."""
    if acr_format == "eidas":
        return EIDAS_OF[LevelOfAssurance.from_uri(level_uri)]
    return level_uri


def requested_level(uri: str) -> LevelOfAssurance | None:
    """The eHerkenning level an `acr_values` entry asks for (either form), or None for a value
    that is no level of either."""
    if uri in _REQUESTED:
        return _REQUESTED[uri]
    try:
        return LevelOfAssurance.from_uri(uri)
    except SamlError:
        return None
