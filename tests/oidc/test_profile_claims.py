"""The acting person's name and date of birth as claims (scope `profile`): released only to the clients
of a service whose catalogue entry requested them, in both claim sets; never for a service that did
not, even when the HM sends them; never in the log or the audit trail."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from broker.decide import Admitted, MandateKind
from broker.extensions import db
from broker.models.audit import AuditRecord
from broker.models.oidc import AuthorizationCode, IssuedToken
from broker.oidc.claims import sign_in_claims
from saml.identifiers import IdentifierType
from saml.identity import EherkenningIdentity, Identifier
from saml.loa import LevelOfAssurance
from saml.person import Person
from tests.oidc.portal import Portal, redirect_parameters
from tests.oidc.test_nlgov import nlgov_portal
from tests.oidc.test_signin import signed_in

NAMES = {"given_name": "Jan", "family_name": "Jansen", "birthdate": "1980-01-31"}
PERSON_CLAIMS = {"given_name", "family_name", "initials", "birthdate"}
# broker-v1's claims for an own-company sign-in under every scope but the registers', as ever.
BROKER_V1 = {"sub", "acr", "auth_time", "kvk_number", "mandate", "eherkenning_service_id", "acting_subject"}
TOKEN = {"iss", "aud", "azp", "iat", "exp", "jti", "nonce", "at_hash", "auth_time", "_header"}
EVERY_SCOPE = "openid kvk mandate acting_subject profile"


def named_portal(client: FlaskClient) -> Portal:
    return Portal(client, "ind-named")


def id_token_and_userinfo(
    portal: Portal, scope: str, **choices: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    tokens = signed_in(portal, scope=scope, **choices)
    userinfo = portal.userinfo(tokens["access_token"])
    assert userinfo.status_code == 200, userinfo.get_data(as_text=True)
    if userinfo.mimetype != "application/jwt":
        return portal.verify(tokens["id_token"]), userinfo.get_json()
    keys = KeySet.import_key_set(portal.client.get("/oidc/jwks").get_json())
    signed = jwt.decode(userinfo.get_data(as_text=True), keys, algorithms=["RS256", "ES256"])
    return portal.verify(tokens["id_token"]), dict(signed.claims)


# --- released to a requesting service's clients, under scope profile ------------------------------------


def test_a_requesting_service_releases_the_names_under_profile(client: FlaskClient) -> None:
    id_token, userinfo = id_token_and_userinfo(named_portal(client), "openid profile")
    assert {name: id_token[name] for name in NAMES} == NAMES
    assert (
        userinfo
        == {"sub": id_token["sub"], "acr": id_token["acr"], "auth_time": id_token["auth_time"]} | NAMES
    )


def test_what_the_service_did_not_request_is_not_released_though_sent(client: FlaskClient) -> None:
    # ind-named requests no Initials: the HM sends them here anyway.
    id_token, userinfo = id_token_and_userinfo(named_portal(client), "openid profile", person="all")
    assert "initials" not in id_token
    assert set(userinfo) & PERSON_CLAIMS == set(NAMES)


def test_without_scope_profile_no_name_is_released(client: FlaskClient) -> None:
    id_token, userinfo = id_token_and_userinfo(named_portal(client), "openid kvk mandate acting_subject")
    assert not PERSON_CLAIMS & (set(id_token) | set(userinfo))
    assert id_token["kvk_number"] == "12345678"


def test_what_the_hm_did_not_send_is_not_released(client: FlaskClient) -> None:
    id_token, userinfo = id_token_and_userinfo(named_portal(client), "openid profile", person="none")
    assert not PERSON_CLAIMS & (set(id_token) | set(userinfo))


def test_the_nlgov_claim_set_has_the_names_at_the_top(client: FlaskClient) -> None:
    portal = Portal(client, "ind-named-nlgov", "private_key_jwt")
    id_token, userinfo = id_token_and_userinfo(portal, "openid profile")
    for claims in (id_token, userinfo):
        assert {name: claims[name] for name in NAMES} == NAMES
        assert claims["represents"]["sub"] == "12345678"
        assert "initials" not in claims


# --- a service that requested nothing: nothing, even when the HM sends it, and no claim changes ---------


@pytest.mark.parametrize("sent", ["requested", "all", "none"])
def test_a_service_that_requested_nothing_releases_nothing_of_it(client: FlaskClient, sent: str) -> None:
    portal = Portal(client, "ind-portal")
    id_token, userinfo = id_token_and_userinfo(portal, EVERY_SCOPE, person=sent)
    assert set(id_token) == BROKER_V1 | TOKEN
    assert set(userinfo) == BROKER_V1


def test_nlgov_for_a_service_that_requested_nothing_releases_nothing_of_it(client: FlaskClient) -> None:
    portal = nlgov_portal(client)
    id_token, userinfo = id_token_and_userinfo(portal, "openid kvk acting_subject profile", person="all")
    assert not PERSON_CLAIMS & (set(id_token) | set(userinfo))


def test_unrequested_names_are_not_even_kept_with_the_sign_in(app: Flask, client: FlaskClient) -> None:
    company = "11223344"  # this test's sign-ins only
    id_token_and_userinfo(Portal(client, "ind-portal"), EVERY_SCOPE, person="all", kvk=company)
    id_token_and_userinfo(named_portal(client), "openid profile", person="all", kvk=company)
    with app.app_context():
        kept = [
            (client_id, claims)
            for model in (AuthorizationCode, IssuedToken)
            for client_id, claims in db.session.execute(select(model.client_id, model.claims))
            if claims.get("kvk_number") == company
        ]
    assert sorted(client_id for client_id, _ in kept) == [
        "ind-named",
        "ind-named",
        "ind-portal",
        "ind-portal",
    ]
    for client_id, claims in kept:
        held = PERSON_CLAIMS & set(claims)
        assert held == (set(NAMES) if client_id == "ind-named" else set()), client_id


def test_sign_in_claims_take_only_what_was_requested() -> None:
    identity = EherkenningIdentity(
        legal_subject=Identifier(IdentifierType.KVK, "12345678"),
        acting_subject="pseudonym",
        level=LevelOfAssurance.LOA3,
        authn_instant=datetime(2026, 3, 2, tzinfo=UTC),
        hm_entity_id="https://hm.test",
        person=Person("Jan", "Jansen", "J.", date(1980, 1, 31)),
    )
    admitted = Admitted(identity, MandateKind.OWN_COMPANY, None)
    assert not PERSON_CLAIMS & set(sign_in_claims(admitted, "c", b"salt"))
    assert PERSON_CLAIMS & set(sign_in_claims(admitted, "c", b"salt", ["Initials", "DateOfBirth"])) == {
        "initials",
        "birthdate",
    }
    everything = sign_in_claims(
        admitted, "c", b"salt", ["FirstName", "FamilyName", "Initials", "DateOfBirth"]
    )
    assert {name: everything[name] for name in PERSON_CLAIMS} == NAMES | {"initials": "J."}


# --- unreadable values, the log and the audit trail --------------------------------------------------


def test_an_unreadable_date_of_birth_is_left_out_and_logged_without_it(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    id_token, _ = id_token_and_userinfo(named_portal(client), "openid profile", birthdate="31-01-1980")
    assert "birthdate" not in id_token
    assert (id_token["given_name"], id_token["family_name"]) == ("Jan", "Jansen")
    lines = [record.getMessage() for record in caplog.records]
    assert any("attribute=DateOfBirth service=ind-named" in line for line in lines), lines
    assert not any("31-01-1980" in line for line in lines)


def test_the_names_stay_out_of_the_log_and_the_audit_trail(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chosen = {"first_name": "Xanthippe", "family_name": "Zwartkruis", "birthdate": "1971-07-13"}
    portal = named_portal(client)
    id_token, _ = id_token_and_userinfo(portal, "openid profile", **chosen)
    assert (id_token["given_name"], id_token["family_name"], id_token["birthdate"]) == tuple(chosen.values())
    refused = redirect_parameters(named_portal(client).sign_in("openid profile", loa="loa2", **chosen))
    assert refused["error"] == "access_denied"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    with app.app_context():
        audited = "\n".join(db.session.scalars(select(AuditRecord.content)))
    assert "named" in audited  # the sign-ins are there
    for value in (*chosen.values(), "19710713"):
        assert value not in logged
        assert value not in audited
