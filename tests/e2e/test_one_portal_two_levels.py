"""One portal signing in for two services, at EH2+ and at EH4, end to end over real HTTP: the
discovery document offers both levels, the portal's `acr_values` (or a scope naming the service)
chooses the service the HM is asked for, and the ID token says the level and service of that one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.conftest import migrated_broker
from tests.e2e.server import free_port, serving
from tests.e2e.test_scenarios import SECRET, Portal

EH = "urn:etoegang:core:assurance-class:"
EIDAS = "http://eidas.europa.eu/LoA/"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    instance = tmp_path_factory.mktemp("several-services")
    app = migrated_broker(
        instance,
        base,
        f"""
services:
  - slug: permits
    uuid: 2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02
    index: 1
    minimum_loa: loa2plus
    name: {{nl: Vergunningen, en: Permits}}
  - slug: permits-signing
    uuid: 5d0c8e3a-1b2f-4c6d-9e7a-8f9b0c1d2e04
    index: 2
    minimum_loa: loa4
    name: {{nl: Vergunningen ondertekenen, en: Signing permits}}
clients:
  - client_id: permits-portal
    name: Vergunningenportaal
    services: [permits-signing, permits]
    redirect_uris: [{base}/portal/callback]
    secret: {SECRET}
""",
    )
    with serving(app, port):
        yield base


def test_discovery_offers_the_two_levels_in_both_forms(base_url: str) -> None:
    document = requests.get(f"{base_url}/.well-known/openid-configuration", timeout=10).json()
    assert document["acr_values_supported"] == [EH + "loa2plus", EH + "loa4", EIDAS + "low", EIDAS + "high"]


@pytest.mark.parametrize(
    ("extra", "level", "index"),
    [
        ({}, "loa2plus", 1),
        ({"acr_values": EH + "loa4"}, "loa4", 2),
        ({"acr_values": EIDAS + "high"}, "loa4", 2),
        ({"acr_values": EIDAS + "low"}, "loa2plus", 1),
        ({"scope": "openid kvk mandate service:permits-signing"}, "loa4", 2),
    ],
)
def test_the_portal_signs_in_at_the_level_it_asks_for(
    base_url: str, extra: dict[str, str], level: str, index: int
) -> None:
    portal = Portal(base_url, "permits-portal", extra=extra)
    claims = portal.claims(portal.sign_in(loa=level, kvk="24444001"))
    assert claims["acr"] == EH + level
    assert claims["eherkenning_service_id"].endswith(f":services:{index}")


def test_eh2_plus_is_too_low_for_the_service_at_eh4(base_url: str) -> None:
    portal = Portal(base_url, "permits-portal", extra={"acr_values": EH + "loa4"})
    page = portal.sign_in(loa="loa2plus", kvk="24444001")
    assert page.status_code == 403
    assert "EH4" in page.text
    assert portal.answer(page)["error_description"].startswith("loa_too_low: ")
