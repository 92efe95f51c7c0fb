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


def requested_level(acr_values: str | None, service: Service) -> LevelOfAssurance:
    """The level to ask the HM for: the service's minimum, raised by `acr_values`, never lowered.

    `acr_values` lists acceptable levels (OpenID Connect Core §3.1.2.1); the lowest known one
    is what the client accepts. Unknown values are ignored, as the claim is voluntary.
    """
    minimum = LevelOfAssurance(service.minimum_loa)
    known = []
    for uri in (acr_values or "").split():
        try:
            known.append(LevelOfAssurance.from_uri(uri))
        except SamlError:
            continue
    return max(minimum, min(known)) if known else minimum
