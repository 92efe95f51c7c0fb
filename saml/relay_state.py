"""RelayState as an opaque, integrity-protected reference to server-side state.

eHerkenning allows at most 80 bytes of RelayState. Ours is `<reference>.<mac>`: a random
reference to a stored request and an HMAC over it, 45 characters in all. It carries no data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from saml.errors import Reason, SamlError

MAX_BYTES = 80


def new_reference() -> str:
    """A fresh random reference (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def seal(reference: str, secret: bytes) -> str:
    """The RelayState for `reference`."""
    return f"{reference}.{_mac(reference, secret)}"


def unseal(relay_state: str | None, secret: bytes) -> str:
    """The reference inside a RelayState we issued; anything else is refused."""
    if not relay_state or len(relay_state.encode("utf-8")) > MAX_BYTES or relay_state.count(".") != 1:
        raise SamlError(Reason.RELAY_STATE_INVALID, "RelayState missing or malformed")
    reference, mac = relay_state.split(".")
    # Bytes: compare_digest refuses text with characters outside ASCII, which anyone can send.
    if not hmac.compare_digest(mac.encode("utf-8"), _mac(reference, secret).encode("ascii")):
        raise SamlError(Reason.RELAY_STATE_INVALID, "RelayState integrity check failed")
    return reference


def _mac(reference: str, secret: bytes) -> str:
    digest = hmac.new(secret, b"relay-state\0" + reference.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")
