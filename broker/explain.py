"""A failed sign-in in plain words for an operator (`flask eherkenning explain`): the SAML check
that failed, what it expected and what arrived, and what to do about it, from what the broker kept
(`broker.models.check_failures`); or, for a sign-in refused with an answer to the portal, the
audit trail's reason (nothing of the person it names)."""

from __future__ import annotations

from typing import Any

from broker.logsafe import escaped
from broker.models.check_failures import RecordedFailure
from saml.errors import Reason
from saml.xml import format_instant

_CHECK_ISSUER = (
    "The answer names another sender than the HM the sign-in was sent to. If the HM changed its entityID, "
    "refresh its metadata (flask eherkenning refresh); an answer from another HM is refused on purpose."
)
_CHECK_CLOCK = (
    "Compare the broker's clock with the HM's (NTP on both); a window that ended long ago is an old "
    "message sent again. BROKER_SAML_CLOCK_SKEW is the leeway allowed."
)
_CHECK_URL = (
    "The HM sent the answer for another address than our ACS: check BROKER_BASE_URL and the ACS in "
    "our metadata as the HM has it (send it our metadata again if it changed)."
)

ADVICE: dict[Reason, str] = {
    Reason.ISSUER_MISMATCH: _CHECK_ISSUER,
    Reason.AUDIENCE_MISMATCH: (
        "The assertion is meant for another service provider: check BROKER_SAML_ENTITY_ID against the "
        "entityID in the metadata the HM has of us (send it our metadata again if it changed)."
    ),
    Reason.DESTINATION_MISMATCH: _CHECK_URL,
    Reason.RECIPIENT_MISMATCH: _CHECK_URL,
    Reason.EXPIRED: _CHECK_CLOCK,
    Reason.NOT_YET_VALID: _CHECK_CLOCK,
    Reason.IN_RESPONSE_TO_MISMATCH: (
        "The answer is for another request than the one this sign-in sent: a message sent again or "
        "mixed up; ask the HM with the sign-in reference."
    ),
    Reason.SIGNATURE_ALGORITHM: (
        "The HM signed with an algorithm the broker does not accept (SHA-1 or an unknown one): ask the HM "
        "to sign with RSA-SHA256 or stronger."
    ),
    Reason.SIGNATURE_INVALID: (
        "The signature does not verify with the HM's keys in its metadata: refresh the metadata (flask "
        "eherkenning refresh); if it persists, the message was altered or the HM uses a key it has not "
        "published."
    ),
    Reason.SIGNATURE_MISSING: "The HM's assertion is not signed: ask the HM to sign its assertions.",
    Reason.ARTIFACT_SOURCE_UNKNOWN: (
        "The artifact was issued by another HM than the one the sign-in was sent to, or names a "
        "resolution service its metadata lacks: refresh the HM's metadata."
    ),
    Reason.ARTIFACT_RESOLUTION_FAILED: (
        "The HM's artifact resolution service did not answer well: check the connection (mutual TLS, "
        "the HM's TLS CA) and the HM's status. Repeated failures send new sign-ins to the service's next HM."
    ),
    Reason.SERVICE_MISMATCH: (
        "The HM answered for another service than requested: compare the service's index and UUID in our "
        "catalogue with what the HM has registered."
    ),
    Reason.LOA_TOO_LOW: "The person signed in at too low a level for the service: nothing to fix.",
    Reason.DECRYPTION_FAILED: (
        "The assertion is encrypted to a key we do not hold: check the HM has our current encryption "
        "certificate (after a key rollover, send it our metadata)."
    ),
    Reason.ENCRYPTION_ALGORITHM: (
        "The HM encrypts with a cipher not allowed (BROKER_SAML_DATA_ENCRYPTION): ask it for AES-GCM."
    ),
    Reason.REQUEST_EXPIRED: "The person took longer than the request's lifetime: nothing to fix.",
    Reason.REQUEST_USED: "The answer arrived twice (a reload or the back button): nothing to fix.",
}
_DECIDED = (
    "The broker's decision or the HM's answer (cancelled, no mandate, too low a level): the reason code's"
    " meaning is in README's list of refusals; the audit record (flask audit show) says who."
)
_FALLBACK = "See the reason code in README's list of refusals; ask the HM with the sign-in reference."

# The facts in the order they are told, with their words.
_LABELS = (
    ("check", "check"),
    ("expected", "expected"),
    ("received", "received"),
    ("now", "our clock"),
    ("NotBefore", "NotBefore"),
    ("NotOnOrAfter", "NotOnOrAfter"),
    ("clock_skew", "leeway"),
    ("url", "address"),
    ("status_codes", "status"),
)


def explain_decision(record: dict[str, Any]) -> list[str]:
    """Lines for a sign-in's end in the audit trail (an export line's fields): when, for which
    client, service and HM, and the reason; who signed in is left out."""
    lines = [
        f"reference {record['reference']} at {record['at']}: {record['outcome']}"
        + (f" ({record['reason']})" if record.get("reason") else ""),
        f"  client   {record['client_id']}",
        f"  service  {record['service']}",
        f"  HM       {record['hm']}",
    ]
    if record.get("reason"):
        try:
            advice = ADVICE.get(Reason(record["reason"]), _DECIDED)
        except ValueError:
            advice = _DECIDED
        lines.append(f"  what to do: {advice}")
    return lines


def explain(failure: RecordedFailure) -> list[str]:
    """Lines saying what failed, what was compared, and what to do. What the message carried is
    shown with its control characters escaped: it cannot drive the operator's terminal."""
    lines = [
        f"reference {failure.reference}"
        + (f" (sign-in {failure.sign_in})" if failure.sign_in else "")
        + f" at {format_instant(failure.at)}",
        f"  failed: {failure.reason} ({escaped(failure.detail)})"
        if failure.detail
        else f"  failed: {failure.reason}",
    ]
    told = [(label, escaped(failure.facts[key])) for key, label in _LABELS if key in failure.facts]
    width = max((len(label) for label, _ in told), default=0)
    lines += [f"  {label:<{width}}  {value}" for label, value in told]
    try:
        advice = ADVICE.get(Reason(failure.reason), _FALLBACK)
    except ValueError:
        advice = _FALLBACK
    lines.append(f"  what to do: {advice}")
    return lines
