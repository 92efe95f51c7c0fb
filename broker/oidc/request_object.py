"""Request objects (RFC 9101, as the NL GOV Assurance profile has them): an authorization request
as a JWT the client signed with a key of its `jwks`, sent by value (`request`), by reference to a
URL the client registered (`request_uri`), or pushed to /oidc/par first (RFC 9126), whose answer's
`urn:ietf:params:oauth:request_uri:` the browser brings along.

Only the request object's parameters count (RFC 9101 §6.3): those beside it in the query are not
read, but `client_id`, which must name the same client. What the object holds then goes through
every check a plain authorization request does (its caps, redirect URI, PKCE, nonce).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import requests
import urllib3
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc9101.errors import InvalidRequestObjectError, InvalidRequestUriError
from joserfc import jwe, jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.registry import JWS_HEADER_REGISTRY, check_registry_header

from broker import models
from broker.extensions import db
from broker.oidc.authorization import MAX_REQUEST_BYTES, PARAMETER_CAPS
from broker.oidc.clients import OidcClient
from broker.oidc.keys import REQUEST_OBJECT_ENCRYPTION_ALG, REQUEST_OBJECT_ENCRYPTION_ENC
from broker.oidc.provider import Provider, digest

REQUEST_OBJECT_ALGS = ("RS256", "PS256", "ES256")
PUSHED_PREFIX = "urn:ietf:params:oauth:request_uri:"
# A request object is good for ten minutes at most: one that leaks is of no use for long.
MAX_LIFETIME = timedelta(minutes=10)
# Clocks that run apart, as at the token endpoint's client assertions.
LEEWAY_SECONDS = 60
# A request object may hold every parameter at its cap, signed: twice the plain request's size.
MAX_REQUEST_OBJECT_CHARS = 2 * MAX_REQUEST_BYTES
# Fetching a request object from the client's request_uri: https, no redirects, this long in all,
# this large at most.
FETCH_TIMEOUT_SECONDS = 5.0
_TYPES = (None, "JWT", "oauth-authz-req+jwt")
# The JWT's own claims: they say who made the object for whom and when, no request parameters.
_JWT_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti", "sub"})


class RequestObjects:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def resolve(self, parameters: Mapping[str, str]) -> dict[str, str]:
        """The authorization request's parameters: `parameters` themselves, or what the request
        object (by value, by reference or pushed) they point at holds. Raises OAuth2Error, which
        goes back to the client only when the query names a redirect URI the client registered."""
        client_id = parameters.get("client_id")
        client = None if client_id is None else self.provider.client(client_id)
        if client is None:
            # Validated as it is: authlib refuses an unknown client (or none) on an error page.
            return dict(parameters)
        redirect = _trusted_redirect(parameters, client)
        by_value, by_reference = parameters.get("request"), parameters.get("request_uri")
        if by_value is not None and by_reference is not None:
            raise InvalidRequestError("request and request_uri cannot both be sent", redirect_uri=redirect)
        if by_reference is not None and by_reference.startswith(PUSHED_PREFIX):
            return self.pushed(by_reference, client, redirect)
        if client.config.require_pushed_authorization_requests:
            raise InvalidRequestError(
                "this client pushes its authorization requests to the PAR endpoint first",
                redirect_uri=redirect,
            )
        if by_reference is not None:
            by_value = fetched(by_reference, client, redirect)
        return dict(parameters) if by_value is None else self.by_value(by_value, client, redirect)

    def pushed(self, request_uri: str, client: OidcClient, redirect: str | None) -> dict[str, str]:
        """The parameters pushed under `request_uri`, taken for good: a second use finds nothing."""
        reference = request_uri.removeprefix(PUSHED_PREFIX)
        taken = models.take_pushed(digest(reference), client.get_client_id(), self.provider.clock())
        db.session.commit()
        if taken is None:
            raise InvalidRequestUriError(
                description="the request_uri is unknown, used already, expired or another client's",
                redirect_uri=redirect,
            )
        return taken

    def by_value(self, token: str, client: OidcClient, redirect: str | None = None) -> dict[str, str]:
        """The parameters of the signed request object `token`, checked to come from `client`."""
        claims = self.verified(token, client, redirect)

        def refuse(description: str) -> OAuth2Error:
            return InvalidRequestObjectError(description=description, redirect_uri=redirect)

        if claims.get("iss") != client.get_client_id():
            raise refuse("the request object's iss is not the client_id")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.provider.issuer not in audiences:
            raise refuse("the request object's aud is not the broker's issuer")
        self.check_times(claims, refuse)
        if claims.get("client_id", client.get_client_id()) != client.get_client_id():
            raise refuse("the request object's client_id is not the client_id of the request")
        parameters = {"client_id": client.get_client_id()}
        for name, value in claims.items():
            if name in _JWT_CLAIMS or name == "client_id":
                continue
            if name in ("request", "request_uri"):
                raise refuse(f"a request object cannot hold {name}")
            if name == "claims":
                if not isinstance(value, dict):
                    raise refuse("claims must be a JSON object")
                # As a query carries it, for the checks every authorization request gets.
                parameters[name] = json.dumps(value, separators=(",", ":"))
            elif isinstance(value, str):
                parameters[name] = value
            elif name == "max_age" and isinstance(value, int) and not isinstance(value, bool):
                parameters[name] = str(value)
            elif name in PARAMETER_CAPS:
                raise refuse(f"{name} must be a string")
        return parameters

    def verified(self, token: str, client: OidcClient, redirect: str | None) -> dict[str, Any]:
        if len(token) > MAX_REQUEST_OBJECT_CHARS:
            raise InvalidRequestObjectError(
                description=f"the request object is longer than {MAX_REQUEST_OBJECT_CHARS} characters",
                redirect_uri=redirect,
            )
        if token.count(".") == 4:
            token = self.decrypted(token, redirect)
        if token.count(".") != 2:
            raise InvalidRequestObjectError(
                description="the request object must be a signed JWT (JWS compact serialization)",
                redirect_uri=redirect,
            )
        if not client.config.jwks:
            raise InvalidRequestObjectError(
                description="the client registered no keys to verify its request objects with",
                redirect_uri=redirect,
            )
        try:
            keys = KeySet.import_key_set(dict(client.config.jwks))
            header = jws.extract_compact(token.encode("ascii")).headers()
            check_registry_header(JWS_HEADER_REGISTRY, header)
            if header.get("typ") not in _TYPES:
                raise InvalidRequestObjectError(
                    description="the request object's typ must be oauth-authz-req+jwt", redirect_uri=redirect
                )
            claims = dict(jwt.decode(token, keys, algorithms=list(REQUEST_OBJECT_ALGS)).claims)
        except (JoseError, ValueError, TypeError, LookupError, RecursionError) as error:
            # Not a JWS, not signed (alg none), another algorithm, another key, not JSON claims
            # (or JSON nested deeper than it can be read).
            raise InvalidRequestObjectError(
                description="the request object is not signed with the client's key (RS256, PS256, ES256)",
                redirect_uri=redirect,
            ) from error
        return claims

    def decrypted(self, token: str, redirect: str | None) -> str:
        """The signed request object inside the JWE `token`, encrypted to the broker's key."""
        key = self.provider.encryption_key
        if key is None:
            raise InvalidRequestObjectError(
                description="request objects are taken signed, not encrypted: the broker has no key for that",
                redirect_uri=redirect,
            )
        try:
            algorithms = [REQUEST_OBJECT_ENCRYPTION_ALG, REQUEST_OBJECT_ENCRYPTION_ENC]
            plaintext = jwe.decrypt_compact(token.encode("ascii"), key, algorithms=algorithms).plaintext
            return (plaintext or b"").decode("ascii")
        except (JoseError, ValueError, TypeError, LookupError) as error:
            raise InvalidRequestObjectError(
                description=(
                    f"the request object cannot be decrypted ({REQUEST_OBJECT_ENCRYPTION_ALG}, "
                    f"{REQUEST_OBJECT_ENCRYPTION_ENC}, to the broker's key with use enc)"
                ),
                redirect_uri=redirect,
            ) from error

    def check_times(self, claims: Mapping[str, Any], refuse: Callable[[str], OAuth2Error]) -> None:
        """exp, within MAX_LIFETIME of now; nbf and iat, when present, not in the future."""
        now = self.provider.clock().timestamp()
        exp = claims.get("exp")
        if not _is_time(exp):
            raise refuse("the request object needs exp, a NumericDate")
        if exp <= now - LEEWAY_SECONDS:
            raise refuse("the request object has expired")
        if exp > now + MAX_LIFETIME.total_seconds() + LEEWAY_SECONDS:
            raise refuse(
                f"a request object may be good for at most {MAX_LIFETIME.total_seconds():.0f} seconds"
            )
        for name in ("nbf", "iat"):
            if name in claims and (not _is_time(claims[name]) or claims[name] > now + LEEWAY_SECONDS):
                raise refuse(f"the request object's {name} must be a NumericDate, not in the future")


def _trusted_redirect(parameters: Mapping[str, str], client: OidcClient) -> str | None:
    """The query's redirect URI when the client registered it: errors may go there, as they do for
    a plain authorization request; else None (an error page)."""
    uri = parameters.get("redirect_uri")
    return uri if uri is not None and client.check_redirect_uri(uri) else None


def _is_time(value: object) -> bool:
    return not isinstance(value, bool) and (
        isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    )


def fetched(request_uri: str, client: OidcClient, redirect: str | None) -> str:
    """The request object at `request_uri`, which the client registered (RFC 9101 §5.2.3): over
    https, without following redirects, within FETCH_TIMEOUT_SECONDS and MAX_REQUEST_OBJECT_CHARS."""
    if request_uri not in client.config.request_uris:
        raise InvalidRequestUriError(
            description="the request_uri is not one the client registered", redirect_uri=redirect
        )
    try:
        return fetch(request_uri)
    except (requests.RequestException, urllib3.exceptions.HTTPError, ValueError) as error:
        # The body is read from urllib3 directly, so its errors arrive unwrapped.
        raise InvalidRequestUriError(
            description=f"the request object could not be fetched ({type(error).__name__})",
            redirect_uri=redirect,
        ) from error


def fetch(url: str) -> str:
    """The body at the https `url`, as text; ValueError for anything else than a 200 with at most
    MAX_REQUEST_OBJECT_CHARS of ASCII within FETCH_TIMEOUT_SECONDS."""
    if not url.startswith("https://"):
        raise ValueError("a request_uri must be https")
    # The whole answer within the timeout: one per read would let a trickle hold the sign-in.
    deadline = time.monotonic() + FETCH_TIMEOUT_SECONDS
    with requests.get(url, timeout=FETCH_TIMEOUT_SECONDS, allow_redirects=False, stream=True) as answer:
        if answer.status_code != 200:
            raise ValueError(f"status {answer.status_code}")
        body = b""
        while chunk := answer.raw.read1(MAX_REQUEST_OBJECT_CHARS + 1 - len(body), decode_content=True):
            body += chunk
            if len(body) > MAX_REQUEST_OBJECT_CHARS:
                raise ValueError("the request object is too large")
            if time.monotonic() > deadline:
                raise ValueError("the request object took too long")
    return body.decode("ascii").strip()
