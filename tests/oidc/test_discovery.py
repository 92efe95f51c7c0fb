"""The provider's metadata, as the NL GOV Assurance profile for OpenID Connect asks for it, at both
well-known paths."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.conftest import TEST_BASE_URL

PATHS = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
# What the profile's "Discovery document" requires (REQUIRED), and what it asks for in
# representation (`represents` among the claims) and of the identifier types.
REQUIRED = {
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "scopes_supported",
    "response_types_supported",
    "grant_types_supported",
    "claims_supported",
    "subject_types_supported",
    "token_endpoint_auth_methods_supported",
    "id_token_signing_alg_values_supported",
    "userinfo_signing_alg_values_supported",
}


@pytest.fixture
def document(client: FlaskClient) -> dict:
    return client.get(PATHS[0]).get_json()


def test_both_paths_serve_the_same_document(client: FlaskClient, document: dict) -> None:
    answer = client.get(PATHS[1], headers={"Origin": "https://spa.test"})
    assert answer.status_code == 200
    assert answer.get_json() == document
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_the_profiles_required_metadata_is_there(document: dict) -> None:
    assert set(document) >= REQUIRED
    assert document["issuer"] == TEST_BASE_URL
    assert document["response_types_supported"] == ["code"]
    assert document["grant_types_supported"] == ["authorization_code"]
    assert document["subject_types_supported"] == ["pairwise"]
    assert document["userinfo_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert document["userinfo_endpoint"] == f"{TEST_BASE_URL}/oidc/userinfo"


def test_identifier_types_claims_and_scopes(document: dict) -> None:
    assert document["sub_id_types_supported"] == [
        "urn:nl-eid-gdi:1.0:id:pseudonym",
        "urn:nl-eid-gdi:1.0:id:KvKnr",
        "urn:nl-eid-gdi:1.0:id:RSIN",
    ]
    assert {"represents", "sub_id_type", "nbf", "jti", "kvk_number", "mandate", "organisation_group"} <= set(
        document["claims_supported"]
    )
    assert "company_name" not in document["claims_supported"]  # kept for represents, never a claim of its own
    assert document["scopes_supported"] == [
        "openid",
        "kvk",
        "mandate",
        "acting_subject",
        "organisation",
        "department",
        "profile",
    ]
    assert {"given_name", "family_name", "initials", "birthdate"} <= set(document["claims_supported"])


def test_the_levels_the_clients_services_offer_in_both_forms(document: dict) -> None:
    """The test clients' services sign in at EH2+ and EH3: those levels, then the eIDAS levels
    they meet (EH2+ meets low)."""
    assert document["acr_values_supported"] == [
        *(f"urn:etoegang:core:assurance-class:{level}" for level in ("loa2plus", "loa3")),
        *(f"http://eidas.europa.eu/LoA/{level}" for level in ("low", "substantial")),
    ]


def test_introspection_and_revocation_are_announced_with_their_authentication(document: dict) -> None:
    assert document["introspection_endpoint"] == f"{TEST_BASE_URL}/oidc/introspect"
    assert document["revocation_endpoint"] == f"{TEST_BASE_URL}/oidc/revoke"
    assert document["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ]
    assert set(document["revocation_endpoint_auth_methods_supported"]) == set(
        document["token_endpoint_auth_methods_supported"]
    )


def test_encryption_is_announced(document: dict) -> None:
    for kind in ("id_token", "userinfo"):
        assert document[f"{kind}_encryption_alg_values_supported"] == ["RSA-OAEP-256", "RSA-OAEP", "ECDH-ES"]
        assert document[f"{kind}_encryption_enc_values_supported"] == ["A256GCM"]


def test_request_objects_and_pushed_requests_are_announced(document: dict) -> None:
    assert document["request_parameter_supported"] is True
    assert document["request_uri_parameter_supported"] is True
    assert document["require_request_uri_registration"] is True
    assert document["request_object_signing_alg_values_supported"] == ["RS256", "PS256", "ES256"]
    # Not encrypted: the broker publishes no key to encrypt a request object to.
    assert "request_object_encryption_alg_values_supported" not in document
    assert document["pushed_authorization_request_endpoint"] == f"{TEST_BASE_URL}/oidc/par"
    assert document["require_pushed_authorization_requests"] is False


def test_every_endpoint_announced_answers(client: FlaskClient, document: dict) -> None:
    endpoints = {name: url for name, url in document.items() if name.endswith(("_endpoint", "_uri"))}
    assert all(url.startswith(TEST_BASE_URL) for url in endpoints.values())
    for name, url in endpoints.items():
        path = url.removeprefix(TEST_BASE_URL)
        answer = client.get(path) if name in {"jwks_uri", "authorization_endpoint"} else client.post(path)
        assert answer.status_code != 404, name
