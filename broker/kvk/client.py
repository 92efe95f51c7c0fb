"""Asking the KvK Handelsregister API over HTTPS: URLs from the configured base, the `apikey`
header, a timeout, no redirects, a cap on the answer's size, and the API's error codes typed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3

from broker.kvk.answers import parse_establishments, parse_profile
from broker.kvk.errors import KvkError, KvkFailure
from saml.identifiers import is_establishment_number, is_kvk_number

# The API's `fout[].code` values the broker tells apart (KvK API documentation, "Foutcodes").
_CODES = {
    "IPD0004": KvkFailure.INVALID_NUMBER,
    "IPD0005": KvkFailure.NOT_FOUND,
    "IPD0007": KvkFailure.NOT_FOUND,
    "IPD1002": KvkFailure.UNAVAILABLE,
    "IPD1003": KvkFailure.UNAVAILABLE,
}


@dataclass(frozen=True)
class KvkReply:
    """An HTTP answer: status and body (already capped in size by the transport)."""

    status: int
    body: bytes


# GET `url` with `headers`; raises KvkError(UNAVAILABLE) when no answer came.
KvkTransport = Callable[[str, Mapping[str, str]], KvkReply]


def requests_transport(timeout_seconds: float, max_bytes: int, ca_bundle: Path | None = None) -> KvkTransport:
    """GET over HTTPS with `requests`: no redirects followed, at most `max_bytes` read; the server's
    chain must end in `ca_bundle` when given, else in the default store."""
    verify = str(ca_bundle) if ca_bundle else True

    def get(url: str, headers: Mapping[str, str]) -> KvkReply:
        # The whole answer within the timeout: one per read would let a trickle hold the sign-in.
        deadline = time.monotonic() + timeout_seconds
        try:
            with requests.get(
                url,
                headers=dict(headers),
                timeout=timeout_seconds,
                allow_redirects=False,
                stream=True,
                verify=verify,
            ) as answer:
                body = b""
                while chunk := answer.raw.read1(max_bytes + 1 - len(body), decode_content=True):
                    body += chunk
                    if len(body) > max_bytes:
                        raise KvkError(KvkFailure.MALFORMED, f"answer larger than {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise KvkError(KvkFailure.UNAVAILABLE, "the answer took too long to arrive")
                return KvkReply(answer.status_code, body)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            # The body is read from urllib3 directly, so its errors arrive unwrapped.
            raise KvkError(KvkFailure.UNAVAILABLE, f"no answer: {type(exc).__name__}") from exc

    return get


@dataclass(frozen=True)
class KvkClient:
    base_url: str
    api_key: str
    transport: KvkTransport

    def establishments_body(self, kvk_number: str) -> bytes:
        """The raw, checked answer listing the establishments of `kvk_number`."""
        if not is_kvk_number(kvk_number):
            raise KvkError(KvkFailure.INVALID_NUMBER, "a KvK number is 8 digits")
        body = self._get(f"/api/v1/basisprofielen/{kvk_number}/vestigingen")
        parse_establishments(body, kvk_number)
        return body

    def profile_body(self, number: str) -> bytes:
        """The raw, checked vestigingsprofiel of establishment `number`."""
        if not is_establishment_number(number):
            raise KvkError(KvkFailure.INVALID_NUMBER, "an establishment number is 12 digits")
        body = self._get(f"/api/v1/vestigingsprofielen/{number}")
        parse_profile(body, number)
        return body

    def _get(self, path: str) -> bytes:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["apikey"] = self.api_key
        reply = self.transport(self.base_url.rstrip("/") + path, headers)
        if reply.status == 200:
            return reply.body
        raise _failure(reply)


def _failure(reply: KvkReply) -> KvkError:
    """The typed error for a non-200 answer: by the API's code when it gives one, else by status."""
    for code in _codes(reply.body):
        if code in _CODES:
            return KvkError(_CODES[code], f"status {reply.status}, {code}")
    if 300 <= reply.status < 400:
        return KvkError(KvkFailure.MALFORMED, f"status {reply.status}: redirects are not followed")
    if reply.status == 429 or reply.status >= 500:
        return KvkError(KvkFailure.UNAVAILABLE, f"status {reply.status}")
    return KvkError(KvkFailure.REJECTED, f"status {reply.status}")


def _codes(body: bytes) -> list[str]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    errors = document.get("fout") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return []
    return [str(error.get("code")) for error in errors if isinstance(error, dict)]
