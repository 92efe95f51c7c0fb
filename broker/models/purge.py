"""Removing flow state past its use, for every table at once: all of it (`flask purge`, from cron),
or a bounded batch of each (`sweep_expired`, which the workers run now and then by themselves)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Table, delete, select, tuple_

from broker.extensions import db
from broker.models.check_failures import CheckFailure
from broker.models.establishment import PendingChoice
from broker.models.kvk import KvkAnswer
from broker.models.oidc import AuthorizationCode, IssuedToken, PendingAuthorization, UsedClientAssertion
from broker.models.pushed import PushedAuthorization
from broker.models.saml import SamlRequest, SeenAssertion, SimulatorArtifact


def purge_expired(now: datetime) -> int:
    """Delete rows past their use; returns how many went. Authorizations go before their SAML requests."""
    removed = 0
    for statement in (
        delete(PendingAuthorization).where(PendingAuthorization.expires_at < now),
        delete(SamlRequest).where(
            SamlRequest.expires_at < now,
            ~SamlRequest.id.in_(db.select(PendingAuthorization.saml_request_id)),
        ),
        delete(SeenAssertion).where(SeenAssertion.remember_until < now),
        delete(SimulatorArtifact).where(SimulatorArtifact.expires_at < now),
        delete(AuthorizationCode).where(AuthorizationCode.expires_at < now),
        delete(IssuedToken).where(IssuedToken.expires_at < now),
        delete(UsedClientAssertion).where(UsedClientAssertion.expires_at < now),
        delete(PushedAuthorization).where(PushedAuthorization.expires_at < now),
        delete(KvkAnswer).where(KvkAnswer.expires_at < now),
        delete(PendingChoice).where(PendingChoice.expires_at < now),
        delete(CheckFailure).where(CheckFailure.expires_at < now),
    ):
        removed += db.session.execute(statement).rowcount
    db.session.commit()
    return removed


def _expired(now: datetime) -> list[tuple[Table, ColumnElement[bool]]]:
    """Each flow-state table with what makes a row of it removable; authorizations before the SAML
    requests they point at."""
    authorizations = PendingAuthorization.__table__
    requests = SamlRequest.__table__
    return [
        (authorizations, authorizations.c.expires_at < now),
        (
            requests,
            (requests.c.expires_at < now) & ~requests.c.id.in_(select(authorizations.c.saml_request_id)),
        ),
        (SeenAssertion.__table__, SeenAssertion.__table__.c.remember_until < now),
        *(
            (model.__table__, model.__table__.c.expires_at < now)
            for model in (
                SimulatorArtifact,
                AuthorizationCode,
                IssuedToken,
                UsedClientAssertion,
                PushedAuthorization,
                KvkAnswer,
                PendingChoice,
                CheckFailure,
            )
        ),
    ]


def sweep_expired(now: datetime, batch: int) -> int:
    """Delete at most `batch` expired rows of each table, in one transaction; returns how many went.

    Safe beside other workers sweeping at the same moment: on PostgreSQL the rows to delete are
    locked as they are chosen, skipping any another sweep (or a sign-in) holds, so two sweeps never
    wait on each other nor deadlock. The caller's session must have nothing else pending.
    """
    removed = 0
    for table, removable in _expired(now):
        key = table.primary_key.columns
        chosen = select(*key).where(removable).limit(batch).with_for_update(skip_locked=True)
        removed += db.session.execute(delete(table).where(tuple_(*key).in_(chosen))).rowcount
    db.session.commit()
    return removed
