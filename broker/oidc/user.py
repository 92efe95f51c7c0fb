"""The signed-in party as authlib's grants carry it from the ACS to the code and the tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SignedIn:
    """The claims one sign-in established for one client (before any scope filter)."""

    claims: dict[str, Any]

    def get_user_id(self) -> str:
        return str(self.claims["sub"])
