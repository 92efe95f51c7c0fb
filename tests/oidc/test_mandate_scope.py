"""A mandate for all services opens this one; a mandate for another service does not (DOMAIN:
"A mandate for one service does not open another; an all services mandate does")."""

from __future__ import annotations

import html

from flask.testing import FlaskClient

from tests.oidc.portal import Portal, redirect_parameters
from tests.oidc.test_signin import signed_in


def test_a_mandate_for_all_services_is_admitted(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    tokens = signed_in(portal, mandate_for="all", kvk="24444001")
    claims = portal.verify(tokens["id_token"])
    assert claims["kvk_number"] == "24444001"
    # The HM names the service used, as under a mandate for this service alone.
    assert claims["eherkenning_service_id"].endswith(":services:1")
    assert claims["mandate"]["service_uuid"] == "6f1a3c55-8f0e-4b53-9b1b-0c2d2f9d1a01"


def test_a_representative_under_a_mandate_for_all_services_is_admitted(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    tokens = signed_in(portal, mandate_for="all", mandate="representative", intermediary="87654321")
    assert portal.verify(tokens["id_token"])["mandate"]["kind"] == "representative"


def test_a_mandate_for_another_service_is_refused(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    page = portal.sign_in(mandate_for="other", extra={"ui_locales": "en"})
    assert page.status_code == 403
    assert "Your authorisation in eHerkenning is for another service than this one." in html.unescape(
        page.get_data(as_text=True)
    )
    params = redirect_parameters(page)
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("service_mismatch: ")
