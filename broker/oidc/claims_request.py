"""The `claims` authorization request parameter (OpenID Connect Core §5.5): which claims a client
asks for in the ID token and at userinfo, beside those its scopes release.

A JSON object whose only members are `id_token` and `userinfo`, each mapping claim names to null
or to an object with only `essential` (a boolean), `value` or `values` (a list). Anything else is
refused (`invalid_request`), never half-read. What a valid request means:

- a claim named under `id_token` is released in the ID token, one under `userinfo` at userinfo,
  besides what the granted scopes release; but only a claim of the client's claim set under the
  scopes its entry allows (`broker.oidc.profiles.released_for`): others, and unknown names, are
  ignored (Core §5.5: not an error);
- `acr` with `value` or `values` asks for those levels as `acr_values` does
  (`broker.oidc.service_choice`): essential, it governs over `acr_values`; voluntary, it counts
  only where the request has no `acr_values`;
- `sub` with a `value` or `values` is refused: the broker cannot know the subject before the
  sign-in, and would otherwise have to end it without an answer (Core §3.1.2.6);
- `value` and `values` of any other claim are ignored: the claims are what the sign-in found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MEMBERS = ("id_token", "userinfo")
_REQUEST_MEMBERS = frozenset({"essential", "value", "values"})


class ClaimsRequestError(ValueError):
    """Why a `claims` parameter is refused; the description never repeats what the client sent."""


@dataclass(frozen=True)
class ClaimsRequest:
    """The claim names asked for in each place, and the levels the `acr` requests name."""

    id_token: tuple[str, ...] = ()
    userinfo: tuple[str, ...] = ()
    essential_acr: tuple[str, ...] = ()
    voluntary_acr: tuple[str, ...] = ()

    def requested(self) -> dict[str, list[str]] | None:
        """The names asked for per place, as kept with codes and tokens; None when there are none."""
        if not self.id_token and not self.userinfo:
            return None
        return {"id_token": list(self.id_token), "userinfo": list(self.userinfo)}

    def acr_values(self, acr_values: str | None) -> str | None:
        """The levels the request asks for, as `acr_values` lists them: the essential `acr`'s, else
        `acr_values`, else the voluntary `acr`'s."""
        if self.essential_acr:
            return " ".join(self.essential_acr)
        if acr_values is not None:
            return acr_values
        return " ".join(self.voluntary_acr) or None


def parse(text: str | None) -> ClaimsRequest:
    """The request the `claims` parameter `text` makes; raises ClaimsRequestError."""
    if text is None:
        return ClaimsRequest()
    try:
        value = json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
    except ClaimsRequestError:
        raise
    except (ValueError, RecursionError) as error:
        raise ClaimsRequestError("claims must be a JSON object") from error
    if not isinstance(value, dict):
        raise ClaimsRequestError("claims must be a JSON object")
    if not set(value) <= set(MEMBERS):
        raise ClaimsRequestError("claims may hold only id_token and userinfo")
    names: dict[str, tuple[str, ...]] = {}
    essential: list[str] = []
    voluntary: list[str] = []
    for member in MEMBERS:
        requests = value.get(member, {})
        if not isinstance(requests, dict):
            raise ClaimsRequestError(f"claims {member} must be a JSON object")
        for name, request in requests.items():
            levels, is_essential = _checked(member, name, request)
            (essential if is_essential else voluntary).extend(levels)
        names[member] = tuple(requests)
    return ClaimsRequest(
        id_token=names["id_token"],
        userinfo=names["userinfo"],
        essential_acr=tuple(dict.fromkeys(essential)),
        voluntary_acr=tuple(dict.fromkeys(voluntary)),
    )


def _checked(member: str, name: str, request: Any) -> tuple[list[str], bool]:
    """The levels an `acr` request names and whether it is essential; nothing for another claim."""
    if request is None:
        return [], False
    if not isinstance(request, dict) or not set(request) <= _REQUEST_MEMBERS:
        raise ClaimsRequestError(
            f"each claim in claims {member} must be null or an object of essential, value or values"
        )
    is_essential = request.get("essential", False)
    if not isinstance(is_essential, bool):
        raise ClaimsRequestError(f"essential in claims {member} must be true or false")
    if "value" in request and "values" in request:
        raise ClaimsRequestError(f"a claim in claims {member} cannot have both value and values")
    if "values" in request and not isinstance(request["values"], list):
        raise ClaimsRequestError(f"values in claims {member} must be a list")
    asked = [request["value"]] if "value" in request else request.get("values", [])
    if name == "sub" and ("value" in request or "values" in request):
        raise ClaimsRequestError(
            "a sub value in claims is not supported: the subject is known only after the sign-in"
        )
    if name != "acr":
        return [], is_essential
    if not all(isinstance(level, str) for level in asked):
        raise ClaimsRequestError(f"the acr values in claims {member} must be strings")
    return asked, is_essential


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ClaimsRequestError("claims names a member more than once")
    return dict(pairs)


def _no_constant(constant: str) -> None:
    raise ClaimsRequestError("claims must be JSON: NaN and Infinity are no JSON values")
