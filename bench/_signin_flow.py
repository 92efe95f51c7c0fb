"""One whole sign-in as a portal and its user drive it, over any HTTP client: the step driver of
`bench/signin.py`.

authorize → the auto-submitting form to the simulator → the simulator's answer (a 303 to the ACS
with a SAMLart, or a form POSTing the SAMLResponse) → ACS → 302 to the portal with a code →
token → userinfo. Each step is timed on its own; `acs→token` is the wall time from sending the ACS
request to receiving the token response, what the portal's user waits for after the HM.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

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


class FlowError(Exception):
    """A step answered other than a successful sign-in would."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


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


class ConnectionHttp:
    """Plain `http.client` against a running server, reusing its connection while the server keeps
    it open; redirects are never followed. Lighter than a full HTTP library, so the load generator
    leaves the shared cores to the server it measures."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.connection: http.client.HTTPConnection | None = None

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Reply:
        return self._send("GET", url, None, dict(headers or {}))

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Reply:
        form = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self._send("POST", url, urlencode(data).encode("ascii"), form)

    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.connection.request(method, local(url), body, headers)
        answer = self.connection.getresponse()
        reply = Reply(answer.status, dict(answer.getheaders()), answer.read().decode("utf-8"))
        if answer.will_close:
            self.connection.close()
            self.connection = None
        return reply


@dataclass
class _Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(_Form(values.get("action", "")))
        elif tag == "input" and self.forms and values.get("type") == "hidden":
            self.forms[-1].fields[values["name"]] = values.get("value", "")


def only_form(reply: Reply, step: str) -> _Form:
    expect(reply, 200, step)
    parser = _FormParser()
    parser.feed(reply.text)
    if len(parser.forms) != 1:
        raise FlowError(f"{step}: expected one form, found {len(parser.forms)}")
    return parser.forms[0]


def expect(reply: Reply, status: int, step: str) -> None:
    if reply.status != status:
        raise FlowError(f"{step}: HTTP {reply.status}, expected {status}: {reply.text[-300:]!r}")


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


def sign_in(http: Http, binding: str) -> dict[str, float]:
    """One whole sign-in; the seconds per step, `acs→token` and `total`. Raises FlowError."""
    timer = Timer()
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(8)
    hand_off = only_form(timer.run("authorize", http.get, _authorize_url(state, challenge)), "authorize")
    choices = urlencode({"action": "login", "binding": binding, "kvk": KVK})
    at_hm = timer.run("simulator", http.post, f"{hand_off.action}?{choices}", hand_off.fields)
    back = timer.run("acs", *_to_acs(http, at_hm, binding))
    code = _code(back, state)
    tokens = timer.run("token", http.post, "/oidc/token", _token_form(code, verifier), _basic_auth())
    expect(tokens, 200, "token")
    bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    info = timer.run("userinfo", http.get, "/oidc/userinfo", bearer)
    expect(info, 200, "userinfo")
    if info.json().get("kvk_number") != KVK:
        raise FlowError(f"userinfo: unexpected claims {info.text[:300]!r}")
    return timer.finish()


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
        raise FlowError(f"acs: redirect without code or with another state: {back.headers['Location']}")
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
