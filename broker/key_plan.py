"""The rollover plan `flask keys plan` prints: per kind of key, its keys and what to do when.

Two notice periods decide the dates:

- SAML: the next certificate reaches the HM at least `SAML_NOTICE` (4 weeks) before it takes over.
  A copy of our metadata is valid for 4 weeks (`saml.metadata.VALIDITY`), so once the next
  certificate has been published that long, every copy an HM can still hold names it; an HM
  that loads metadata by hand, or enters the service catalogue in a release, is covered by the
  same date. The superseded key keeps decrypting until it is retired: retire it when the HM
  confirms it encrypts to the new certificate, and by 4 weeks after the switch at the latest
  (from then on no valid copy of our metadata names the old one).
- OpenID: a next token key is in the JWKS at least `OIDC_NOTICE` (a day) before it signs:
  portals cache the JWKS (we say an hour; some libraries keep it for a day) and find a new key by
  its `kid`. The old key needs no retiring: it stays in the JWKS until its last tokens expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from config.key_schedule import KeyKind, KeySchedule, KeyState, ScheduledKey, when_text
from saml.metadata import VALIDITY

SAML_NOTICE = VALIDITY
OIDC_NOTICE = timedelta(days=1)
_APP = "flask --app wsgi"


@dataclass(frozen=True)
class Step:
    """Something that happens or is to be done at `when` (None: now, or whenever it suits)."""

    when: datetime | None
    text: str
    # The date is past, or too near, for the notice it needs.
    late: bool = False

    def line(self) -> str:
        when = "now" if self.when is None else when_text(self.when)
        return f"  {'LATE ' if self.late else ''}{when}: {self.text}"


def notice(kind: KeyKind) -> timedelta:
    return SAML_NOTICE if kind is KeyKind.SAML else OIDC_NOTICE


def plan(schedule: KeySchedule, kind: KeyKind, now: datetime) -> list[Step]:
    """What is to happen to the keys of `kind`, in time order."""
    steps: list[Step] = []
    for key in schedule.of(kind):
        state = schedule.state(key, now)
        if key.retires_at is not None and key.retires_at > now:
            what = "it decrypts" if kind is KeyKind.SAML else "it stays in the JWKS"
            steps.append(
                Step(key.retires_at, f"{key.name} retires; {what} {_minutes(schedule.grace(kind))} longer")
            )
        if state is KeyState.NEXT:
            steps += _next(schedule, key, now)
        elif state is KeyState.CURRENT and schedule.next_key(kind, now) is None:
            steps += _renew(key, now)
        elif state is KeyState.SUPERSEDED and key.retires_at is None:
            steps += _superseded(schedule, key, now)
        elif state is KeyState.RETIRED:
            gone = schedule.gone_at(key)
            assert gone is not None
            what = "decrypts" if kind is KeyKind.SAML else "stays in the JWKS"
            steps.append(Step(gone, f"{key.name} has ended; it {what} until then"))
        elif state is KeyState.GONE:
            steps.append(Step(None, f"{key.name} is gone: its folder may be removed"))
    return sorted(steps, key=lambda step: (step.when is not None, step.when or now))


def _next(schedule: KeySchedule, key: ScheduledKey, now: datetime) -> list[Step]:
    assert key.activates_at is not None
    takes_over = key.activates_at
    current = schedule.signing(key.kind, now)
    old = "" if current is None else current.name
    if key.kind is not KeyKind.SAML:
        published = key.created_at or now
        return [
            Step(
                takes_over,
                f"{key.name} signs new tokens ({key.kind.alg}); it has been in the JWKS since"
                f" {when_text(published)}, and portals need do nothing"
                + (f"; {old} stays in the JWKS until every token it signed has expired" if old else ""),
                late=takes_over - published < OIDC_NOTICE,
            )
        ]
    send_by = takes_over - SAML_NOTICE
    steps = [
        Step(
            send_by,
            f"by then, send the HM our metadata and service catalogue, both with {key.name}'s"
            f" certificate ({_APP} saml metadata; {_APP} eherkenning catalogue), and tell it in writing"
            f" that {key.name} takes over at {when_text(takes_over)}: 4 weeks' notice, as long as a"
            " copy of our metadata stays valid",
            late=send_by < now,
        ),
        Step(
            takes_over,
            f"{key.name} takes over signing and mutual TLS"
            + (f"; {old} keeps decrypting until it is retired" if old else ""),
        ),
    ]
    if current is not None and current.retires_at is None:
        steps.append(
            Step(
                takes_over + SAML_NOTICE,
                f"by then, once the HM confirms it encrypts to {key.name}, retire {old}"
                f" ({_APP} keys retire {old}); from then on no valid copy of our metadata names it",
            )
        )
    return steps


def _renew(key: ScheduledKey, now: datetime) -> list[Step]:
    if key.kind is not KeyKind.SAML:
        return [Step(None, f"{key.name} signs; nothing to do")]
    expires = x509.load_pem_x509_certificate(key.cert_pem).not_valid_after_utc
    takes_over = expires - SAML_NOTICE
    return [
        Step(
            takes_over - SAML_NOTICE,
            f"by then, make the next key ({_APP} keys import --kind saml … with a PKIoverheid"
            f" certificate, or keys generate outside production) to take over at {takes_over:%Y-%m-%d}:"
            f" {key.name}'s certificate expires at {when_text(expires)}, and the HM needs 4 weeks' notice",
            late=takes_over - SAML_NOTICE < now,
        )
    ]


def _superseded(schedule: KeySchedule, key: ScheduledKey, now: datetime) -> list[Step]:
    since = schedule.superseded_at(key)
    assert since is not None
    current = schedule.signing(key.kind, now)
    successor = "its successor" if current is None else current.name
    return [
        Step(
            since + SAML_NOTICE,
            f"by then at the latest, once the HM confirms it encrypts to {successor}, retire {key.name}"
            f" ({_APP} keys retire {key.name}): it only decrypts, since {when_text(since)}",
            late=since + SAML_NOTICE < now,
        )
    ]


def _minutes(duration: timedelta) -> str:
    return f"{int(duration.total_seconds() // 60)} minutes"
