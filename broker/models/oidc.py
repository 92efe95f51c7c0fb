"""The OpenID side's flow state: authorizations awaiting the HM, codes, tokens, used client assertions.

Codes and tokens are stored as their SHA-256: a copy of the database hands out no credentials.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, bindparam, delete, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from broker.extensions import db
from broker.models.statements import Row, run
from broker.models.types import UtcDateTime


class PendingAuthorization(db.Model):
    """A validated authorization request, waiting while the user signs in at the HM."""

    __tablename__ = "pending_authorization"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    # The request's parameters as the client sent them; replayed into authlib after the ACS.
    parameters: Mapped[dict[str, str]] = mapped_column(JSON)
    saml_request_id: Mapped[str] = mapped_column(ForeignKey("saml_request.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class AuthorizationCode(db.Model):
    """A code handed to a client: single use, short-lived, bound to everything the request named."""

    __tablename__ = "authorization_code"
    # A replayed nonce is looked up by client and nonce on every authorization.
    __table_args__ = (Index("ix_authorization_code_client_nonce", "client_id", "nonce"),)

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # What the sign-in established: the claims every token from this code carries.
    claims: Mapped[dict[str, object]] = mapped_column(JSON)
    # What the `claims` parameter asked for per place (`broker.oidc.claims_request`), or None.
    requested_claims: Mapped[dict[str, list[str]] | None] = mapped_column(JSON, nullable=True)
    auth_time: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The sign-in's reference (its SAML request's ID), for the token endpoint's log lines; never released.
    sign_in: Mapped[str | None] = mapped_column(String(64), nullable=True)


class IssuedToken(db.Model):
    """An access token, findable by its hash, revocable with everything its code issued."""

    __tablename__ = "issued_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    claims: Mapped[dict[str, object]] = mapped_column(JSON)
    requested_claims: Mapped[dict[str, list[str]] | None] = mapped_column(JSON, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class UsedClientAssertion(db.Model):
    """`jti`s of private_key_jwt assertions already used (RFC 7523 §3: one use each)."""

    __tablename__ = "used_client_assertion"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(256), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


_authorizations = PendingAuthorization.__table__
_ADD_AUTHORIZATION = insert(_authorizations)
_TAKE_AUTHORIZATION = (
    delete(_authorizations)
    .where(_authorizations.c.saml_request_id == bindparam("request_id"))
    .returning(_authorizations.c.parameters, _authorizations.c.expires_at)
)
_codes = AuthorizationCode.__table__
_ADD_CODE = insert(_codes)
_CLAIM_CODE = (
    update(_codes)
    .where(
        _codes.c.code_hash == bindparam("code"),
        _codes.c.client_id == bindparam("client"),
        _codes.c.used_at.is_(None),
        _codes.c.expires_at > bindparam("now"),
    )
    .values(used_at=bindparam("now"))
    .returning(
        _codes.c.code_hash,
        _codes.c.redirect_uri,
        _codes.c.scope,
        _codes.c.nonce,
        _codes.c.auth_time,
        _codes.c.claims,
        _codes.c.code_challenge,
        _codes.c.code_challenge_method,
        _codes.c.requested_claims,
        _codes.c.sign_in,
    )
)
_CODE_USED_AT = select(_codes.c.used_at).where(_codes.c.code_hash == bindparam("code"))
_NONCE_USED = (
    select(_codes.c.code_hash)
    .where(_codes.c.client_id == bindparam("client"), _codes.c.nonce == bindparam("nonce"))
    .limit(1)
)
_tokens = IssuedToken.__table__
_ADD_TOKEN = insert(_tokens)
_FIND_TOKEN = select(
    _tokens.c.client_id,
    _tokens.c.scope,
    _tokens.c.claims,
    _tokens.c.requested_claims,
    _tokens.c.expires_at,
    _tokens.c.revoked_at,
).where(_tokens.c.token_hash == bindparam("token"))
_REVOKE_TOKEN = (
    update(_tokens)
    .where(_tokens.c.token_hash == bindparam("token"), _tokens.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
)
_REVOKE_TOKENS = (
    update(_tokens)
    .where(_tokens.c.code_hash == bindparam("code"), _tokens.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("now"))
)


def add_authorization(
    authorization_id: str,
    client_id: str,
    parameters: dict[str, str],
    saml_request_id: str,
    now: datetime,
    lifetime: timedelta,
) -> None:
    """Keep a validated authorization request while the user is at the HM; the caller commits."""
    run(
        _ADD_AUTHORIZATION,
        id=authorization_id,
        client_id=client_id,
        parameters=parameters,
        saml_request_id=saml_request_id,
        created_at=now,
        expires_at=now + lifetime,
    )


def take_authorization(saml_request_id: str, now: datetime) -> dict[str, str] | None:
    """The parameters of the unexpired authorization waiting for this SAML request, removed as taken."""
    row = run(_TAKE_AUTHORIZATION, request_id=saml_request_id).first()
    return None if row is None or row.expires_at <= now else dict(row.parameters)


def add_code(**values: Any) -> None:
    """Store an issued code (columns of AuthorizationCode); the caller commits."""
    run(_ADD_CODE, **values)


def claim_code(code_hash: str, client_id: str, now: datetime) -> Row | None:
    """Mark the code used if it is this client's, unused and unexpired: one atomic update, so two
    workers can never both redeem it. Its columns, or None."""
    return run(_CLAIM_CODE, code=code_hash, client=client_id, now=now).first()


def code_was_used(code_hash: str) -> bool:
    return run(_CODE_USED_AT, code=code_hash).scalar() is not None


def nonce_used(client_id: str, nonce: str) -> bool:
    """Whether a code was issued to this client with this nonce already."""
    return run(_NONCE_USED, client=client_id, nonce=nonce).first() is not None


def add_token(**values: Any) -> None:
    """Store an issued access token (columns of IssuedToken); the caller commits."""
    run(_ADD_TOKEN, **values)


def find_token(token_hash: str) -> Row | None:
    return run(_FIND_TOKEN, token=token_hash).first()


def revoke_token(token_hash: str, now: datetime) -> None:
    """Revoke one token (RFC 7009); one already revoked keeps its time. The caller commits."""
    run(_REVOKE_TOKEN, token=token_hash, now=now)


def revoke_tokens_of(code_hash: str, now: datetime) -> None:
    """Revoke every token a code issued; the caller commits."""
    run(_REVOKE_TOKENS, code=code_hash, now=now)
