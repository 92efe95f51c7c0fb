"""One whole sign-in as a portal and its user drive it, over any HTTP client: the step driver of
`bench/signin.py`, and of `bench/load.py` and `bench/soak.py` through `bench/_users.py`.

authorize → the auto-submitting form to the simulator → the simulator's answer (a 303 to the ACS
with a SAMLart, or a form POSTing the SAMLResponse) → ACS → 302 to the portal with a code →
token → userinfo. Each step is timed on its own; `acs→token` is the wall time from sending the ACS
request to receiving the token response, what the portal's user waits for after the HM.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

from flask.testing import FlaskClient

STEPS = ("authorize", "simulator", "acs", "token", "userinfo")
ACS_TO_TOKEN = "acs→token"
TOTAL = "total"

CLIENT_ID = "bench-portal"
SECRET = "bench-secret-0123456789abcdef-0123456789abcdef"
REDIRECT = "https://portal.bench/callback"
SCOPE = "openid kvk mandate acting_subject"
KVK = "24444001"

CONFIG_YAML = f"""\
services:
  - slug: bench-service
    uuid: 0b6f2d3a-7c1e-4f5a-9d8b-3e2a1c4b5d06
    index: 1
    minimum_loa: loa3
    name: {{nl: Benchmarkdienst, en: Benchmark service}}
clients:
  - client_id: {CLIENT_ID}
    service: bench-service
    redirect_uris: [{REDIRECT}]
    token_endpoint_auth_method: client_secret_basic
    secret: {SECRET}
"""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class FlowError(Exception):
    """A step answered other than a successful sign-in would: the step, and its answer if any."""

    def __init__(self, message: str, step: str = "", reply: Reply | None = None) -> None:
        super().__init__(message)
        self.step, self.reply = step, reply


class Http(Protocol):
    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Reply: ...

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Reply: ...


def local(url: str) -> str:
    """The path and query of an absolute URL (the Flask test client needs no host)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


class TestClientHttp:
    """The Flask test client, in-process."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Reply:
        return self._reply(self.client.get(local(url), headers=dict(headers or {})))

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Reply:
        return self._reply(self.client.post(local(url), data=dict(data), headers=dict(headers or {})))

    @staticmethod
    def _reply(answer: Any) -> Reply:
        return Reply(answer.status_code, answer.headers, answer.get_data(as_text=True))


class SocketHttp:
    """A minimal HTTP/1.1 client for the load generator: one short-lived socket per request (gunicorn's
    sync workers close every connection anyway), bytes in, bytes out, no redirects followed.

    `http.client` parses headers with the email package and `urlencode` quotes character by
    character; on a 2-core machine the load generator's CPU is taken from the server it measures."""

    def __init__(self, base_url: str) -> None:
        self.address = _address(base_url)

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Reply:
        return self._send("GET", url, b"", headers or {})

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Reply:
        form = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self._send("POST", url, form_encode(data).encode("ascii"), form)

    def _send(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        # An absolute URL goes to its own host (the HM simulator may run apart); a path to the broker.
        address = _address(url) if url.startswith("http") else self.address
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        length = f"Content-Length: {len(body)}\r\n" if body or method == "POST" else ""
        host = f"Host: {address[0]}:{address[1]}\r\n"
        head = f"{method} {local(url)} HTTP/1.1\r\n{host}Connection: close\r\n{lines}{length}\r\n"
        with socket.create_connection(address, timeout=60) as connection:
            connection.sendall(head.encode("latin-1") + body)
            answer = _read_to_end(connection)
        return _parse(answer)


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or "127.0.0.1", parts.port or 80)


def _read_to_end(connection: socket.socket) -> bytes:
    """The whole answer: up to its Content-Length when it has one, else until the server closes.

    Closing as soon as the body is in spares the worker its wait for our FIN (gunicorn lingers
    after every answer until the client closes), which would otherwise be the load generator's
    scheduling latency."""
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
        if _complete(answer):
            break
    return answer


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)\r\n", re.IGNORECASE)


def _complete(answer: bytes) -> bool:
    end = answer.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = _CONTENT_LENGTH.search(answer, 0, end + 2)
    return length is not None and len(answer) - end - 4 >= int(length.group(1))


def _parse(answer: bytes) -> Reply:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    if not status_line:
        raise ConnectionResetError("the connection closed without an answer")
    headers = dict(line.split(": ", 1) for line in header_lines)
    if "chunked" in headers.get("Transfer-Encoding", ""):
        raise FlowError("chunked responses are not expected from the broker")
    return Reply(int(status_line.split(" ", 2)[1]), headers, body.decode("utf-8"))


# Base64 (SAML messages) and token-like values need only these escaped; anything else goes to quote_plus.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9+/=._~-]*")
_ESCAPE_PLAIN = str.maketrans({"+": "%2B", "/": "%2F", "=": "%3D"})


def form_encode(data: Mapping[str, str]) -> str:
    """`urlencode(data)`, with the long base64 values of SAML forms escaped in one pass each."""
    return "&".join(f"{quote_plus(name)}={_form_value(value)}" for name, value in data.items())


def _form_value(value: str) -> str:
    return value.translate(_ESCAPE_PLAIN) if _PLAIN_VALUE.fullmatch(value) else quote_plus(value)


@dataclass
class _Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)


_FORM = re.compile(r"<form\b[^>]*>")
_HIDDEN_INPUT = re.compile(r"<input\b[^>]*\btype=\"hidden\"[^>]*>")
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')


def _attributes(tag: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _ATTRIBUTE.findall(tag)}


def only_form(reply: Reply, step: str) -> _Form:
    """The page's one form: its action and hidden fields (the broker's and the simulator's
    auto-submitting forms put each tag's attributes in double quotes)."""
    expect(reply, 200, step)
    forms = _FORM.findall(reply.text)
    if len(forms) != 1:
        raise FlowError(f"{step}: expected one form, found {len(forms)}", step, reply)
    inputs = (_attributes(tag) for tag in _HIDDEN_INPUT.findall(reply.text))
    return _Form(_attributes(forms[0]).get("action", ""), {i["name"]: i.get("value", "") for i in inputs})


def expect(reply: Reply, status: int, step: str) -> None:
    if reply.status != status:
        raise FlowError(f"{step}: HTTP {reply.status}, expected {status}: {reply.text[-300:]!r}", step, reply)


class Timer:
    """Wall times of the steps of one sign-in, in seconds; `cpu <step>`: this thread's CPU time."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.marks: dict[str, float] = {}

    def run(self, step: str, call: Any, *args: Any, **kwargs: Any) -> Reply:
        start, cpu = time.perf_counter(), time.thread_time()
        reply = call(*args, **kwargs)
        end = time.perf_counter()
        self.times[step], self.times[f"cpu {step}"] = end - start, time.thread_time() - cpu
        self.marks[f"{step}.start"], self.marks[f"{step}.end"] = start, end
        return reply

    def finish(self) -> dict[str, float]:
        self.times[ACS_TO_TOKEN] = self.marks["token.end"] - self.marks["acs.start"]
        self.times[TOTAL] = self.marks["userinfo.end"] - self.marks["authorize.start"]
        self.times[f"cpu {ACS_TO_TOKEN}"] = self.times["cpu acs"] + self.times["cpu token"]
        self.times[f"cpu {TOTAL}"] = sum(self.times[f"cpu {step}"] for step in STEPS)
        return self.times


@dataclass(frozen=True)
class Code:
    """What the portal holds once the ACS has sent the user back: the code and its PKCE verifier."""

    code: str
    verifier: str


def sign_in(http: Http, binding: str) -> dict[str, float]:
    """One whole sign-in; the seconds per step, `acs→token` and `total`. Raises FlowError."""
    timer = Timer()
    access_token = redeem(http, to_code(http, binding, timer), timer)
    read_userinfo(http, access_token, timer)
    return timer.finish()


def to_code(http: Http, binding: str, timer: Timer) -> Code:
    """authorize → simulator → ACS: the user's part, up to the code the portal receives."""
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(8)
    hand_off = only_form(timer.run("authorize", http.get, _authorize_url(state, challenge)), "authorize")
    choices = urlencode({"action": "login", "binding": binding, "kvk": KVK})
    at_hm = timer.run("simulator", http.post, f"{hand_off.action}?{choices}", hand_off.fields)
    back = timer.run("acs", *_to_acs(http, at_hm, binding))
    return Code(_code(back, state), verifier)


def redeem(http: Http, code: Code, timer: Timer) -> str:
    """The token request: the access token."""
    tokens = timer.run(
        "token", http.post, "/oidc/token", _token_form(code.code, code.verifier), _basic_auth()
    )
    expect(tokens, 200, "token")
    return str(tokens.json()["access_token"])


def read_userinfo(http: Http, access_token: str, timer: Timer) -> None:
    info = timer.run("userinfo", http.get, "/oidc/userinfo", {"Authorization": f"Bearer {access_token}"})
    expect(info, 200, "userinfo")
    if info.json().get("kvk_number") != KVK:
        raise FlowError(f"userinfo: unexpected claims {info.text[:300]!r}", "userinfo", info)


def _to_acs(http: Http, at_hm: Reply, binding: str) -> tuple[Any, ...]:
    """The call that takes the simulator's answer to the ACS, and its arguments."""
    if binding == "artifact":
        expect(at_hm, 303, "simulator")
        return (http.get, at_hm.headers["Location"])
    form = only_form(at_hm, "simulator")
    return (http.post, form.action, form.fields)


def _code(back: Reply, state: str) -> str:
    expect(back, 302, "acs")
    location = urlsplit(back.headers["Location"])
    params = {name: values[0] for name, values in parse_qs(location.query).items()}
    if "code" not in params or params.get("state") != state:
        raise FlowError(
            f"acs: redirect without code or with another state: {back.headers['Location']}", "acs", back
        )
    return params["code"]


def _authorize_url(state: str, challenge: str) -> str:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        "state": state,
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"/oidc/authorize?{urlencode(params)}"


def _token_form(code: str, verifier: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }


def _basic_auth() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()}


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge
