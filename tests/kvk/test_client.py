"""The KvK API client: shapes read strictly, every error code typed, no redirects, answers capped."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import responses

from broker.decide import RegisteredEstablishment
from broker.kvk import (
    KvkClient,
    KvkError,
    KvkFailure,
    parse_establishments,
    parse_profile,
    requests_transport,
    stand_in,
)

BASE = "https://api.kvk.test"
KVK = "12345678"
LIST_URL = f"{BASE}/api/v1/basisprofielen/{KVK}/vestigingen"
PROFILE_URL = f"{BASE}/api/v1/vestigingsprofielen/000012345678"
MAX_BYTES = 4096


def client() -> KvkClient:
    return KvkClient(BASE, "the-api-key", requests_transport(2, MAX_BYTES))


def establishments(kvk: KvkClient, kvk_number: str) -> tuple[RegisteredEstablishment, ...]:
    """What the broker reads of a company's establishments (`Handelsregister.establishments`)."""
    return parse_establishments(kvk.establishments_body(kvk_number), kvk_number)


def profile_of(kvk: KvkClient, number: str) -> RegisteredEstablishment:
    """What the broker reads of one establishment (`Handelsregister.profile`)."""
    return parse_profile(kvk.profile_body(number), number)


def listing(*vestigingen: dict) -> dict:
    return {"kvkNummer": KVK, "totaalAantalVestigingen": len(vestigingen), "vestigingen": list(vestigingen)}


VESTIGING = {
    "vestigingsnummer": "000012345678",
    "eersteHandelsnaam": "Bakkerij Van Dijk",
    "indHoofdvestiging": "Ja",
    "indCommercieleVestiging": "Ja",
    "volledigAdres": "Oudegracht 12 3511AB Utrecht",
}


def profile(**overrides: object) -> dict:
    return {
        "vestigingsnummer": "000012345678",
        "kvkNummer": KVK,
        "eersteHandelsnaam": "Bakkerij Van Dijk",
        "indHoofdvestiging": "Nee",
        "materieleRegistratie": {"datumAanvang": "20100101"},
        "adressen": [{"type": "bezoekadres", "volledigAdres": "Oudegracht 12 3511AB Utrecht"}],
    } | overrides


@responses.activate
def test_the_establishments_of_a_company_with_the_api_key() -> None:
    responses.get(LIST_URL, json=listing(VESTIGING, VESTIGING | {"vestigingsnummer": "000012345679"}))
    found = establishments(client(), KVK)
    assert found[0] == RegisteredEstablishment(
        "000012345678", KVK, "Bakkerij Van Dijk", True, "Oudegracht 12 3511AB Utrecht"
    )
    assert [e.number for e in found] == ["000012345678", "000012345679"]
    assert responses.calls[0].request.headers["apikey"] == "the-api-key"


@pytest.mark.parametrize(
    ("registration", "ended"),
    [
        ({"datumAanvang": "20100101"}, None),
        ({"datumAanvang": "20100101", "datumEinde": None}, None),
        ({"datumAanvang": "20100101", "datumEinde": "00000000"}, None),
        ({"datumAanvang": "20100101", "datumEinde": "20240630"}, date(2024, 6, 30)),
        ({"datumAanvang": "20100101", "datumEinde": "20240600"}, date(2024, 6, 1)),
        ({"datumAanvang": "20100101", "datumEinde": "20240000"}, date(2024, 1, 1)),
        ({"datumAanvang": "20100101", "datumEinde": "20991231"}, date(2099, 12, 31)),
    ],
    ids=["no-end", "null-end", "unknown-end", "ended", "ended-month-known", "ended-year-known", "to-come"],
)
@responses.activate
def test_the_end_date_is_read_the_earliest_it_can_mean(registration: dict, ended: date | None) -> None:
    responses.get(PROFILE_URL, json=profile(materieleRegistratie=registration))
    found = profile_of(client(), "000012345678")
    assert (found.ended, found.kvk_number, found.address) == (ended, KVK, "Oudegracht 12 3511AB Utrecht")


@pytest.mark.parametrize(
    ("status", "code", "failure"),
    [
        (400, "IPD0004", KvkFailure.INVALID_NUMBER),
        (404, "IPD0005", KvkFailure.NOT_FOUND),
        (404, "IPD0007", KvkFailure.NOT_FOUND),
        (500, "IPD1002", KvkFailure.UNAVAILABLE),
        (500, "IPD1003", KvkFailure.UNAVAILABLE),
        (503, None, KvkFailure.UNAVAILABLE),
        (429, None, KvkFailure.UNAVAILABLE),
        (401, None, KvkFailure.REJECTED),
        (404, None, KvkFailure.REJECTED),
    ],
)
@responses.activate
def test_error_answers_become_typed_errors(status: int, code: str | None, failure: KvkFailure) -> None:
    body = {"fout": [{"code": code, "omschrijving": "..."}]} if code else {}
    responses.get(LIST_URL, json=body, status=status)
    with pytest.raises(KvkError) as refused:
        establishments(client(), KVK)
    assert refused.value.failure is failure


@pytest.mark.parametrize(
    "problem",
    [requests.ConnectTimeout("slow"), requests.ReadTimeout("slow"), requests.ConnectionError("gone")],
    ids=["connect-timeout", "read-timeout", "no-connection"],
)
@responses.activate
def test_no_answer_is_unavailable(problem: Exception) -> None:
    responses.get(LIST_URL, body=problem)
    with pytest.raises(KvkError) as refused:
        establishments(client(), KVK)
    assert refused.value.failure is KvkFailure.UNAVAILABLE


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        b"[]",
        json.dumps(listing() | {"kvkNummer": "87654321"}).encode(),
        json.dumps(listing(VESTIGING | {"vestigingsnummer": "00001234567O"})).encode(),
        json.dumps(listing(VESTIGING | {"vestigingsnummer": "12345678"})).encode(),
        json.dumps(listing(VESTIGING | {"indHoofdvestiging": "ja"})).encode(),
        json.dumps(listing(VESTIGING | {"eersteHandelsnaam": 7})).encode(),
        json.dumps(listing() | {"vestigingen": {}}).encode(),
        json.dumps(listing(VESTIGING) | {"padding": "x" * MAX_BYTES}).encode(),
    ],
    ids=[
        "html",
        "not-an-object",
        "other-company",
        "letter-o",
        "short-number",
        "main-flag",
        "name-type",
        "list-type",
        "too-large",
    ],
)
@responses.activate
def test_an_answer_of_another_shape_is_malformed(body: bytes) -> None:
    responses.get(LIST_URL, body=body, content_type="application/json")
    with pytest.raises(KvkError) as refused:
        establishments(client(), KVK)
    assert refused.value.failure is KvkFailure.MALFORMED


@pytest.mark.parametrize(
    "changed",
    [
        {"kvkNummer": "1234567"},
        {"vestigingsnummer": "000012345679"},
        {"materieleRegistratie": {"datumEinde": "2024"}},
        {"materieleRegistratie": {"datumEinde": "20241301"}},
        {"materieleRegistratie": {"datumEinde": "20240231"}},
    ],
    ids=["kvk-number", "other-establishment", "end-date", "end-month", "end-day"],
)
@responses.activate
def test_a_profile_of_another_shape_is_malformed(changed: dict) -> None:
    responses.get(PROFILE_URL, json=profile(**changed))
    with pytest.raises(KvkError) as refused:
        profile_of(client(), "000012345678")
    assert refused.value.failure is KvkFailure.MALFORMED


@responses.activate
def test_redirects_are_not_followed() -> None:
    responses.get(LIST_URL, status=302, headers={"Location": "https://elsewhere.test/steal"})
    with pytest.raises(KvkError) as refused:
        establishments(client(), KVK)
    assert refused.value.failure is KvkFailure.MALFORMED
    assert len(responses.calls) == 1


@pytest.mark.parametrize("number", ["1234567", "1234567O", "../../x", ""])
@responses.activate
def test_a_malformed_number_is_never_sent(number: str) -> None:
    with pytest.raises(KvkError) as refused:
        establishments(client(), number)
    assert refused.value.failure is KvkFailure.INVALID_NUMBER
    with pytest.raises(KvkError):
        profile_of(client(), number)
    assert not responses.calls


@pytest.mark.parametrize(
    ("kvk_number", "numbers"),
    [
        (stand_in.SEVERAL, ["000052460101", "000052460102", "000052460103"]),
        (stand_in.ONE, ["000061830201"]),
        (stand_in.NONE, []),
    ],
)
def test_the_stand_in_answers_in_the_apis_shapes(kvk_number: str, numbers: list[str]) -> None:
    base = "http://broker.test/simulator/kvk"
    local = KvkClient(base, "", lambda url, _: stand_in.answer(url.removeprefix(base)))
    assert [e.number for e in establishments(local, kvk_number)] == numbers
    assert profile_of(local, "000052460104").ended == date(2024, 6, 30)
    with pytest.raises(KvkError) as down:
        establishments(local, stand_in.UNAVAILABLE)
    assert down.value.failure is KvkFailure.UNAVAILABLE
    with pytest.raises(KvkError) as unknown:
        establishments(local, "87654321")
    assert unknown.value.failure is KvkFailure.NOT_FOUND


# --- over a real socket: how the body arrives ---------------------------------------------------


class _Slow(BaseHTTPRequestHandler):
    """Answers the listing, in chunks (`/chunked/...`) or a byte at a time, 40 ms apart (`/drip/...`)."""

    def do_GET(self) -> None:
        body = json.dumps(listing(VESTIGING)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.path.startswith("/chunked/"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            pieces = [body[i : i + 16] for i in range(0, len(body), 16)]
            self.wfile.write(
                b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
            )
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.04)
        except OSError:
            pass  # the client gave up, as it should

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The base URL of a local API that answers as `_Slow` does."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_in_chunks_is_read_whole(slow_api: str) -> None:
    kvk = KvkClient(f"{slow_api}/chunked", "the-api-key", requests_transport(2, MAX_BYTES))
    assert [e.number for e in establishments(kvk, KVK)] == ["000012345678"]


def test_an_answer_that_trickles_in_is_given_up_at_the_timeout(slow_api: str) -> None:
    # Every byte well within the timeout of the one before; the whole answer (some 10 s) far beyond it.
    kvk = KvkClient(f"{slow_api}/drip", "the-api-key", requests_transport(0.5, MAX_BYTES))
    with pytest.raises(KvkError) as refused:
        establishments(kvk, KVK)
    assert refused.value.failure is KvkFailure.UNAVAILABLE
