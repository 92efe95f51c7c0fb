"""ACS benchmark: how fast one typical eHerkenning response is validated, on one core.

The response comes from the built-in simulator's pure functions: an EncryptedAssertion whose
LegalSubjectID, ActingSubjectID and IntermediateEntityID are EncryptedIDs, a representative
mandate through an intermediary, an Advice block of two nested signed assertions, and the
Response and assertion both signed (HTTP-POST). Each timed call gets a freshly parsed document,
because decryption replaces the encrypted parts in the tree. Reusing one response is fine:
`validate_response` is pure, replay protection lives in the database (`broker.models.consume`).

Run from the repository root: `.venv/bin/python bench/acs.py` (or `make bench`).
"""

from __future__ import annotations

import base64
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

# Run as a script, only bench/ is on sys.path: the project's packages live in the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lxml import etree

from config import Binding, SamlSettings, Service
from config.dev_keys import generate_key_pair
from saml.authn_request import outgoing_request
from saml.hm_metadata import IdentityProvider, parse_metadata
from saml.loa import LevelOfAssurance
from saml.response import Expected, decode_post_response, validate_response
from saml.simulator import Mandate, Scenario, ServiceProvider, Shape, SimulatorHm, read_post_request, respond
from saml.xml import parse

SECONDS = 2.0
WARM_UP = 20
SERVICE = Service("portal", "3f2b6a3e-0d5c-4c8e-9f61-2a7d9b1e4c11", 1, "loa3", "Portaal", "Portal")
T = TypeVar("T")


def setup(now: datetime) -> tuple[SamlSettings, IdentityProvider, Expected, str]:
    """Our settings, the HM, what we expect, and the base64 `SAMLResponse` of a typical sign-in."""
    settings = SamlSettings(
        entity_id="https://broker.test/saml/metadata",
        oin="00000001234567890000",
        base_url="https://broker.test",
        acs_url="https://broker.test/saml/acs",
        key=generate_key_pair("broker.test SP"),
        hm_metadata=None,
        response_binding=Binding.POST,
    )
    hm = SimulatorHm(
        entity_id="https://broker.test/simulator/metadata",
        key=generate_key_pair("simulator HM"),
        sso_url="https://broker.test/simulator/sso",
        ars_url="https://broker.test/simulator/ars",
    )
    idp = parse_metadata(hm.metadata(now), now, (hm.key.cert_pem,))
    sp = ServiceProvider.from_settings(settings, (SERVICE,), now)
    request = read_post_request(outgoing_request(settings, idp, SERVICE, "relay", now).fields, hm, sp, now)
    scenario = Scenario(mandate=Mandate.REPRESENTATIVE, intermediary_kvk="87654321", advice=True)
    delivery = respond(hm, sp, request, scenario, now, Shape(encrypt_ids=True, encrypt_assertion=True))
    expected = Expected(request.id, SERVICE, LevelOfAssurance.LOA3, now)
    return settings, idp, expected, delivery.fields["SAMLResponse"]


def sample(prepare: Callable[[], T], run: Callable[[T], object], seconds: float) -> list[float]:
    """Seconds per `run` call, each on a fresh `prepare()` (untimed), for `seconds` after warm-up."""
    for _ in range(WARM_UP):
        run(prepare())
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        item = prepare()
        start = time.perf_counter()
        run(item)
        times.append(time.perf_counter() - start)
    return times


def row(name: str, times: list[float]) -> str:
    cuts = statistics.quantiles(times, n=100)
    ms = [1000 * value for value in (statistics.fmean(times), cuts[49], cuts[98])]
    return f"{name:<34} {len(times):>6} {len(times) / sum(times):>9.0f} " + " ".join(f"{v:>8.2f}" for v in ms)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    now = datetime.now(UTC)
    settings, idp, expected, encoded = setup(now)
    document = base64.b64decode(encoded)

    identity = validate_response(parse(document), settings, idp, expected, now).identity
    assert identity.kvk_number == "12345678" and identity.intermediary is not None, identity

    def validate(response: etree._Element) -> object:
        return validate_response(response, settings, idp, expected, now)

    def decode_and_validate(body: str) -> object:
        return validate(decode_post_response(body, settings.max_message_bytes))

    results = [
        ("validate_response (parsed element)", sample(lambda: parse(document), validate, SECONDS)),
        ("decode POST body + validate", sample(lambda: encoded, decode_and_validate, SECONDS)),
    ]
    print(f"Response: {len(document)} bytes XML, {len(encoded)} bytes base64; one core, {SECONDS:.0f} s each")
    print(f"{'':<34} {'runs':>6} {'per s':>9} {'mean ms':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, times in results:
        print(row(name, times))


if __name__ == "__main__":
    main()
