"""The authorization request across the HM round trip: kept as its parameters, replayed at the ACS."""

from __future__ import annotations

from collections.abc import Mapping

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

from config.settings import Service
from saml.errors import SamlError
from saml.loa import LevelOfAssurance


class StoredAuthorizationRequest(OAuth2Request):
    """An authorization request rebuilt from its stored parameters (no HTTP request behind it)."""

    def __init__(self, uri: str, parameters: Mapping[str, str]) -> None:
        super().__init__("GET", uri)
        self.payload = BasicOAuth2Payload(dict(parameters))

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return {}


def unmet_acr_values(acr_values: str | None, service: Service) -> str | None:
    """Why `service` cannot meet `acr_values`, or None when it can.

    `acr_values` lists the levels a client accepts (OpenID Connect Core §3.1.2.1); the lowest
    known one is what it needs. The service catalogue fixes the level the HM authenticates at, so
    a request may ask for that level or less, never more: asking more is refused before the user
    signs in, not after. Values that are no eHerkenning level are ignored, as the claim is voluntary.
    """
    known = []
    for uri in (acr_values or "").split():
        try:
            known.append(LevelOfAssurance.from_uri(uri))
        except SamlError:
            continue
    offered = LevelOfAssurance(service.minimum_loa)
    if known and min(known) > offered:
        return f"acr_values asks for more than this client's service offers ({offered.uri})"
    return None
