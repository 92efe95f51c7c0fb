"""The authorization request across the HM round trip: kept as its parameters, replayed at the ACS."""

from __future__ import annotations

from collections.abc import Mapping

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

from broker.oidc.levels import requested_level
from config.settings import Service
from saml.loa import LevelOfAssurance

# The parameters the broker reads, each with the longest value it takes. Only these are kept
# with a pending authorization; anything else a client sends counts towards the request's size.
PARAMETER_CAPS: dict[str, int] = {
    "response_type": 64,
    "client_id": 64,
    "redirect_uri": 2048,
    "scope": 512,
    "state": 1024,
    "nonce": 512,
    "code_challenge": 128,
    "code_challenge_method": 16,
    "response_mode": 32,
    "acr_values": 1024,
    "ui_locales": 256,
    "prompt": 64,
    "max_age": 10,
}
MAX_PARAMETERS = 40
MAX_REQUEST_BYTES = 8192


def oversized(parameters: Mapping[str, str]) -> str | None:
    """Why an authorization request is larger than the broker takes, or None. Names the
    parameter, never its value."""
    for name, cap in PARAMETER_CAPS.items():
        if len(parameters.get(name, "")) > cap:
            return f"{name} is longer than {cap} characters"
    if len(parameters) > MAX_PARAMETERS:
        return f"the request has more than {MAX_PARAMETERS} parameters"
    if sum(len(name) + len(value) for name, value in parameters.items()) > MAX_REQUEST_BYTES:
        return f"the request's parameters are longer than {MAX_REQUEST_BYTES} characters in all"
    return None


def kept(parameters: Mapping[str, str]) -> dict[str, str]:
    """The parameters to keep across the HM round trip: those the broker reads."""
    return {name: value for name, value in parameters.items() if name in PARAMETER_CAPS}


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

    `acr_values` lists the levels a client accepts (OpenID Connect Core §3.1.2.1), as eHerkenning
    or eIDAS URIs (`broker.oidc.levels`); the lowest known one is what it needs. The service
    catalogue fixes the level the HM authenticates at, so a request may ask for that level or
    less, never more: asking more is refused before the user signs in, not after. Values that are
    no level of either kind are ignored, as the claim is voluntary.
    """
    levels = (requested_level(uri) for uri in (acr_values or "").split())
    known = [level for level in levels if level is not None]
    offered = LevelOfAssurance(service.minimum_loa)
    if known and min(known) > offered:
        return f"acr_values asks for more than this client's service offers ({offered.uri})"
    return None
