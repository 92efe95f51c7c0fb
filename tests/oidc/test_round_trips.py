"""What a whole sign-in asks of the database: a guard on the hot path's statements and commits.

Every statement is a round trip to PostgreSQL in production; a change that adds one should
show up here and be meant.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from broker.extensions import db
from tests.oidc.portal import Portal, redirect_parameters
from tests.sent_sql import first_words, sent_sql


@dataclass
class Traffic:
    sent: list[str] = field(default_factory=list)
    commits: int = 0

    @property
    def statements(self) -> list[str]:
        return first_words(self.sent)


@pytest.fixture
def traffic(app: Flask) -> Iterator[Traffic]:
    seen = Traffic()
    with app.app_context():
        engine = db.engine

    def commit(_conn: object) -> None:
        seen.commits += 1

    event.listen(engine, "commit", commit)
    with sent_sql(app) as sent:
        seen.sent = sent
        yield seen
    event.remove(engine, "commit", commit)


def test_a_whole_sign_in_takes_fourteen_statements_in_three_commits(
    client: FlaskClient, traffic: Traffic
) -> None:
    portal = Portal(client, "ind-portal")
    code = redirect_parameters(portal.sign_in(binding="artifact"))["code"]
    tokens = portal.token(code).get_json()
    assert portal.userinfo(tokens["access_token"]).status_code == 200
    assert traffic.statements == [
        # authorize: the nonce unused, the SAML request and the authorization kept
        *("SELECT", "INSERT", "INSERT"),
        # the simulator keeps its answer for the artifact (no transaction)
        "INSERT",
        # ACS: the request, the artifact taken, the request consumed, the assertion remembered,
        # the authorization taken, the code stored, the decision in the audit trail
        *("SELECT", "DELETE", "UPDATE", "INSERT", "DELETE", "INSERT", "INSERT"),
        # token: the code claimed, the token stored; userinfo: the token read
        *("UPDATE", "INSERT", "SELECT"),
    ]
    assert traffic.commits == 3
