"""A client that signs in for several services: the request chooses one (a `service:<slug>` scope,
`acr_values` in order of preference, else the lowest), the HM is asked for that one, and the
answer, the refusal, the audit trail and the ID token are of that one.

`multi-portal` (tests/clients.py) lists ind-portaal-zakelijk (EH3, index 1), omgevingsloket (EH2+,
index 2), own-company-only (EH3, index 3, own company only) and establishment-required (EH2+,
index 4, an establishment with every sign-in), in that order.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from lxml import etree

from broker import create_app
from broker.extensions import db
from broker.models.establishment import PendingChoice
from broker.models.saml import SamlRequest
from broker.oidc.authorization import SERVICE, StoredAuthorizationRequest, kept
from config import ConfigError, Registry, load_settings
from config.clients import load_clients
from tests.clients import REDIRECT, SECRET
from tests.conftest import MovableClock, broker_environ
from tests.oidc.portal import Portal, redirect_parameters
from tests.oidc.test_establishment_signin import SEVERAL, THIRD, answer_picker, kvk_calls  # noqa: F401 (a fixture)
from tests.oidc.test_refusal_page import latest, page_reference, record
from tests.web.browser import forms

EH = "urn:etoegang:core:assurance-class:"
EIDAS = "http://eidas.europa.eu/LoA/"
IND, OLO, OWN, EST = "ind-portaal-zakelijk", "omgevingsloket", "own-company-only", "establishment-required"
INDEX = {IND: 1, OLO: 2, OWN: 3, EST: 4}
LEVEL = {IND: "loa3", OLO: "loa2plus", OWN: "loa3", EST: "loa2plus"}
SCOPE = "openid kvk mandate acting_subject"


def hm_request(app: Flask, hand_off: Any) -> tuple[int, str]:
    """The AttributeConsumingServiceIndex of the AuthnRequest handed off, and the level its answer
    must reach (the catalogue fixes a service's level: the request itself names none)."""
    assert hand_off.status_code == 200, hand_off.get_data(as_text=True)
    (form,) = forms(hand_off)
    request = etree.fromstring(base64.b64decode(form.fields["SAMLRequest"]))
    with app.app_context():
        level = db.session.get(SamlRequest, request.get("ID")).minimum_level
        db.session.remove()
    return int(request.get("AttributeConsumingServiceIndex")), level


def asked_for(app: Flask, portal: Portal, scope: str = SCOPE, **extra: str) -> str:
    """The service the HM is asked for, by its index and level, for an authorization request."""
    index, level = hm_request(app, portal.authorize(scope, **extra))
    (service,) = [slug for slug, n in INDEX.items() if n == index]
    assert level == LEVEL[service]
    return service


def id_token(portal: Portal, scope: str = SCOPE, **choices: str) -> dict[str, Any]:
    params = redirect_parameters(portal.sign_in(scope, **choices))
    answer = portal.token(params["code"])
    assert answer.status_code == 200, answer.get_json()
    return portal.verify(answer.get_json()["id_token"])


# --- choosing ------------------------------------------------------------------------------------


def test_without_acr_values_or_a_service_scope_the_lowest_service(client: FlaskClient, app: Flask) -> None:
    # Listed second, but the lowest level.
    assert asked_for(app, Portal(client, "multi-portal")) == OLO


@pytest.mark.parametrize(
    ("acr_values", "service"),
    [
        (EH + "loa3", IND),
        (EH + "loa2plus", OLO),
        # Lower than any service: the lowest meets it.
        (EH + "loa2", OLO),
        (EIDAS + "substantial", IND),
        (EIDAS + "low", OLO),
        # In order of preference: the first value a service meets decides.
        (f"{EH}loa3 {EH}loa2plus", IND),
        (f"{EH}loa2plus {EH}loa3", OLO),
        (f"{EIDAS}high {EH}loa3", IND),
        (f"{EH}loa4 {EIDAS}low", OLO),
        # No level of either kind: ignored, as if absent.
        ("urn:example:unknown", OLO),
        (f"urn:example:unknown {EIDAS}substantial", IND),
    ],
)
def test_acr_values_choose_the_lowest_service_meeting_the_first_level_one_can(
    client: FlaskClient, app: Flask, acr_values: str, service: str
) -> None:
    assert asked_for(app, Portal(client, "multi-portal"), acr_values=acr_values) == service


@pytest.mark.parametrize(
    ("scope", "acr_values", "service"),
    [
        (f"{SCOPE} service:{OWN}", None, OWN),
        (f"service:{IND} {SCOPE}", None, IND),
        (f"{SCOPE} service:{OLO}", EH + "loa2", OLO),
        (f"{SCOPE} service:{OWN}", EIDAS + "substantial", OWN),
    ],
)
def test_a_service_scope_names_the_service(
    client: FlaskClient, app: Flask, scope: str, acr_values: str | None, service: str
) -> None:
    extra = {} if acr_values is None else {"acr_values": acr_values}
    assert asked_for(app, Portal(client, "multi-portal"), scope, **extra) == service


@pytest.mark.parametrize(
    ("acr_values", "offered"),
    [
        (EH + "loa4", f"({EH}loa2plus {EH}loa3)"),
        (EIDAS + "high", f"({EH}loa2plus {EH}loa3)"),
        (f"{EIDAS}high {EH}loa4", f"({EH}loa2plus {EH}loa3)"),
    ],
)
def test_acr_values_no_service_meets_are_refused_before_the_user_signs_in(
    client: FlaskClient, acr_values: str, offered: str
) -> None:
    portal = Portal(client, "multi-portal")
    params = redirect_parameters(portal.authorize(acr_values=acr_values))
    assert params["error"] == "invalid_request"
    assert (
        params["error_description"] == f"acr_values asks for more than this client's services offer {offered}"
    )
    assert params["state"] == portal.state


@pytest.mark.parametrize(
    ("scope", "acr_values", "error", "description"),
    [
        (
            f"{SCOPE} service:{OLO}",
            EH + "loa3",
            "invalid_request",
            f"acr_values asks for more than the service the scope names offers ({EH}loa2plus)",
        ),
        (
            f"{SCOPE} service:ind-sponsors",
            None,
            "invalid_scope",
            "scope names a service this client does not sign in for",
        ),
        (
            f"{SCOPE} service:nothing",
            None,
            "invalid_scope",
            "scope names a service this client does not sign in for",
        ),
        (f"{SCOPE} service:{OLO} service:{IND}", None, "invalid_scope", "scope names more than one service"),
    ],
)
def test_a_service_scope_the_request_cannot_have_is_refused(
    client: FlaskClient, scope: str, acr_values: str | None, error: str, description: str
) -> None:
    portal = Portal(client, "multi-portal")
    extra = {} if acr_values is None else {"acr_values": acr_values}
    params = redirect_parameters(portal.authorize(scope, **extra))
    assert (params["error"], params["error_description"]) == (error, description)


def test_a_client_of_one_service_may_name_it_and_no_other(client: FlaskClient, app: Flask) -> None:
    assert hm_request(app, Portal(client, "ind-portal").authorize(f"{SCOPE} service:{IND}")) == (1, "loa3")
    params = redirect_parameters(Portal(client, "ind-portal").authorize(f"{SCOPE} service:{OLO}"))
    assert params["error"] == "invalid_scope"


# --- the chosen service throughout ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "service"),
    [({}, OLO), ({"acr_values": EH + "loa3"}, IND), ({"acr_values": EIDAS + "substantial"}, IND)],
)
def test_the_answer_is_of_the_chosen_service(
    client: FlaskClient, extra: dict[str, str], service: str
) -> None:
    """The HM answers for the service asked (its ServiceID), at its level: the ID token says both;
    the service scope itself is no scope the tokens carry."""
    portal = Portal(client, "multi-portal")
    claims = id_token(portal, extra=extra, loa=LEVEL[service], kvk="24444001")
    assert claims["acr"] == EH + LEVEL[service]
    assert claims["eherkenning_service_id"].endswith(f":services:{INDEX[service]}")


def test_the_token_carries_no_service_scope(client: FlaskClient) -> None:
    portal = Portal(client, "multi-portal")
    params = redirect_parameters(portal.sign_in(f"{SCOPE} service:{IND}", loa="loa3"))
    answer = portal.token(params["code"]).get_json()
    assert answer["scope"].split() == SCOPE.split()
    assert portal.verify(answer["id_token"])["eherkenning_service_id"].endswith(":services:1")


def test_the_chosen_services_policy_decides(client: FlaskClient, app: Flask) -> None:
    """own-company-only admits no representative; ind-portaal-zakelijk, at the same level, does."""
    representative = {
        "mandate": "representative",
        "intermediary": "87654321",
        "kvk": "24444001",
        "loa": "loa3",
    }
    admitted = Portal(client, "multi-portal").sign_in(f"{SCOPE} service:{IND}", **representative)
    assert "code" in redirect_parameters(admitted)
    page = Portal(client, "multi-portal").sign_in(f"{SCOPE} service:{OWN}", **representative)
    assert redirect_parameters(page)["error_description"].startswith("mandate_not_admitted: ")
    found = record(app, page_reference(html.unescape(page.get_data(as_text=True))))
    assert (found["client_id"], found["service"], found["reason"]) == (
        "multi-portal",
        OWN,
        "mandate_not_admitted",
    )


@pytest.mark.parametrize(
    ("extra", "label", "service"), [({}, "EH2+", OLO), ({"acr_values": EH + "loa3"}, "EH3", IND)]
)
def test_a_level_too_low_is_refused_at_the_chosen_services_level(
    client: FlaskClient, app: Flask, extra: dict[str, str], label: str, service: str
) -> None:
    portal = Portal(client, "multi-portal")
    page = portal.sign_in(extra={"ui_locales": "en", **extra}, loa="loa2", kvk="24444001")
    assert page.status_code == 403
    text = html.unescape(page.get_data(as_text=True))
    assert f"This service needs eHerkenning level {label} or higher" in text
    found = record(app, page_reference(text))
    assert (found["service"], found["reason"]) == (service, "loa_too_low")


def test_an_admission_is_recorded_for_the_chosen_service(client: FlaskClient, app: Flask) -> None:
    portal = Portal(client, "multi-portal")
    answer = portal.sign_in(extra={"acr_values": EH + "loa3"}, loa="loa3", kvk="24444001")
    assert "code" in redirect_parameters(answer)
    found = latest(app)
    assert (found["client_id"], found["service"], found["outcome"]) == ("multi-portal", IND, "admitted")


# --- kept across the HM round trip ---------------------------------------------------------------


def test_the_choice_is_kept_with_the_request_not_made_again() -> None:
    parameters = {"client_id": "multi-portal", "acr_values": EH + "loa2", "ui_locales": "en"}
    stored = kept(parameters | {SERVICE: OLO}, IND)
    assert stored[SERVICE] == IND
    request = StoredAuthorizationRequest("https://broker.test/oidc/authorize", stored)
    assert request.service_slug == IND
    assert SERVICE not in request.payload.data
    assert request.stored() == stored


@pytest.mark.usefixtures("kvk_calls")
def test_the_choice_is_kept_through_the_establishment_picker(client: FlaskClient, app: Flask) -> None:
    """The picker keeps the authorization request a while longer: with the service it is for."""
    portal = Portal(client, "multi-portal")
    page = portal.sign_in(f"{SCOPE} service:{EST}", kvk=SEVERAL)
    assert page.status_code == 200, page.get_data(as_text=True)[-1500:]
    (form,) = forms(page)
    with app.app_context():
        assert db.session.get(PendingChoice, form.fields["choice"]).parameters[SERVICE] == EST
        db.session.remove()
    params = redirect_parameters(answer_picker(client, page, "pick", establishment=THIRD))
    answer = portal.token(params["code"])
    assert answer.status_code == 200, answer.get_json()
    claims = portal.verify(answer.get_json()["id_token"])
    assert (claims["establishment_number"], claims["eherkenning_service_id"][-11:]) == (THIRD, ":services:4")
    found = latest(app)
    assert (found["service"], found["establishment"]["number"]) == (EST, THIRD)


def test_a_service_taken_from_the_client_during_the_sign_in_ends_it_with_an_error(
    tmp_path: Path, clock: MovableClock
) -> None:
    # An app of its own: its configuration file is changed.
    app = create_app(load_settings(broker_environ(tmp_path)), clock)
    with app.app_context():
        upgrade()
    client = app.test_client()
    portal = Portal(client, "multi-portal")
    at_hm = portal.at_hm(portal.authorize(acr_values=EH + "loa3"), loa="loa3", kvk="24444001")
    runner = app.test_cli_runner()
    changed = runner.invoke(
        args=["clients", "set-services", "multi-portal", "--service", OLO, "--service", OWN]
    )
    assert changed.exit_code == 0, changed.output
    params = redirect_parameters(portal.back_at_broker(at_hm))
    assert params["error"] == "invalid_request"
    assert "no longer one the client signs in for" in params["error_description"]


# --- configuration -------------------------------------------------------------------------------


def entry(**fields: Any) -> dict[str, Any]:
    return {"client_id": "portal", "redirect_uris": [REDIRECT], "secret": SECRET} | fields


def load(tmp_path: Path, registry: Registry, **fields: Any) -> Any:
    (client,) = load_clients(
        tmp_path / "broker.yaml", {"clients": [entry(**fields)]}, registry.services, {}, False
    )
    return client


def test_services_lists_them_and_service_is_the_one_element_case(tmp_path: Path, registry: Registry) -> None:
    assert load(tmp_path, registry, services=[IND, OLO]).services == (IND, OLO)
    assert load(tmp_path, registry, service=OLO).services == (OLO,)
    assert load(tmp_path, registry, services=[OLO]).services == (OLO,)


def test_the_registry_gives_a_clients_services_lowest_first(registry: Registry) -> None:
    multi = registry.client("multi-portal")
    assert [service.slug for service in registry.services_of(multi)] == [OLO, EST, IND, OWN]
    assert registry.offered_levels() == ("loa2plus", "loa3")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({}, "clients[0] (portal): field 'services' is missing"),
        (
            {"services": [IND, "nope"]},
            "clients[0] (portal): field 'services' names 'nope', no configured service",
        ),
        ({"service": "nope"}, "clients[0] (portal): field 'service' names 'nope', no configured service"),
        ({"services": [IND, OLO, IND]}, f"clients[0] (portal): field 'services' names {IND} more than once"),
        ({"services": []}, "clients[0] (portal): field 'services' must list one or more services"),
        ({"services": IND}, "clients[0] (portal): field 'services' must list one or more services"),
        ({"service": [IND]}, "clients[0] (portal): field 'service' must name a service"),
        (
            {"service": IND, "services": [OLO]},
            "clients[0] (portal): field 'services' and 'service' are both given",
        ),
    ],
)
def test_a_bad_services_field_is_named(
    tmp_path: Path, registry: Registry, fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, registry, **fields)
    assert named in str(refused.value)
