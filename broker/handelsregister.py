"""The broker's side of the KvK Handelsregister: ask the API, keep what it answered, and fall back
on that when it is unavailable; then settle a sign-in's establishment from what was read.

Joins the HTTP client in `broker.kvk` to the cache in `broker.models`, as `broker.upstream` joins
`saml` to the stored requests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from broker import metrics, models
from broker.decide import (
    RefusalReason,
    Refused,
    RegisteredEstablishment,
    RegisterLookup,
    Settled,
    check_restriction,
    register_day,
    settle,
)
from broker.kvk import KvkClient, KvkError, KvkFailure, parse_establishments, parse_profile

log = logging.getLogger("broker.kvk")


@dataclass(frozen=True)
class Handelsregister:
    client: KvkClient
    # How long a successful answer may stand in for an unavailable API (zero: never).
    cache_lifetime: timedelta
    clock: Callable[[], datetime]

    def establishments(self, kvk_number: str) -> tuple[RegisteredEstablishment, ...]:
        """The company's current establishments; KvkError when neither the API nor the cache has them."""
        body = self._read(
            f"basisprofielen/{kvk_number}/vestigingen", lambda: self.client.establishments_body(kvk_number)
        )
        return parse_establishments(body, kvk_number)

    def profile(self, number: str) -> RegisteredEstablishment | None:
        """One establishment's profile; None when the register knows no such establishment."""
        try:
            body = self._read(f"vestigingsprofielen/{number}", lambda: self.client.profile_body(number))
        except KvkError as error:
            if error.failure.passing:
                raise
            return None
        return parse_profile(body, number)

    def _read(self, path: str, fetch: Callable[[], bytes]) -> bytes:
        # Always asked afresh (an establishment may have stopped since); the cache only stands in.
        now = self.clock()
        try:
            with metrics.kvk_call():
                body = fetch()
        except KvkError as error:
            if not error.failure.passing:
                raise
            cached = models.cached_kvk_answer(path, now)
            level = logging.WARNING if error.failure is KvkFailure.UNAVAILABLE else logging.ERROR
            fallback = "used" if cached else "absent"
            # The resource asked, never its number: a KvK number is for the audit trail only.
            resource = path.split("/", 1)[0]
            log.log(level, "kvk %s failed (%s); cached answer %s", resource, error, fallback)
            if cached is None:
                raise
            return cached
        if self.cache_lifetime:
            models.remember_kvk_answer(path, body, now, self.cache_lifetime)
        return body


def settle_from_register(register: Handelsregister, lookup: RegisterLookup) -> Settled:
    """Settle `lookup` from the register: an establishment, a choice for the user, or a refusal.

    Raises KvkError when the register cannot be read now (and nothing cached stands in).
    """
    # An establishment whose end date is today or gone by has stopped; one still to come has not.
    today = register_day(register.clock())
    if lookup.restriction is not None:
        return check_restriction(lookup, register.profile(lookup.restriction), today)
    try:
        found = register.establishments(lookup.kvk_number)
    except KvkError as error:
        if error.failure.passing:
            raise
        return Refused(
            RefusalReason.COMPANY_NOT_IN_REGISTER,
            f"the Handelsregister has no establishments for KvK number {lookup.kvk_number}",
        )
    return settle(lookup.kvk_number, found, today)
