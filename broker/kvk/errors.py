"""What can go wrong asking the KvK Handelsregister API, as one typed error with a stable failure."""

from __future__ import annotations

import enum


class KvkFailure(enum.StrEnum):
    """Why the register gave no usable answer."""

    # IPD0004: the register calls the number invalid.
    INVALID_NUMBER = "kvk_invalid_number"
    # IPD0005 / IPD0007: no product (no data) for this number.
    NOT_FOUND = "kvk_not_found"
    # IPD1002 / IPD1003, 429, 5xx, timeouts, no connection: try again later.
    UNAVAILABLE = "kvk_unavailable"
    # Another 4xx (our API key refused, a request the API does not take): our side needs fixing.
    REJECTED = "kvk_rejected"
    # Not JSON, not the documented shape, too large, or a redirect.
    MALFORMED = "kvk_malformed"

    @property
    def passing(self) -> bool:
        """Whether the same question may succeed later, so a cached or retried answer may serve."""
        return self in {KvkFailure.UNAVAILABLE, KvkFailure.REJECTED, KvkFailure.MALFORMED}


class KvkError(Exception):
    """The register gave no usable answer; `failure` says why, `detail` is for the log only."""

    def __init__(self, failure: KvkFailure, detail: str) -> None:
        super().__init__(f"{failure.value}: {detail}")
        self.failure = failure
        self.detail = detail
