"""`saml.artifact.https_transport` over real mutual TLS, against a local HTTPS server in a thread.

The server (stdlib `http.server` with an `ssl.SSLContext` that requires a client certificate)
plays the HM's ArtifactResolutionService: it records what arrives and answers as a test asks.
Certificates are generated per module (`tests.pki`): a server CA issuing a certificate for
127.0.0.1 and localhost, and our SP key pair (self-signed, made by `config.dev_keys` as in
development) as the client.

The HM's TLS CA comes from `SamlSettings.hm_tls_ca_bundle` (BROKER_HM_TLS_CA); without it, the
bundle REQUESTS_CA_BUNDLE names (the tests that need a trusted server point it at the test CA), else
certifi's.
"""

from __future__ import annotations

import dataclasses
import gzip
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from config import KeyPair, SamlSettings
from config.dev_keys import ensure_key_pair
from saml.artifact import https_transport
from saml.errors import Reason, SamlError
from tests.pki import Authority, certificate_authority, server_certificate, server_context

ENVELOPE = b'<?xml version="1.0"?><soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/"/>'
ANSWER = (
    b"<soap11:Envelope xmlns:soap11='http://schemas.xmlsoap.org/soap/envelope/'><answer/></soap11:Envelope>"
)
MAX_BYTES = 4096
# About 1 KiB on the wire (under MAX_BYTES), 1 MiB once decoded.
GZIP_BOMB = gzip.compress(b"x" * (1024 * 1024))


# --- certificates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    server_ca: Authority
    server: KeyPair
    impostor: KeyPair  # for 127.0.0.1 too, but from a CA we do not trust
    wrong_host: KeyPair  # from the trusted CA, for another host
    sp: KeyPair  # our SP key pair: the client certificate
    stranger: KeyPair  # a client certificate that is not ours


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    server_ca = certificate_authority(folder, "server-ca", "test HM TLS CA")
    impostor_ca = certificate_authority(folder, "impostor-ca", "impostor CA")
    local = ("127.0.0.1", "localhost")
    return Pki(
        server_ca=server_ca,
        server=server_certificate(folder, "server", server_ca, local),
        impostor=server_certificate(folder, "impostor", impostor_ca, local),
        wrong_host=server_certificate(folder, "wrong-host", server_ca, ("other.test",)),
        sp=ensure_key_pair(folder, "sp", "broker.test SP"),
        stranger=ensure_key_pair(folder, "stranger", "stranger SP"),
    )


def der(cert_pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)


# --- the HM's resolution service ----------------------------------------------------------------


@dataclass
class Reply:
    """What the server answers; `length` overrides Content-Length, `stall` pauses after `body`,
    `drip` sends the body a byte at a time with that pause between, `chunked` sends it in chunks."""

    body: bytes = ANSWER
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    length: int | None = None
    stall: float = 0.0
    drip: float = 0.0
    chunked: bool = False


@dataclass(frozen=True)
class Seen:
    path: str
    peer_cert: bytes | None
    headers: dict[str, str]
    body: bytes
    client_port: int  # the same for requests over one kept-alive connection


class _Handler(BaseHTTPRequestHandler):
    server: HmServer

    def handle(self) -> None:
        # HTTP/1.1 keeps the connection open for the requests that follow.
        self.protocol_version = "HTTP/1.1" if self.server.requests_per_connection > 1 else "HTTP/1.0"
        self.handled = 0
        super().handle()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        peer = self.connection.getpeercert(binary_form=True)
        self.server.seen.append(
            Seen(self.path, peer, dict(self.headers.items()), body, self.client_address[1])
        )
        replies = self.server.replies
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        self.handled += 1
        self.send_response(reply.status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        if self.protocol_version == "HTTP/1.1" and self.handled >= self.server.requests_per_connection:
            self.send_header("Connection", "close")
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(reply.body) if reply.length is None else reply.length))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if reply.chunked:
            pieces = [reply.body[i : i + 16] for i in range(0, len(reply.body), 16)]
            self.wfile.write(
                b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
            )
        elif reply.drip:
            for byte in reply.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(reply.drip)
        else:
            self.wfile.write(reply.body)
        self.wfile.flush()
        time.sleep(reply.stall)

    def log_message(self, format: str, *args: object) -> None:
        pass


class HmServer(HTTPServer):
    """One connection at a time; TLS is set up in `finish_request`, so a failed handshake is closed."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.replies = [Reply()]  # one per request, the last one for all that follow
        self.requests_per_connection = 1
        self.seen: list[Seen] = []
        self.errors: list[BaseException] = []

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}/ars"

    def finish_request(self, request, client_address) -> None:
        request.settimeout(5)
        with self.context.wrap_socket(request, server_side=True) as tls:
            super().finish_request(tls, client_address)

    def handle_error(self, request, client_address) -> None:
        self.errors.append(sys.exc_info()[1])


Serve = Callable[..., HmServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Starts an HM server with a certificate, trusting one client certificate; stops them all after."""
    running: list[tuple[HmServer, threading.Thread]] = []

    def start(certificate: KeyPair, client_trust: KeyPair) -> HmServer:
        context = server_context(certificate)
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=client_trust.cert_pem.decode())
        server = HmServer(context)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        running.append((server, thread))
        return server

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def trust(monkeypatch: pytest.MonkeyPatch) -> Callable[[Authority | None], None]:
    """Which CA the transport trusts for the HM's certificate; None: its default bundle (certifi)."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)

    def set_ca(ca: Authority | None) -> None:
        if ca is None:
            monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        else:
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.cert_path))

    return set_ca


@pytest.fixture
def settings(pki: Pki) -> SamlSettings:
    return SamlSettings(
        entity_id="https://broker.test/saml/metadata",
        oin="00000001234567890000",
        base_url="https://broker.test",
        acs_url="https://broker.test/saml/acs",
        key=pki.sp,
        hm_metadata=None,
        artifact_timeout_seconds=5.0,
    )


@pytest.fixture
def hm(pki: Pki, serve: Serve, trust: Callable[[Authority | None], None]) -> HmServer:
    """The HM as it should be: a certificate from the CA we trust, our client certificate trusted."""
    trust(pki.server_ca)
    return serve(pki.server, pki.sp)


def outcome(post: Callable[[str, bytes], bytes], url: str) -> bytes | Reason:
    """The answer the transport returns, or the reason it refuses with."""
    try:
        return post(url, ENVELOPE)
    except SamlError as error:
        return error.reason


# --- a good exchange ----------------------------------------------------------------------------


def test_posts_soap_with_our_client_certificate(hm: HmServer, settings: SamlSettings, pki: Pki) -> None:
    answer = https_transport(settings, MAX_BYTES)(hm.url, ENVELOPE)
    assert answer == ANSWER
    [seen] = hm.seen
    assert seen.peer_cert == der(pki.sp.cert_pem)
    assert seen.headers["Content-Type"].split(";")[0].strip() == "text/xml"
    assert seen.headers["SOAPAction"] == "http://www.oasis-open.org/committees/security"
    assert seen.body == ENVELOPE


def test_one_connection_carries_resolution_after_resolution(hm: HmServer, settings: SamlSettings) -> None:
    hm.requests_per_connection = 3
    post = https_transport(settings, MAX_BYTES)
    assert [post(hm.url, ENVELOPE) for _ in range(3)] == [ANSWER] * 3
    assert len({seen.client_port for seen in hm.seen}) == 1


def test_a_connection_left_with_an_unread_answer_is_not_used_again(
    hm: HmServer, settings: SamlSettings
) -> None:
    hm.requests_per_connection = 2
    hm.replies = [Reply(body=b"x" * (MAX_BYTES * 2)), Reply()]
    post = https_transport(settings, MAX_BYTES)
    assert outcome(post, hm.url) is Reason.MESSAGE_TOO_LARGE
    assert [post(hm.url, ENVELOPE) for _ in range(2)] == [ANSWER] * 2
    first, second, third = (seen.client_port for seen in hm.seen)
    assert first != second == third


def test_an_answer_in_chunks_is_read_whole(hm: HmServer, settings: SamlSettings) -> None:
    hm.replies = [Reply(chunked=True)]
    assert https_transport(settings, MAX_BYTES)(hm.url, ENVELOPE) == ANSWER


def test_an_answer_of_exactly_the_limit_is_accepted(hm: HmServer, settings: SamlSettings) -> None:
    hm.replies = [Reply(body=b"x" * MAX_BYTES)]
    assert len(https_transport(settings, MAX_BYTES)(hm.url, ENVELOPE)) == MAX_BYTES


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b"x" * (MAX_BYTES + 1)),
        Reply(body=b"x" * (10 * 1024 * 1024)),
        # Under the limit on the wire, far over it decoded: the limit counts what we would parse.
        Reply(body=GZIP_BOMB, headers=(("Content-Encoding", "gzip"),)),
    ],
    ids=["one-byte-over", "ten-megabytes", "gzip-bomb"],
)
def test_a_too_large_answer_is_refused(hm: HmServer, settings: SamlSettings, reply: Reply) -> None:
    hm.replies = [reply]
    assert outcome(https_transport(settings, MAX_BYTES), hm.url) is Reason.MESSAGE_TOO_LARGE


@pytest.mark.parametrize("status", [204, 404, 500, 503])
def test_a_non_200_answer_is_refused(hm: HmServer, settings: SamlSettings, status: int) -> None:
    hm.replies = [Reply(status=status)]
    assert outcome(https_transport(settings, MAX_BYTES), hm.url) is Reason.ARTIFACT_RESOLUTION_FAILED


def test_a_server_that_does_not_trust_our_certificate_fails_closed(
    pki: Pki, serve: Serve, trust: Callable[[Authority | None], None], settings: SamlSettings
) -> None:
    trust(pki.server_ca)
    server = serve(pki.server, client_trust=pki.stranger)
    assert outcome(https_transport(settings, MAX_BYTES), server.url) is Reason.ARTIFACT_RESOLUTION_FAILED
    server.shutdown()  # waits for the server to finish the handshake it refused
    assert server.seen == []
    assert [getattr(error, "reason", None) for error in server.errors] == ["CERTIFICATE_VERIFY_FAILED"]


def test_without_our_certificate_the_server_refuses_the_handshake(
    pki: Pki, hm: HmServer, settings: SamlSettings
) -> None:
    # Someone else's key pair: the same transport, another client certificate, no answer.
    post = https_transport(dataclasses.replace(settings, key=pki.stranger), MAX_BYTES)
    assert outcome(post, hm.url) is Reason.ARTIFACT_RESOLUTION_FAILED
    assert hm.seen == []


@pytest.mark.parametrize(
    ("certificate", "ca"),
    [("impostor", "server_ca"), ("wrong_host", "server_ca"), ("server", None)],
    ids=["unknown-ca", "wrong-host", "default-bundle"],
)
def test_an_untrusted_server_certificate_fails_closed(
    pki: Pki,
    serve: Serve,
    trust: Callable[[Authority | None], None],
    settings: SamlSettings,
    certificate: str,
    ca: str | None,
) -> None:
    trust(None if ca is None else getattr(pki, ca))
    server = serve(getattr(pki, certificate), client_trust=pki.sp)
    assert outcome(https_transport(settings, MAX_BYTES), server.url) is Reason.ARTIFACT_RESOLUTION_FAILED
    assert server.seen == []


def test_the_transport_needs_key_and_certificate_files(settings: SamlSettings, pki: Pki) -> None:
    in_memory = KeyPair(pki.sp.key_pem, pki.sp.cert_pem)
    with pytest.raises(ValueError, match="as files"):
        https_transport(dataclasses.replace(settings, key=in_memory), MAX_BYTES)


# --- failures that must stay SAML errors ---------------------------------------------------------


def test_the_hm_tls_ca_comes_from_the_settings(
    pki: Pki, serve: Serve, trust: Callable[[Authority | None], None], settings: SamlSettings
) -> None:
    trust(None)
    server = serve(pki.server, client_trust=pki.sp)
    configured = dataclasses.replace(settings, hm_tls_ca_bundle=pki.server_ca.cert_path)
    assert https_transport(configured, MAX_BYTES)(server.url, ENVELOPE) == ANSWER


@pytest.mark.parametrize(
    "reply",
    [Reply(length=len(ANSWER) + 100), Reply(body=ANSWER[:20], length=len(ANSWER), stall=1.0)],
    ids=["truncated", "stalled"],
)
def test_a_broken_body_fails_with_a_saml_error(hm: HmServer, settings: SamlSettings, reply: Reply) -> None:
    hm.replies = [reply]
    post = https_transport(dataclasses.replace(settings, artifact_timeout_seconds=0.3), MAX_BYTES)
    assert outcome(post, hm.url) is Reason.ARTIFACT_RESOLUTION_FAILED


def test_an_answer_that_trickles_in_is_given_up_at_the_timeout(hm: HmServer, settings: SamlSettings) -> None:
    # Every byte within the timeout of the one before, the whole answer (about 4 s) far beyond it.
    hm.replies = [Reply(drip=0.04)]
    post = https_transport(dataclasses.replace(settings, artifact_timeout_seconds=0.5), MAX_BYTES)
    assert outcome(post, hm.url) is Reason.ARTIFACT_RESOLUTION_FAILED


@pytest.mark.parametrize("status", [307, 308])
def test_a_redirect_is_not_followed(hm: HmServer, settings: SamlSettings, status: int) -> None:
    hm.replies = [Reply(status=status, headers=(("Location", f"{hm.url}/elsewhere"),)), Reply()]
    result = outcome(https_transport(settings, MAX_BYTES), hm.url)
    assert [seen.path for seen in hm.seen] == ["/ars"]
    assert result is Reason.ARTIFACT_RESOLUTION_FAILED


def test_the_environment_s_proxy_is_used(
    hm: HmServer, settings: SamlSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY and NO_PROXY as requests reads them: a proxy that is not there fails closed."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "")
    assert outcome(https_transport(settings, MAX_BYTES), hm.url) is Reason.ARTIFACT_RESOLUTION_FAILED
    assert hm.seen == []
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert https_transport(settings, MAX_BYTES)(hm.url, ENVELOPE) == ANSWER
