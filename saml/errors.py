"""Typed SAML errors with stable reason codes.

The web layer maps a reason to a page, a protocol error and a log line; `detail` is for logs
and never carries personal data (no identifiers, no attribute values).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Reason(enum.StrEnum):
    """Stable reason codes. Once published (pages, logs, audit), never renamed."""

    # The message itself (saml-core-2.0-os §1.3, xmldsig-core).
    MESSAGE_MISSING = "message_missing"
    MESSAGE_TOO_LARGE = "message_too_large"
    MESSAGE_MALFORMED = "message_malformed"
    DTD_FORBIDDEN = "dtd_forbidden"
    # Signatures and signature wrapping.
    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_INVALID = "signature_invalid"
    SIGNATURE_REFERENCE = "signature_reference"
    SIGNATURE_ALGORITHM = "signature_algorithm"
    DUPLICATE_ID = "duplicate_id"
    COMMENT_IN_SIGNED_CONTENT = "comment_in_signed_content"
    ASSERTION_COUNT = "assertion_count"
    # Binding to our request and to us (saml-profiles-2.0-os §4.1.4.3).
    BINDING_NOT_REQUESTED = "binding_not_requested"
    RELAY_STATE_INVALID = "relay_state_invalid"
    REQUEST_UNKNOWN = "request_unknown"
    REQUEST_USED = "request_used"
    REQUEST_EXPIRED = "request_expired"
    IN_RESPONSE_TO_MISMATCH = "in_response_to_mismatch"
    ISSUER_MISMATCH = "issuer_mismatch"
    DESTINATION_MISMATCH = "destination_mismatch"
    RECIPIENT_MISMATCH = "recipient_mismatch"
    AUDIENCE_MISMATCH = "audience_mismatch"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    SUBJECT_CONFIRMATION = "subject_confirmation"
    ASSERTION_REPLAYED = "assertion_replayed"
    # Decryption.
    DECRYPTION_FAILED = "decryption_failed"
    ENCRYPTION_ALGORITHM = "encryption_algorithm"
    # Artifact binding (saml-bindings-2.0-os §3.6).
    ARTIFACT_INVALID = "artifact_invalid"
    ARTIFACT_SOURCE_UNKNOWN = "artifact_source_unknown"
    ARTIFACT_RESOLUTION_FAILED = "artifact_resolution_failed"
    # What the assertion says (eHerkenning).
    SERVICE_MISMATCH = "service_mismatch"
    SERVICE_MISSING = "service_missing"
    LOA_UNKNOWN = "loa_unknown"
    LOA_TOO_LOW = "loa_too_low"
    AUTHN_NOT_FRESH = "authn_not_fresh"
    ATTRIBUTE_INVALID = "attribute_invalid"
    LEGAL_SUBJECT_MISSING = "legal_subject_missing"
    ACTING_SUBJECT_MISSING = "acting_subject_missing"
    # Non-success statuses from the HM (saml-core-2.0-os §3.2.2.2).
    CANCELLED = "cancelled"
    AUTHN_FAILED = "authn_failed"
    NO_AUTHN_CONTEXT = "no_authn_context"
    REQUEST_DENIED = "request_denied"
    STATUS_NOT_SUCCESS = "status_not_success"


class SamlError(Exception):
    """A SAML message was refused; `reason` says why, `detail` adds context for the log."""

    def __init__(
        self,
        reason: Reason,
        detail: str = "",
        shown: Mapping[str, str] | None = None,
        facts: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
        # Values the user's page may show (a required level, say): never personal data.
        self.shown = dict(shown or {})
        # What the failed check compared, for an operator (`flask eherkenning explain`): `expected`
        # and `received`, `now` and the moments, algorithms, status codes. Never personal data:
        # entity IDs, URLs, moments, algorithm and status URIs only.
        self.facts = dict(facts or {})


class StatusError(SamlError):
    """The HM answered with a non-success status (the user cancelled, no mandate, ...).

    `status_codes` lists the top-level code first, then nested ones (saml-core-2.0-os §3.2.2.2).
    """

    def __init__(self, reason: Reason, status_codes: tuple[str, ...], message: str = "") -> None:
        super().__init__(reason, " / ".join(status_codes), facts={"status_codes": " / ".join(status_codes)})
        self.status_codes = status_codes
        self.status_message = message
