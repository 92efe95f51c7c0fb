"""The NL GOV Assurance profile for OpenID Connect, per client: the nlgov-v1 claim set (the person
as `sub` with `sub_id_type`, the company acted for in `represents`, nested under a chain
mandate), its ID tokens (`nbf`, `jti`, five minutes, no `amr`), RFC 9068 access tokens, signed and
encrypted userinfo and ID tokens, and `acr` as eIDAS levels; broker-v1 clients see none of it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jwe, jwt
from joserfc.jwk import KeySet

from broker.decide import Admitted, MandateKind
from broker.oidc.claims import sign_in_claims, with_registers
from broker.oidc.levels import acr_claim, requested_level
from broker.oidc.profiles import KVK_NUMBER, PSEUDONYM, RSIN, nlgov_v1, released_for
from config import ConfigError, Registry
from config.clients import load_clients
from saml.identifiers import IdentifierType
from saml.identity import EherkenningIdentity, Identifier
from saml.loa import LevelOfAssurance
from tests.clients import EC_ENCRYPTION_KEY, ENCRYPTION_KEY, REDIRECT
from tests.conftest import TEST_BASE_URL
from tests.oidc.portal import Portal, redirect_parameters
from tests.oidc.test_signin import signed_in

IND_UUID = "6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01"
EIDAS = "http://eidas.europa.eu/LoA/"
LOA = "urn:etoegang:core:assurance-class:"
INTERMEDIARY_RSIN = "123456782"


def nlgov_portal(client: FlaskClient) -> Portal:
    return Portal(client, "nlgov-portal", "private_key_jwt")


def company(kvk: str, **members: Any) -> dict[str, Any]:
    return {"sub": kvk, "sub_id_type": KVK_NUMBER, "iss": TEST_BASE_URL} | members


# --- the claim set: the person is sub, the company acted for is represents -------------------------


def test_an_own_company_sign_in_represents_the_company(client: FlaskClient) -> None:
    portal = nlgov_portal(client)
    claims = portal.verify(signed_in(portal, kvk="24444001")["id_token"])
    assert claims["sub_id_type"] == PSEUDONYM
    assert claims["represents"] == company(
        "24444001",
        mandate={
            "kind": "own_company",
            "service_uuid": IND_UUID,
            "service_id": claims["represents"]["mandate"]["service_id"],
        },
    )
    assert claims["represents"]["mandate"]["service_id"].endswith(":services:1")
    # None of broker-v1's names: the company is in represents, the mandate in the company.
    assert not {"kvk_number", "rsin", "mandate", "eherkenning_service_id", "company_name"} & set(claims)
    assert len(claims["sub"]) == 43  # pairwise: 256 bits, as for every client


def test_a_chain_mandate_nests_the_company_in_the_intermediary(client: FlaskClient) -> None:
    portal = nlgov_portal(client)
    tokens = signed_in(
        portal,
        kvk="12345678",
        mandate="representative",
        intermediary="87654321",
        establishment="000012345678",
    )
    claims = portal.verify(tokens["id_token"])
    represented = company(
        "12345678",
        establishment_number="000012345678",
        establishment_source="mandate",
        mandate={
            "kind": "representative",
            "service_uuid": IND_UUID,
            "service_id": claims["represents"]["represents"]["mandate"]["service_id"],
        },
    )
    assert claims["represents"] == company("87654321", represents=represented)


def test_an_intermediary_known_by_rsin_is_typed_as_one(client: FlaskClient) -> None:
    portal = nlgov_portal(client)
    tokens = signed_in(portal, kvk="12345678", mandate="representative", intermediary_rsin=INTERMEDIARY_RSIN)
    represents = portal.verify(tokens["id_token"])["represents"]
    assert (represents["sub"], represents["sub_id_type"]) == (INTERMEDIARY_RSIN, RSIN)
    assert represents["represents"]["sub"] == "12345678"


def test_scope_openid_alone_still_names_the_parties(client: FlaskClient) -> None:
    portal = nlgov_portal(client)
    params = redirect_parameters(
        portal.sign_in("openid", mandate="representative", establishment="000012345678")
    )
    claims = portal.verify(portal.token(params["code"]).get_json()["id_token"])
    assert claims["represents"] == company("87654321", represents=company("12345678"))
    assert not {"acting_subject", "department"} & set(claims)


def identity(**overrides: Any) -> EherkenningIdentity:
    values: dict[str, Any] = {
        "legal_subject": Identifier(IdentifierType.KVK, "12345678"),
        "acting_subject": "person-1",
        "level": LevelOfAssurance.LOA3,
        "authn_instant": datetime(2026, 1, 5, 9, tzinfo=UTC),
        "hm_entity_id": "urn:hm",
        "service_uuid": IND_UUID,
    }
    return EherkenningIdentity(**(values | overrides))


def nlgov(who: EherkenningIdentity, scopes: set[str], mandate: MandateKind = MandateKind.OWN_COMPANY) -> dict:
    return nlgov_v1(
        sign_in_claims(Admitted(who, mandate, None), "nlgov-portal", b"salt"), scopes, TEST_BASE_URL
    )


def test_the_trade_name_and_the_rsin_come_with_scope_kvk() -> None:
    who = identity(company_name="Bakkerij de Korrel B.V.", rsin="123456782")
    assert nlgov(who, {"openid", "kvk"})["represents"] == company(
        "12345678",
        name="Bakkerij de Korrel B.V.",
        alt_sub={"sub": "123456782", "sub_id_type": RSIN, "iss": TEST_BASE_URL},
    )
    assert nlgov(who, {"openid"})["represents"] == company("12345678")


def test_a_company_known_by_rsin_alone_is_represented_by_it() -> None:
    view = nlgov(identity(legal_subject=Identifier(IdentifierType.RSIN, "123456782")), {"openid", "kvk"})
    assert view["represents"] == {"sub": "123456782", "sub_id_type": RSIN, "iss": TEST_BASE_URL}


def test_a_company_known_by_bsn_is_a_pseudonym_never_the_bsn() -> None:
    who = identity(legal_subject=Identifier(IdentifierType.BSN, "111222333"))
    represents = nlgov(who, {"openid", "kvk", "mandate"})["represents"]
    assert represents["sub_id_type"] == PSEUDONYM
    assert "111222333" not in str(nlgov(who, {"openid", "kvk", "mandate", "acting_subject"}))
    other = identity(legal_subject=Identifier(IdentifierType.BSN, "111222345"))
    assert nlgov(other, {"openid"})["represents"]["sub"] != represents["sub"]
    assert nlgov(who, {"openid"})["represents"]["sub"] == represents["sub"]  # stable


def test_the_registers_claims_go_where_they_belong() -> None:
    claims = sign_in_claims(Admitted(identity(), MandateKind.OWN_COMPANY, None), "nlgov-portal", b"salt")
    claims = with_registers(claims, {"id": "g1", "name": "Group"}, "Sales")
    view = nlgov_v1(claims, {"openid", "organisation", "department"}, TEST_BASE_URL)
    assert view["represents"]["organisation_group"] == {"id": "g1", "name": "Group"}
    assert view["department"] == "Sales"
    assert "organisation_group" not in nlgov_v1(claims, {"openid", "department"}, TEST_BASE_URL)["represents"]


# --- broker-v1 stays as it was ----------------------------------------------------------------------


def test_a_broker_v1_client_sees_nothing_of_the_profile(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    tokens = signed_in(portal, mandate="representative")
    claims = portal.verify(tokens["id_token"])
    assert set(claims) - {"_header"} == {
        *("iss", "aud", "azp", "iat", "exp", "jti", "nonce", "auth_time", "acr", "at_hash"),
        *("sub", "kvk_number", "mandate", "eherkenning_service_id", "acting_subject"),
    }
    assert claims["acr"] == LOA + "loa3"
    assert tokens["access_token"].count(".") == 0  # opaque, as before
    info = portal.userinfo(tokens["access_token"])
    assert info.mimetype == "application/json"
    assert set(info.get_json()) == {
        "sub",
        "acr",
        "auth_time",
        "kvk_number",
        "mandate",
        "eherkenning_service_id",
        "acting_subject",
    }


def test_the_released_view_of_broker_v1_is_the_scope_filter(registry: Registry) -> None:
    claims = sign_in_claims(
        Admitted(identity(company_name="Trade name"), MandateKind.OWN_COMPANY, None), "ind-portal", b"salt"
    )
    view = released_for(registry.client("ind-portal"), claims, ["openid", "kvk"], TEST_BASE_URL)
    assert view == {
        "sub": claims["sub"],
        "acr": LOA + "loa3",
        "auth_time": claims["auth_time"],
        "kvk_number": "12345678",
    }


# --- tokens -----------------------------------------------------------------------------------------


def test_an_nlgov_id_token_has_nbf_a_jti_five_minutes_and_no_amr(client: FlaskClient) -> None:
    portal = nlgov_portal(client)
    claims = portal.verify(signed_in(portal)["id_token"])
    assert claims["nbf"] == claims["iat"]
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert len(claims["jti"]) >= 22  # 128 random bits
    assert "amr" not in claims
    other = nlgov_portal(client)
    assert other.verify(signed_in(other)["id_token"])["jti"] != claims["jti"]


def test_an_nlgov_client_gets_rfc_9068_access_tokens_by_default(client: FlaskClient) -> None:
    portal = nlgov_portal(client)
    tokens = signed_in(portal)
    keys = KeySet.import_key_set(client.get("/oidc/jwks").get_json())
    access = jwt.decode(tokens["access_token"], keys, algorithms=["RS256"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["client_id"] == "nlgov-portal"
    assert access.claims["acr"] == EIDAS + "substantial"  # the client's acr format


def test_userinfo_is_a_signed_jwt_when_the_client_registered_an_algorithm(client: FlaskClient) -> None:
    portal = nlgov_portal(client)
    tokens = signed_in(portal, mandate="representative")
    id_token = portal.verify(tokens["id_token"])
    answer = portal.userinfo(tokens["access_token"])
    assert answer.status_code == 200
    assert answer.mimetype == "application/jwt"
    keys = KeySet.import_key_set(client.get("/oidc/jwks").get_json())
    info = jwt.decode(answer.get_data(as_text=True), keys, algorithms=["RS256"])
    assert info.header["alg"] == "RS256"
    assert info.claims["iss"] == TEST_BASE_URL
    assert info.claims["aud"] == "nlgov-portal"
    assert info.claims["sub"] == id_token["sub"]
    assert info.claims["represents"] == id_token["represents"]
    assert info.claims["acr"] == EIDAS + "substantial"


def test_id_token_and_userinfo_are_encrypted_to_the_client_that_asks(client: FlaskClient) -> None:
    portal = Portal(client, "nlgov-sealed", "private_key_jwt")
    tokens = signed_in(portal, loa="loa3")
    sealed = jwe.decrypt_compact(tokens["id_token"], ENCRYPTION_KEY, algorithms=["RSA-OAEP-256", "A256GCM"])
    assert sealed.protected == {
        "alg": "RSA-OAEP-256",
        "enc": "A256GCM",
        "cty": "JWT",
        "kid": "portal-enc-rsa",
    }
    claims = portal.verify(sealed.plaintext.decode("ascii"))
    assert claims["represents"]["sub"] == "12345678"
    assert claims["acr"] == LOA + "loa3"  # acr_format eherkenning, the default

    answer = portal.userinfo(tokens["access_token"])
    assert answer.mimetype == "application/jwt"
    opened = jwe.decrypt_compact(
        answer.get_data(as_text=True), EC_ENCRYPTION_KEY, algorithms=["ECDH-ES", "A256GCM"]
    )
    assert opened.protected["alg"] == "ECDH-ES"
    keys = KeySet.import_key_set(client.get("/oidc/jwks").get_json())
    info = jwt.decode(opened.plaintext, keys, algorithms=["ES256"])
    assert info.header["alg"] == "ES256"
    assert (info.claims["aud"], info.claims["sub"]) == ("nlgov-sealed", claims["sub"])


# --- acr: eHerkenning or eIDAS, in the claim and in acr_values ---------------------------------------


@pytest.mark.parametrize(
    ("level", "eidas"),
    [("loa2", "low"), ("loa2plus", "low"), ("loa3", "substantial"), ("loa4", "high")],
)
def test_each_level_reads_as_the_eidas_level_it_meets(level: str, eidas: str) -> None:
    assert acr_claim(LOA + level, "eidas") == EIDAS + eidas
    assert acr_claim(LOA + level, "eherkenning") == LOA + level


@pytest.mark.parametrize(
    ("uri", "level"),
    [
        (EIDAS + "low", LevelOfAssurance.LOA2),
        (EIDAS + "substantial", LevelOfAssurance.LOA3),
        (EIDAS + "high", LevelOfAssurance.LOA4),
        (LOA + "loa2plus", LevelOfAssurance.LOA2PLUS),
        (EIDAS + "medium", None),
        ("urn:example:unknown", None),
    ],
)
def test_acr_values_in_either_form_ask_for_an_eherkenning_level(
    uri: str, level: LevelOfAssurance | None
) -> None:
    assert requested_level(uri) is level


@pytest.mark.parametrize("client_id", ["nlgov-portal", "ind-portal"])
def test_an_eidas_level_above_the_service_is_refused_before_the_user_signs_in(
    client: FlaskClient, client_id: str
) -> None:
    portal = Portal(
        client, client_id, "private_key_jwt" if client_id.startswith("nlgov") else "client_secret_basic"
    )
    params = redirect_parameters(portal.authorize(acr_values=EIDAS + "high"))
    assert params["error"] == "invalid_request"
    assert LOA + "loa3" in params["error_description"]


@pytest.mark.parametrize(
    "acr_values", [EIDAS + "substantial", EIDAS + "low", f"{EIDAS}high {EIDAS}substantial"]
)
def test_an_eidas_level_the_service_meets_is_accepted(client: FlaskClient, acr_values: str) -> None:
    portal = nlgov_portal(client)
    claims = portal.verify(signed_in(portal, extra={"acr_values": acr_values})["id_token"])
    assert claims["acr"] == EIDAS + "substantial"


# --- the client fields ------------------------------------------------------------------------------


def client_entry(**fields: Any) -> dict[str, Any]:
    return {
        "client_id": "portal",
        "service": "omgevingsloket",
        "redirect_uris": [REDIRECT],
        "secret": "x" * 32,
    } | fields


def load(tmp_path: Path, registry: Registry, **fields: Any) -> Any:
    (client,) = load_clients(
        tmp_path / "broker.yaml", {"clients": [client_entry(**fields)]}, registry.services, {}, False
    )
    return client


RSA_ENC = ENCRYPTION_KEY.as_dict(private=False)


def test_the_defaults_are_broker_v1_as_before(tmp_path: Path, registry: Registry) -> None:
    client = load(tmp_path, registry)
    assert (client.claims_profile, client.acr_format, client.access_token_format) == (
        "broker-v1",
        "eherkenning",
        "opaque",
    )
    assert client.userinfo_signed_response_alg is None
    assert client.id_token_encryption is None
    nlgov = {"claims_profile": "nlgov-v1", "secret": None, "jwks": {"keys": [RSA_ENC]}}
    assert load_nlgov(tmp_path, registry, **nlgov).access_token_format == "jwt"
    assert (
        load_nlgov(tmp_path, registry, **nlgov, access_token_format="opaque").access_token_format == "opaque"
    )
    # Under nlgov-v1 a client authenticates with its key unless it says otherwise.
    assert load_nlgov(tmp_path, registry, **nlgov).token_endpoint_auth_method == "private_key_jwt"


def load_nlgov(tmp_path: Path, registry: Registry, **fields: Any) -> Any:
    """A client entry without the secret `client_entry` gives every client."""
    entry = {name: value for name, value in client_entry(**fields).items() if value is not None}
    (client,) = load_clients(tmp_path / "broker.yaml", {"clients": [entry]}, registry.services, {}, False)
    return client


def test_encryption_takes_a_key_beside_a_secret(tmp_path: Path, registry: Registry) -> None:
    client = load(tmp_path, registry, jwks={"keys": [RSA_ENC]}, id_token_encrypted_response_alg="RSA-OAEP")
    assert (client.id_token_encryption.alg, client.id_token_encryption.enc) == ("RSA-OAEP", "A256GCM")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"claims_profile": "nlgov-v2"}, "field 'claims_profile' must be one of broker-v1, nlgov-v1"),
        ({"acr_format": "loa"}, "field 'acr_format' must be one of eherkenning, eidas"),
        (
            {"userinfo_signed_response_alg": "none"},
            "field 'userinfo_signed_response_alg' must be one of RS256, ES256",
        ),
        ({"userinfo_signed_response_alg": "HS256"}, "field 'userinfo_signed_response_alg' must be one of"),
        (
            {"jwks": {"keys": [RSA_ENC]}, "userinfo_encrypted_response_alg": "RSA-OAEP-256"},
            "field 'userinfo_encrypted_response_alg' needs userinfo_signed_response_alg",
        ),
        ({"id_token_encrypted_response_enc": "A256GCM"}, "field 'id_token_encrypted_response_enc' needs"),
        (
            {"jwks": {"keys": [RSA_ENC]}, "id_token_encrypted_response_alg": "RSA1_5"},
            "field 'id_token_encrypted_response_alg' must be one of RSA-OAEP-256, RSA-OAEP, ECDH-ES",
        ),
        (
            {
                "jwks": {"keys": [RSA_ENC]},
                "id_token_encrypted_response_alg": "RSA-OAEP",
                "id_token_encrypted_response_enc": "A128CBC-HS256",
            },
            "field 'id_token_encrypted_response_enc' must be one of A256GCM",
        ),
        (
            {"jwks": {"keys": [RSA_ENC]}, "id_token_encrypted_response_alg": "ECDH-ES"},
            "field 'jwks' holds no key to encrypt to with ECDH-ES",
        ),
        (
            {"jwks": {"keys": [RSA_ENC | {"use": "sig"}]}, "id_token_encrypted_response_alg": "RSA-OAEP"},
            "field 'jwks' holds no key to encrypt to with RSA-OAEP",
        ),
        (
            {"jwks": {"keys": [{"kty": "RSA", "n": "abc"}]}, "id_token_encrypted_response_alg": "RSA-OAEP"},
            "field 'jwks' holds a key for RSA-OAEP that cannot be read",
        ),
        (
            {"token_endpoint_auth_method": "none", "secret": None, "jwks": {"keys": [RSA_ENC]}},
            "field 'jwks' does not go with token_endpoint_auth_method none",
        ),
        # The profile's clients authenticate with keys: a secret method is refused, by name.
        (
            {"claims_profile": "nlgov-v1", "token_endpoint_auth_method": "client_secret_basic"},
            "field 'token_endpoint_auth_method' client_secret_basic is for broker-v1 clients",
        ),
        (
            {"claims_profile": "nlgov-v1"},
            "field 'secret' does not go with token_endpoint_auth_method private_key_jwt",
        ),
        (
            {"claims_profile": "nlgov-v1", "token_endpoint_auth_method": "client_secret_post"},
            "field 'token_endpoint_auth_method' client_secret_post is for broker-v1 clients",
        ),
        # A name in both languages, or one name: never half of the pair.
        ({"name": {"nl": "Portaal"}}, "field 'name' must be one name, or give both 'nl' and 'en'"),
        ({"name": {"nl": "Portaal", "en": " "}}, "field 'name' must be one name, or give both 'nl' and 'en'"),
        ({"name": {"nl": "P", "en": "P", "de": "P"}}, "field 'name' must be one name, or give both"),
    ],
)
def test_a_client_field_out_of_place_is_refused(
    tmp_path: Path, registry: Registry, fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_nlgov(tmp_path, registry, **fields)
