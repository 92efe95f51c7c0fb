"""The SAML side's flow state: requests awaiting an answer, assertion IDs seen, simulator artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, Text, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from broker.extensions import db
from broker.models.statements import run
from broker.models.types import UtcDateTime
from saml.errors import Reason, SamlError


class SamlRequest(db.Model):
    """An AuthnRequest we sent, awaiting its one answer."""

    __tablename__ = "saml_request"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The reference sealed into RelayState; never shown without its MAC.
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    service_slug: Mapped[str] = mapped_column(String(64))
    minimum_level: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The name of the HM it was sent to (BROKER_HMS): only that HM may answer it.
    hm: Mapped[str | None] = mapped_column(String(32), nullable=True)


class SeenAssertion(db.Model):
    """Assertion IDs already accepted; the primary key refuses a replay across workers."""

    __tablename__ = "seen_assertion"

    issuer: Mapped[str] = mapped_column(String(512), primary_key=True)
    assertion_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    remember_until: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class SimulatorArtifact(db.Model):
    """Responses the development HM simulator holds until our ACS resolves their artifact."""

    __tablename__ = "simulator_artifact"

    handle: Mapped[str] = mapped_column(String(40), primary_key=True)
    response: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


@dataclass(frozen=True)
class OpenRequest:
    """What the ACS needs of a request that may still be answered."""

    id: str
    purpose: str
    service_slug: str
    minimum_level: str
    # When the AuthnRequest was sent: the HM's authentication (ForceAuthn) must not be older.
    sent_at: datetime
    # The HM it was sent to; None: the only one.
    hm: str | None = None


_requests = SamlRequest.__table__
_ADD_REQUEST = insert(_requests)
_FIND_REQUEST = select(
    _requests.c.id,
    _requests.c.purpose,
    _requests.c.service_slug,
    _requests.c.minimum_level,
    _requests.c.created_at,
    _requests.c.consumed_at,
    _requests.c.expires_at,
    _requests.c.hm,
).where(_requests.c.reference == bindparam("reference"))
_CONSUME_REQUEST = (
    update(_requests)
    .where(_requests.c.id == bindparam("request_id"), _requests.c.consumed_at.is_(None))
    .values(consumed_at=bindparam("now"))
)
_SEE_ASSERTION = insert(SeenAssertion.__table__)
_artifacts = SimulatorArtifact.__table__
_PUT_ARTIFACT = insert(_artifacts)
_TAKE_ARTIFACT = (
    delete(_artifacts)
    .where(_artifacts.c.handle == bindparam("key"), _artifacts.c.expires_at > bindparam("now"))
    .returning(_artifacts.c.response)
)


def add_request(request: OpenRequest, reference: str, lifetime: timedelta) -> None:
    """Write a new request now, so rows that point at it may follow; the caller commits."""
    run(
        _ADD_REQUEST,
        id=request.id,
        reference=reference,
        service_slug=request.service_slug,
        minimum_level=request.minimum_level,
        purpose=request.purpose,
        created_at=request.sent_at,
        expires_at=request.sent_at + lifetime,
        hm=request.hm,
    )


def pending_request(reference: str, now: datetime) -> OpenRequest:
    """The unconsumed, unexpired request behind a RelayState reference."""
    found = run(_FIND_REQUEST, reference=reference).first()
    if found is None:
        raise SamlError(Reason.REQUEST_UNKNOWN, "no request for this RelayState")
    if found.consumed_at is not None:
        raise SamlError(Reason.REQUEST_USED, "request already answered")
    if found.expires_at <= now:
        raise SamlError(Reason.REQUEST_EXPIRED, "request expired")
    return OpenRequest(
        found.id, found.purpose, found.service_slug, found.minimum_level, found.created_at, found.hm
    )


def consume(
    request_id: str,
    now: datetime,
    issuer: str | None,
    assertion_id: str | None,
    remember_until: datetime | None,
) -> None:
    """Mark the request answered and remember the assertion; refuse a second use of either.

    The caller commits, together with what the answer produced (a code, a refusal): a sign-in
    that fails before then leaves the request open, and the assertion unseen.
    """
    if run(_CONSUME_REQUEST, request_id=request_id, now=now).rowcount != 1:
        db.session.rollback()
        raise SamlError(Reason.REQUEST_USED, "request already answered")
    if not (issuer and assertion_id and remember_until):
        return
    try:
        run(_SEE_ASSERTION, issuer=issuer, assertion_id=assertion_id, remember_until=remember_until)
    except IntegrityError:
        db.session.rollback()
        raise SamlError(Reason.ASSERTION_REPLAYED, "assertion ID seen before") from None


def put_artifact(handle: bytes, response: bytes, expires_at: datetime) -> None:
    """The simulator keeps a Response until its artifact is resolved; the caller commits."""
    run(_PUT_ARTIFACT, handle=handle.hex(), response=response.decode("utf-8"), expires_at=expires_at)


def take_artifact(handle: bytes, now: datetime) -> bytes | None:
    """The Response kept for `handle`, removed as it is taken: an artifact resolves once."""
    row = run(_TAKE_ARTIFACT, key=handle.hex(), now=now).first()
    return None if row is None else row.response.encode("utf-8")
