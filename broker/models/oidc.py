"""The OpenID side's flow state: authorizations awaiting the HM, codes, tokens, used client assertions.

Codes and tokens are stored as their SHA-256: a copy of the database hands out no credentials.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from broker.extensions import db
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
    auth_time: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class IssuedToken(db.Model):
    """An access token, findable by its hash, revocable with everything its code issued."""

    __tablename__ = "issued_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    claims: Mapped[dict[str, object]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class UsedClientAssertion(db.Model):
    """`jti`s of private_key_jwt assertions already used (RFC 7523 §3: one use each)."""

    __tablename__ = "used_client_assertion"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(256), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
