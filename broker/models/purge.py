"""Removing flow state past its use, for every table at once (`flask purge`, from cron)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from broker.extensions import db
from broker.models.establishment import PendingChoice
from broker.models.kvk import KvkAnswer
from broker.models.oidc import AuthorizationCode, IssuedToken, PendingAuthorization, UsedClientAssertion
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
        delete(KvkAnswer).where(KvkAnswer.expires_at < now),
        delete(PendingChoice).where(PendingChoice.expires_at < now),
    ):
        removed += db.session.execute(statement).rowcount
    db.session.commit()
    return removed
