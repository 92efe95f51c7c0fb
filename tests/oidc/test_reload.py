"""A running broker applies the CLI's changes to its configuration file without a restart.

Each test has an app of its own, since each changes its configuration file; the file is looked
at on every lookup (BROKER_CONFIG_CHECK_SECONDS=0 in the tests' environment).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import ANY

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from broker import create_app
from config import load_settings
from saml.xml import NS, parse
from tests.clients import REDIRECT
from tests.conftest import MovableClock, broker_environ
from tests.oidc.portal import Portal, redirect_parameters
from tests.web.browser import follow, forms, local

NEW_SERVICE = (
    "services add late-service --uuid 5d0c8e3a-1b2f-4c6d-9e7a-8f9b0c1d2e04 --index 7 --minimum-loa loa2"
    " --name-nl Nieuw --name-en New"
)


@pytest.fixture
def app(tmp_path: Path, clock: MovableClock) -> Iterator[Flask]:
    """A fresh app of its own (it overrides the session's): its configuration file is changed."""
    app = create_app(load_settings(broker_environ(tmp_path)), clock)
    with app.app_context():
        upgrade()
    yield app


def flask(app: Flask, command: str) -> str:
    """Run `flask <command>` against the app's environment, as an operator would beside it."""
    result = app.test_cli_runner().invoke(args=command.split())
    assert result.exit_code == 0, result.output
    return result.output


def config_file(app: Flask) -> Path:
    return app.extensions["broker"].settings.config.path


def test_a_client_added_by_the_cli_signs_in_without_a_restart(app: Flask, client: FlaskClient) -> None:
    output = flask(
        app,
        f"clients add late-portal --service omgevingsloket --redirect-uri {REDIRECT}"
        " --auth-method client_secret_post",
    )
    assert "apply it within 0 seconds" in output
    secret = re.search(r"keep it safe\): (\S+)", output).group(1)
    portal = Portal(client, "late-portal", "client_secret_post")
    params = redirect_parameters(portal.sign_in())
    tokens = portal.token(params["code"], client_secret=secret)
    assert tokens.status_code == 200, tokens.get_json()
    claims = portal.verify(tokens.get_json()["id_token"])
    assert claims["eherkenning_service_id"].endswith(":services:2")


def test_a_service_and_its_client_added_by_the_cli_sign_in_without_a_restart(
    app: Flask, client: FlaskClient
) -> None:
    flask(app, NEW_SERVICE)
    flask(app, f"clients add late-portal --service late-service --redirect-uri {REDIRECT} --auth-method none")
    portal = Portal(client, "late-portal", "none")
    tokens = portal.token(redirect_parameters(portal.sign_in(loa="loa2"))["code"])
    assert tokens.status_code == 200, tokens.get_json()
    claims = portal.verify(tokens.get_json()["id_token"])
    assert claims["acr"].endswith(":loa2")
    assert claims["eherkenning_service_id"].endswith(":services:7")
    assert claims["mandate"]["service_uuid"] == "5d0c8e3a-1b2f-4c6d-9e7a-8f9b0c1d2e04"


def test_a_removed_client_is_refused(app: Flask, client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    code = redirect_parameters(portal.sign_in())["code"]
    flask(app, "clients remove ind-portal")
    assert portal.token(code).get_json()["error"] == "invalid_client"
    page = Portal(client, "ind-portal").authorize()
    assert page.status_code == 400
    assert "(invalid_client)" in page.get_data(as_text=True)


def test_a_removed_client_s_tokens_stop_working(app: Flask, client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    tokens = portal.token(redirect_parameters(portal.sign_in())["code"]).get_json()
    assert portal.userinfo(tokens["access_token"]).status_code == 200
    flask(app, "clients remove ind-portal")
    refused = portal.userinfo(tokens["access_token"])
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_a_rotated_secret_replaces_the_old_one_at_once(app: Flask, client: FlaskClient) -> None:
    portal = Portal(client, "olo-post", "client_secret_post")
    code = redirect_parameters(portal.sign_in())["code"]
    secret = re.search(r"keep it safe\): (\S+)", flask(app, "clients rotate-secret olo-post")).group(1)
    assert portal.token(code).get_json()["error"] == "invalid_client"
    assert portal.token(code, client_secret=secret).status_code == 200


def test_a_sign_in_in_flight_survives_a_reload_that_keeps_its_client(app: Flask, client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    at_hm = portal.at_hm(portal.authorize())
    flask(app, f"clients add another-portal --service omgevingsloket --redirect-uri {REDIRECT}")
    params = redirect_parameters(portal.back_at_broker(at_hm))
    assert portal.token(params["code"]).status_code == 200


def test_a_sign_in_in_flight_whose_client_was_removed_gets_a_page(app: Flask, client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    at_hm = portal.at_hm(portal.authorize())
    flask(app, "clients remove ind-portal")
    back = portal.back_at_broker(at_hm)
    assert back.status_code == 400
    assert "Location" not in back.headers
    assert "(invalid_client)" in back.get_data(as_text=True)


def test_a_sign_in_in_flight_whose_service_was_removed_gets_a_page(app: Flask, client: FlaskClient) -> None:
    portal = Portal(client, "own-only")
    at_hm = portal.at_hm(portal.authorize())
    flask(app, "clients remove own-only")
    flask(app, "clients set-services multi-portal --service ind-portaal-zakelijk --service omgevingsloket")
    flask(app, "services remove own-company-only")
    back = portal.back_at_broker(at_hm)
    assert back.status_code == 400
    assert "Location" not in back.headers
    assert "This sign-in attempt has expired or was already used" in back.get_data(as_text=True)


def test_an_invalid_edit_is_logged_and_sign_ins_go_on(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    path = config_file(app)
    good = path.read_text()
    path.write_text(good.replace(f"redirect_uris: [{REDIRECT}]", "redirect_uris: [http://portal.test/cb]", 1))
    portal = Portal(client, "ind-portal")
    with caplog.at_level(logging.ERROR, logger="broker.config"):
        params = redirect_parameters(portal.sign_in())
    assert portal.token(params["code"]).status_code == 200
    assert f"{path}: clients[0] (ind-portal): field 'redirect_uris'" in caplog.text
    # Mended, the file applies again.
    path.write_text(good.replace("client_id: olo-public", "client_id: olo-open"))
    assert Portal(client, "olo-public", "none").authorize().status_code == 400


def test_metadata_and_test_login_list_a_new_service(app: Flask, client: FlaskClient) -> None:
    assert set(service_names(client)) == {1, 2, 3, 4, 5, 6, 31}
    flask(app, NEW_SERVICE)
    names = service_names(client)
    assert names == {1: "IND Portaal Zakelijk", 2: "Omgevingsloket"} | dict.fromkeys(
        (3, 4, 5, 6, 31), ANY
    ) | {7: "Nieuw"}
    assert "late-service" in client.get("/saml/test-login").get_data(as_text=True)
    # The simulator knows the service as the HM's catalogue would: it answers a request for it.
    (form,) = forms(client.get("/saml/test-login?service=late-service"))
    at_hm = client.post(f"{local(form.action)}?action=login&loa=loa2", data=form.fields)
    shown = follow(client, at_hm)
    assert shown.status_code == 200
    assert "Nieuw" in shown.get_data(as_text=True)  # the identity page, in Dutch by default


def service_names(client: FlaskClient) -> dict[int, str]:
    """The (first, Dutch) name of each AttributeConsumingService in our metadata, by index."""
    sp = parse(client.get("/saml/metadata").data).find("md:SPSSODescriptor", NS)
    return {
        int(element.get("index")): element.findtext("md:ServiceName", namespaces=NS)
        for element in sp.findall("md:AttributeConsumingService", NS)
    }
