"""The authorization request across the HM round trip: kept as its parameters and the service it
is for, replayed at the ACS."""

from __future__ import annotations

from collections.abc import Mapping

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

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
    # A JSON object (`broker.oidc.claims_request`), from a request object as compact JSON text.
    "claims": 2048,
}
# Where the kept parameters hold the service the sign-in is for (`broker.oidc.service_choice`):
# the name of no parameter `kept` keeps, so no client can send it.
SERVICE = "broker:service"
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


def read(parameters: Mapping[str, str]) -> dict[str, str]:
    """The parameters the broker reads, as a pushed request keeps them until its authorization."""
    return {name: value for name, value in parameters.items() if name in PARAMETER_CAPS}


def kept(parameters: Mapping[str, str], service: str) -> dict[str, str]:
    """What to keep across the HM round trip: the parameters the broker reads, and the slug of the
    service the sign-in is for."""
    return read(parameters) | {SERVICE: service}


class StoredAuthorizationRequest(OAuth2Request):
    """An authorization request rebuilt from what `kept` kept (no HTTP request behind it)."""

    def __init__(self, uri: str, stored: Mapping[str, str]) -> None:
        super().__init__("GET", uri)
        parameters = dict(stored)
        # None for a request kept before services were kept with it: chosen again, as at first.
        self.service_slug = parameters.pop(SERVICE, None)
        self.payload = BasicOAuth2Payload(parameters)

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return {}

    def stored(self) -> dict[str, str]:
        """The request as `kept` keeps it, to keep it longer (the establishment step)."""
        service = {} if self.service_slug is None else {SERVICE: self.service_slug}
        return dict(self.payload.data) | service
