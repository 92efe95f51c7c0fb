"""The `claims` authorization request parameter (OpenID Connect Core §5.5; the NL GOV Assurance
profile's UserInfo.md: MUST support): in the query, a request object or a pushed request, a claim
released in the ID token or at userinfo where asked, within what the client's entry allows; an
`acr` request choosing the service as `acr_values` does; anything malformed refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jws, jwt
from joserfc.jwk import KeySet

from broker.oidc.claims_request import ClaimsRequest, ClaimsRequestError, parse
from tests.clients import PORTAL_KEY
from tests.oidc.portal import Portal, redirect_parameters
from tests.oidc.test_establishment_signin import SEVERAL, THIRD, answer_picker
from tests.oidc.test_par import authorize as authorize_pushed
from tests.oidc.test_par import pushed_uri
from tests.oidc.test_request_object import authorize as authorize_by_object
from tests.oidc.test_request_object import parameters, request_claims, signed, signed_in
from tests.oidc.test_several_services import EH, EIDAS, IND, OLO, SCOPE, asked_for

COMPANY = {"kvk": "24444001"}


def claims(**places: dict[str, Any]) -> str:
    return json.dumps(places)


def released(
    portal: Portal, scope: str, requested: str, **choices: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A whole sign-in asking for `requested`: the ID token's claims and the userinfo answer's."""
    params = redirect_parameters(portal.sign_in(scope, {"claims": requested}, **(COMPANY | choices)))
    assert "code" in params, params
    answer = portal.token(params["code"])
    assert answer.status_code == 200, answer.get_json()
    tokens = answer.get_json()
    userinfo = portal.userinfo(tokens["access_token"])
    assert userinfo.status_code == 200, userinfo.get_data(as_text=True)
    if userinfo.mimetype == "application/jwt":
        keys = KeySet.import_key_set(portal.client.get("/oidc/jwks").get_json())
        answered = dict(jwt.decode(userinfo.get_data(as_text=True), keys, algorithms=["RS256"]).claims)
    else:
        answered = userinfo.get_json()
    return portal.verify(tokens["id_token"]), answered


def test_discovery_says_the_claims_parameter_is_supported(client: FlaskClient) -> None:
    assert client.get("/.well-known/openid-configuration").get_json()["claims_parameter_supported"] is True


# --- released where asked, within what the client may have -----------------------------------------


def test_a_claim_outside_the_scopes_is_released_where_asked(client: FlaskClient) -> None:
    # olo-public's entry allows openid and kvk; the request's scope is openid only.
    requested = claims(id_token={"kvk_number": None}, userinfo={"establishment_number": None})
    id_token, userinfo = released(Portal(client, "olo-public", "none"), "openid", requested)
    assert id_token["kvk_number"] == "24444001"
    assert "kvk_number" not in userinfo
    assert "establishment_number" not in id_token


def test_a_claim_asked_for_at_userinfo_is_released_there_only(client: FlaskClient) -> None:
    requested = claims(userinfo={"kvk_number": {"essential": True}})
    id_token, userinfo = released(Portal(client, "olo-public", "none"), "openid", requested)
    assert userinfo["kvk_number"] == "24444001"
    assert "kvk_number" not in id_token
    # What the scopes release is there as ever.
    assert {"sub", "acr", "auth_time"} <= set(userinfo)


def test_without_claims_a_client_gets_what_its_scopes_release(client: FlaskClient) -> None:
    id_token, userinfo = released(Portal(client, "olo-public", "none"), "openid", claims())
    assert "kvk_number" not in id_token
    assert "kvk_number" not in userinfo


def test_a_claim_the_clients_scopes_forbid_is_not_released(client: FlaskClient) -> None:
    # olo-public's entry allows no mandate nor acting_subject scope.
    requested = claims(
        id_token={"mandate": None, "acting_subject": {"essential": True}, "company_name": None},
        userinfo={"eherkenning_service_id": None, "no_such_claim": None},
    )
    id_token, userinfo = released(Portal(client, "olo-public", "none"), "openid kvk", requested)
    assert id_token["kvk_number"] == "24444001"
    assert not {"mandate", "acting_subject", "company_name"} & set(id_token)
    assert not {"eherkenning_service_id", "no_such_claim"} & set(userinfo)


def test_names_are_released_only_for_a_service_that_requested_them(client: FlaskClient) -> None:
    requested = claims(id_token={"given_name": None}, userinfo={"family_name": None})
    id_token, userinfo = released(Portal(client, "ind-named"), "openid", requested)
    assert id_token["given_name"] == "Jan"
    assert userinfo["family_name"] == "Jansen"
    assert "family_name" not in id_token
    assert "given_name" not in userinfo
    # ind-portal's service requests no names: asking for them releases nothing.
    id_token, userinfo = released(Portal(client, "ind-portal"), "openid", requested)
    assert "given_name" not in id_token
    assert "family_name" not in userinfo


def test_the_nlgov_claim_set_answers_by_its_own_names(client: FlaskClient) -> None:
    portal = Portal(client, "nlgov-portal", "private_key_jwt")
    requested = claims(id_token={"acting_subject": None, "kvk_number": None}, userinfo={"represents": None})
    id_token, userinfo = released(portal, "openid", requested)
    assert id_token["acting_subject"]
    assert "acting_subject" not in userinfo
    # broker-v1's name is no claim of nlgov-v1: the company is in represents, as ever.
    assert "kvk_number" not in id_token
    assert id_token["represents"]["sub"] == "24444001"
    assert "mandate" not in userinfo["represents"]


def test_a_requested_claim_is_kept_through_a_pushed_request(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    fields = parameters(portal, scope="openid", claims=claims(id_token={"kvk_number": None}))
    assert signed_in(portal, authorize_pushed(portal, pushed_uri(portal, fields)))["kvk_number"]


def test_a_requested_claim_is_kept_through_the_establishment_picker(client: FlaskClient) -> None:
    portal = Portal(client, "olo-establishment")
    requested = claims(id_token={"establishment_number": None}, userinfo={"kvk_number": None})
    page = portal.sign_in("openid", {"claims": requested}, kvk=SEVERAL)
    assert page.status_code == 200, page.get_data(as_text=True)[-1500:]
    params = redirect_parameters(answer_picker(client, page, "pick", establishment=THIRD))
    tokens = portal.token(params["code"]).get_json()
    assert portal.verify(tokens["id_token"])["establishment_number"] == THIRD
    assert portal.userinfo(tokens["access_token"]).get_json()["kvk_number"] == SEVERAL


# --- acr: as acr_values does ------------------------------------------------------------------------


def acr(essential: bool, *levels: str) -> str:
    request: dict[str, Any] = {"essential": essential}
    request |= {"value": levels[0]} if len(levels) == 1 else {"values": list(levels)}
    return claims(id_token={"acr": request})


@pytest.mark.parametrize(
    ("requested", "acr_values", "service"),
    [
        (acr(True, EH + "loa3"), None, IND),
        (acr(True, EIDAS + "low"), None, OLO),
        (acr(True, EH + "loa4", EIDAS + "substantial"), None, IND),
        # The essential acr governs acr_values.
        (acr(True, EH + "loa3"), EH + "loa2plus", IND),
        (acr(True, EH + "loa2plus"), EH + "loa3", OLO),
        # A voluntary one counts only without acr_values.
        (acr(False, EH + "loa3"), None, IND),
        (acr(False, EH + "loa3"), EH + "loa2plus", OLO),
        # Asked for in userinfo, the same.
        (claims(userinfo={"acr": {"essential": True, "value": EH + "loa3"}}), None, IND),
        # Without a level: no choice made.
        (claims(id_token={"acr": {"essential": True}}), None, OLO),
    ],
)
def test_an_acr_request_chooses_the_service(
    client: FlaskClient, app: Flask, requested: str, acr_values: str | None, service: str
) -> None:
    extra = {"claims": requested} | ({} if acr_values is None else {"acr_values": acr_values})
    assert asked_for(app, Portal(client, "multi-portal"), **extra) == service


def test_an_acr_no_service_meets_is_refused_before_the_user_signs_in(client: FlaskClient) -> None:
    portal = Portal(client, "multi-portal")
    params = redirect_parameters(
        portal.authorize(SCOPE, claims=acr(True, EH + "loa4"), acr_values=EH + "loa2")
    )
    assert params["error"] == "invalid_request"
    assert params["error_description"] == (
        f"the acr in claims asks for more than this client's services offer ({EH}loa2plus {EH}loa3)"
    )
    assert params["state"] == portal.state


def test_an_essential_acr_of_no_known_level_is_refused(client: FlaskClient) -> None:
    params = redirect_parameters(Portal(client, "multi-portal").authorize(claims=acr(True, "urn:example:x")))
    assert params["error"] == "invalid_request"
    assert (
        params["error_description"]
        == "the essential acr in claims names no level of assurance the broker knows"
    )


def test_the_id_token_is_at_the_level_the_acr_chose(client: FlaskClient) -> None:
    id_token, _ = released(Portal(client, "multi-portal"), SCOPE, acr(True, EH + "loa3"))
    assert id_token["acr"] == EH + "loa3"


# --- refused: malformed, a sub value, too long --------------------------------------------------------

SUB_REFUSED = "a sub value in claims is not supported: the subject is known only after the sign-in"

MALFORMED = [
    ("not json", "claims must be a JSON object"),
    ("[]", "claims must be a JSON object"),
    ('"id_token"', "claims must be a JSON object"),
    ("{", "claims must be a JSON object"),
    ('{"id_token": {"acr": NaN}}', "claims must be JSON: NaN and Infinity are no JSON values"),
    ('{"id_token": {}, "id_token": {}}', "claims names a member more than once"),
    (claims(access_token={}), "claims may hold only id_token and userinfo"),
    (claims(id_token=[]), "claims id_token must be a JSON object"),
    (claims(userinfo="x"), "claims userinfo must be a JSON object"),
    (
        claims(id_token={"kvk_number": True}),
        "each claim in claims id_token must be null or an object of essential, value or values",
    ),
    (
        claims(id_token={"kvk_number": {"optional": True}}),
        "each claim in claims id_token must be null or an object of essential, value or values",
    ),
    (
        claims(userinfo={"kvk_number": {"essential": "yes"}}),
        "essential in claims userinfo must be true or false",
    ),
    (claims(id_token={"kvk_number": {"values": "x"}}), "values in claims id_token must be a list"),
    (
        claims(id_token={"kvk_number": {"value": "x", "values": ["x"]}}),
        "a claim in claims id_token cannot have both value and values",
    ),
    (claims(id_token={"acr": {"value": 3}}), "the acr values in claims id_token must be strings"),
    (claims(id_token={"sub": {"value": "someone"}}), SUB_REFUSED),
    (claims(userinfo={"sub": {"essential": True, "values": ["a", "b"]}}), SUB_REFUSED),
    ("[" * 3000 + "]" * 3000, "claims is longer than 2048 characters"),
    (claims(userinfo={f"claim_{n}": None for n in range(200)}), "claims is longer than 2048 characters"),
]


@pytest.mark.parametrize(("value", "description"), MALFORMED)
def test_a_malformed_claims_parameter_is_refused(client: FlaskClient, value: str, description: str) -> None:
    portal = Portal(client, "ind-portal")
    params = redirect_parameters(portal.authorize(claims=value))
    assert params["error"] == "invalid_request"
    assert params["error_description"] == description
    assert params["state"] == portal.state


def test_deep_nesting_within_the_cap_is_refused_plainly() -> None:
    with pytest.raises(ClaimsRequestError, match="claims must be a JSON object"):
        parse('{"id_token": {"x": {"value": ' + "[" * 1000 + "]" * 1000 + "}}}")


def test_a_sub_without_a_value_is_no_request_for_a_subject() -> None:
    assert parse(claims(id_token={"sub": {"essential": True}})) == ClaimsRequest(id_token=("sub",))


# --- in a request object: a JSON object ------------------------------------------------------------------


def test_claims_in_a_request_object_are_a_json_object(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    object_claims = request_claims(portal, scope="openid", claims={"id_token": {"kvk_number": None}})
    assert signed_in(portal, authorize_by_object(portal, request=signed(object_claims)))["kvk_number"]


@pytest.mark.parametrize(
    ("value", "error", "description"),
    [
        (claims(id_token={"kvk_number": None}), "invalid_request_object", "claims must be a JSON object"),
        (["id_token"], "invalid_request_object", "claims must be a JSON object"),
        ({"id_token": {"sub": {"value": "x"}}}, "invalid_request", SUB_REFUSED),
        (
            {"id_token": {"acr": {"essential": 1}}},
            "invalid_request",
            "essential in claims id_token must be true or false",
        ),
    ],
)
def test_bad_claims_in_a_request_object_are_refused(
    client: FlaskClient, value: Any, error: str, description: str
) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    hand_off = authorize_by_object(
        portal, request=signed(request_claims(portal, claims=value)), redirect_uri=portal.redirect_uri
    )
    params = redirect_parameters(hand_off)
    assert (params["error"], params["error_description"]) == (error, description)


def test_a_request_object_nested_too_deep_to_read_is_refused(client: FlaskClient) -> None:
    portal = Portal(client, "olo-jwt", "private_key_jwt")
    payload = json.dumps(request_claims(portal))[:-1] + ', "claims": ' + "[" * 5000 + "]" * 5000 + "}"
    token = jws.serialize_compact({"alg": "RS256", "kid": PORTAL_KEY.kid}, payload, PORTAL_KEY)
    params = redirect_parameters(authorize_by_object(portal, request=token, redirect_uri=portal.redirect_uri))
    assert params["error"] == "invalid_request_object"
