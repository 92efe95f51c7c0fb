"""Hostile and odd input at every endpoint a browser, a portal or an HM reaches: never a 500.

Property tests (Hypothesis) throw structured-but-wrong input at the ACS (HTTP-POST and
HTTP-Artifact, and a hostile HM that signs what it sends), /oidc/authorize (with request objects
too), /oidc/token, /oidc/par, /oidc/userinfo and the establishment picker. No answer may be a
5xx (but the deliberate 502 and 503), and the app must log no record at ERROR with a traceback
(the catch-all's `unexpected error`). `--hypothesis-show-statistics` shows what the answers were
(status and error code).

The "ci" profile, the default, runs 200 examples per test, derandomized and with no example
database, so a run repeats exactly (about two minutes in all). For a long run (5000 per test, new
ones every time, a failure printed with the blob to reproduce it), one endpoint at a time with
`-k acs_post`, `acs_artifact`, `authorize`, `test_token`, `par`, `userinfo` or `establishment`:

    HYPOTHESIS_PROFILE=long .venv/bin/pytest -p no:cacheprovider tests/test_hostile_input.py -k test_token
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from lxml import etree
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from saml import signature
from saml.loa import LevelOfAssurance
from saml.simulator import (
    SUCCESS,
    Mandate,
    ObsoleteLevel,
    ReceivedRequest,
    Scenario,
    ServiceProvider,
    Shape,
    SimulatorHm,
    Status,
    build_assertion,
    build_response,
    encrypt_assertion,
    new_artifact,
    recipients_for,
)
from saml.simulator.authn_request import read_post_request
from saml.xml import NS, format_instant, new_id, qname
from tests.clients import PORTAL_KEY, REDIRECT, SECRET
from tests.conftest import TEST_BASE_URL, MovableClock, migrated_app
from tests.oidc.portal import Portal, redirect_parameters
from tests.web.browser import forms

_HEALTH = [
    HealthCheck.function_scoped_fixture,
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
]
settings.register_profile(
    "ci", max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=_HEALTH
)
settings.register_profile(
    "long", max_examples=5000, deadline=None, database=None, print_blob=True, suppress_health_check=_HEALTH
)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TOKEN_URL = f"{TEST_BASE_URL}/oidc/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_IDS = ["ind-portal", "olo-post", "olo-jwt", "olo-public", "olo-establishment", "legacy-no-pkce"]
_STATUS = "urn:oasis:names:tc:SAML:2.0:status:"
_FORMAT = logging.Formatter("%(levelname)s %(name)s %(message)s")
# The 5xx pages the broker answers on purpose: the HM's resolution service failed or answered
# nothing (502), KvK is away (503). Every other 5xx is a crash.
DELIBERATE = {502, 503}
_PAGE_CODE = re.compile(r"</code> \(([a-z_0-9]+)\)")


# --- the property: no 5xx, no traceback in the log --------------------------------------------------


@pytest.fixture
def answered(caplog: pytest.LogCaptureFixture) -> Callable[[TestResponse], TestResponse]:
    """Check an answer: no 5xx but a deliberate one, and nothing logged at ERROR with a traceback
    since the last check."""
    caplog.set_level(logging.INFO)

    def check(response: TestResponse) -> TestResponse:
        crashes = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
        caplog.clear()
        assert not crashes, _FORMAT.format(crashes[0])
        status = response.status_code
        assert status < 500 or status in DELIBERATE, response.get_data(as_text=True)[-600:]
        event(f"{status} {outcome(response)}")
        return response

    return check


def outcome(response: TestResponse) -> str:
    """The error code an answer carries: in a redirect, a JSON body or the error page; else ""."""
    if "Location" in response.headers:
        return dict(parse_qsl(urlsplit(response.headers["Location"]).query)).get("error", "redirect")
    if response.is_json:
        return str((response.get_json(silent=True) or {}).get("error", ""))
    found = _PAGE_CODE.search(response.get_data(as_text=True))
    return found.group(1) if found else ""


# --- values: odd text, XML-safe text, JSON, headers ---------------------------------------------------

TRICKY = [
    "",
    " ",
    "0",
    "-1",
    "99999999999999999999999999999",
    "1e400",
    "NaN",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59.999999-14:00",
    "2026-02-30T00:00:00Z",
    "2026-03-02T09:30:00",
    "24444001",
    "12345678",
    "000052460101",
    "１２３４５６７８",
    "٠١٢٣٤٥٦٧",
    " 12345678\n",
    "urn:etoegang:core:assurance-class:loa4",
    f"{_STATUS}Success",
    "#",
    "'\"<>&\\",
    "Ω≈ç√ 名前",
    "x" * 5000,
    "\u2028\u2029",
]
# Any text but lone surrogates: control characters, non-ASCII, quotes and backslashes included.
ODD = st.one_of(st.text(max_size=40), st.sampled_from(TRICKY))
# What XML can carry: no control characters but tab, LF and CR.
XML_TEXT = st.one_of(
    st.text(
        st.characters(categories=["L", "M", "N", "P", "S", "Z"], include_characters="\t\n\r"), max_size=40
    ),
    st.sampled_from(TRICKY),
)
# What a header can carry (latin-1, WSGI's), less the line breaks the HTTP client itself refuses.
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, include_characters="\t"), max_size=60
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


# True three times in four.
MOSTLY = st.sampled_from([True, True, True, False])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pairs(names: list[str], values: st.SearchStrategy[str], most: int = 10) -> st.SearchStrategy:
    """Form or query pairs: known names (repeated, too) and odd ones, with `values`."""
    return st.lists(st.tuples(st.one_of(st.sampled_from(names), ODD), values), max_size=most)


# --- a hostile HM: real keys, any content ------------------------------------------------------------

ATTRIBUTE_NAMES = [
    "ID",
    "Version",
    "IssueInstant",
    "Destination",
    "InResponseTo",
    "NotBefore",
    "NotOnOrAfter",
    "Recipient",
    "Method",
    "Format",
    "Name",
    "NameFormat",
    "Algorithm",
    "URI",
    "AuthnInstant",
    "Value",
    "Consent",
]
CHILD_TAGS = [
    qname("saml", "Assertion"),
    qname("saml", "EncryptedAssertion"),
    qname("saml", "Issuer"),
    qname("saml", "Attribute"),
    qname("saml", "AttributeValue"),
    qname("saml", "EncryptedID"),
    qname("saml", "NameID"),
    qname("saml", "AuthnContextClassRef"),
    qname("samlp", "Status"),
    qname("samlp", "StatusCode"),
    qname("samlp", "Response"),
    qname("ds", "Signature"),
    qname("xenc", "EncryptedData"),
    "unqualified",
]
# An edit of an XML tree: what to do, to which element (an index into its elements), with what.
EDITS = st.one_of(
    st.just([]),
    st.lists(
        st.tuples(
            st.sampled_from(
                ["remove", "attribute", "drop-attribute", "text", "value", "duplicate", "child", "to-top"]
            ),
            st.integers(0, 400),
            st.integers(0, 40),
            XML_TEXT,
        ),
        min_size=1,
        max_size=3,
    ),
)
STATUSES = st.one_of(
    st.just(SUCCESS),
    st.just(SUCCESS),
    st.builds(
        Status,
        codes=st.lists(
            st.one_of(
                st.sampled_from(
                    [f"{_STATUS}{name}" for name in ("Success", "Responder", "AuthnFailed", "RequestDenied")]
                ),
                XML_TEXT,
            ),
            min_size=1,
            max_size=3,
        ).map(tuple),
        message=st.one_of(st.none(), XML_TEXT),
    ),
)
SCENARIOS = st.builds(
    Scenario,
    kvk_number=st.sampled_from(["12345678", "24444001", "11112222", "99999999", "31415926"]),
    establishment=st.sampled_from([None, "000052460101", "000052460104", "000099999999"]),
    mandate=st.sampled_from(list(Mandate)),
    level=st.sampled_from([*LevelOfAssurance, ObsoleteLevel.LOA1]),
    advice=st.booleans(),
    earlier_sign_in=st.booleans(),
    user=st.sampled_from(["tester", "ü-tester"]),
)


@dataclass(frozen=True)
class HostileAnswer:
    """How a hostile HM answers a genuine request: a real assertion, changed, then signed or not,
    encrypted or not; a status of its choosing; the Response changed and signed or not; bytes
    changed after all that. For HTTP-Artifact, its ArtifactResponse likewise."""

    scenario: Scenario
    encrypt_ids: bool
    assertion_edits: list[tuple[str, int, int, str]]
    sign_assertion: bool
    encrypt: bool
    with_assertion: bool
    status: Status
    response_edits: list[tuple[str, int, int, str]]
    sign_response: bool
    byte_edits: list[tuple[int, bytes]]
    wrapper_status: Status
    wrapper_edits: list[tuple[str, int, int, str]]
    sign_wrapper: bool


HOSTILE_ANSWERS = st.builds(
    HostileAnswer,
    scenario=SCENARIOS,
    encrypt_ids=st.booleans(),
    assertion_edits=EDITS,
    sign_assertion=MOSTLY,
    encrypt=st.booleans(),
    with_assertion=MOSTLY,
    status=STATUSES,
    response_edits=EDITS,
    sign_response=st.booleans(),
    byte_edits=st.one_of(
        st.just([]), st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), min_size=1, max_size=2)
    ),
    wrapper_status=STATUSES,
    wrapper_edits=EDITS,
    sign_wrapper=MOSTLY,
)


def edit(root: etree._Element, edits: list[tuple[str, int, int, str]]) -> None:
    """Apply `edits` to the tree under `root` (never removing `root` itself)."""
    for action, which, name_index, value in edits:
        elements = [element for element in root.iter() if isinstance(element.tag, str)]
        if action == "value":
            # An attribute's value (the KvK number, the pseudonym, ...), where they travel in clear.
            elements = list(root.iter(qname("saml", "AttributeValue"))) or elements
        element = elements[which % len(elements)]
        names = [*element.attrib, *ATTRIBUTE_NAMES]
        name = str(names[name_index % len(names)])
        parent = element.getparent()
        if action == "remove" and parent is not None:
            parent.remove(element)
        elif action == "attribute":
            element.set(name, value)
        elif action == "drop-attribute":
            element.attrib.pop(name, None)
        elif action in ("text", "value"):
            element.text = value
        elif action == "duplicate" and parent is not None:
            element.addnext(etree.fromstring(etree.tostring(element)))
        elif action == "child":
            etree.SubElement(element, CHILD_TAGS[name_index % len(CHILD_TAGS)]).text = value
        elif action == "to-top" and parent is not None:
            root.append(element)


def sign(element: etree._Element, hm: SimulatorHm, wanted: bool) -> None:
    """Sign as the HM does, when `wanted`; an element edited past signing goes unsigned."""
    if wanted:
        with contextlib.suppress(Exception):
            signature.sign(element, hm.key)


def change_bytes(data: bytes, byte_edits: list[tuple[int, bytes]]) -> bytes:
    for position, replacement in byte_edits:
        at = position % (len(data) + 1)
        data = data[:at] + replacement + data[at + len(replacement) :]
    return data


def hostile_response(
    answer: HostileAnswer, hm: SimulatorHm, sp: ServiceProvider, request: ReceivedRequest, now: datetime
) -> etree._Element:
    shape = Shape(encrypt_ids=answer.encrypt_ids)
    content = None
    if answer.with_assertion:
        content = build_assertion(hm, sp, request, answer.scenario, now, shape)
        edit(content, answer.assertion_edits)
        sign(content, hm, answer.sign_assertion)
        if answer.encrypt:
            content = encrypt_assertion(content, recipients_for(sp, shape))
    response = build_response(hm, request, now, answer.status, content)
    edit(response, answer.response_edits)
    sign(response, hm, answer.sign_response)
    return response


def hostile_artifact_response(
    answer: HostileAnswer,
    hm: SimulatorHm,
    sp: ServiceProvider,
    request: ReceivedRequest,
    now: datetime,
    resolve_id: str,
) -> bytes:
    wrapper = etree.Element(
        qname("samlp", "ArtifactResponse"), nsmap={"samlp": NS["samlp"], "saml": NS["saml"]}
    )
    etree.SubElement(wrapper, qname("saml", "Issuer")).text = hm.entity_id
    wrapper.append(answer.wrapper_status.element())
    wrapper.attrib.update(
        {"ID": new_id(), "InResponseTo": resolve_id, "Version": "2.0", "IssueInstant": format_instant(now)}
    )
    wrapper.append(hostile_response(answer, hm, sp, request, now))
    envelope = etree.Element(qname("soap", "Envelope"), nsmap={"soap11": NS["soap"]})
    etree.SubElement(envelope, qname("soap", "Body")).append(wrapper)
    edit(envelope, answer.wrapper_edits)
    sign(wrapper, hm, answer.sign_wrapper)
    return change_bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"), answer.byte_edits)


@dataclass
class PendingSignIn:
    """A sign-in handed off to the HM: the request as the HM read it, and its RelayState."""

    request: ReceivedRequest
    relay_state: str
    hm: SimulatorHm
    sp: ServiceProvider
    now: datetime


def hand_off(client: FlaskClient, purpose: str) -> PendingSignIn:
    """Start a sign-in at the app of `client`, by /oidc/authorize or the test login."""
    if purpose == "authorize":
        page = Portal(client, "ind-portal").authorize()
    else:
        page = client.get(f"/saml/test-login?service={purpose}")
    assert page.status_code == 200, page.get_data(as_text=True)[-600:]
    (form,) = forms(page)
    state = client.application.extensions["broker"]
    now = state.upstream.clock()
    sp = ServiceProvider.from_settings(state.settings.saml, state.registry().services, now)
    return PendingSignIn(
        read_post_request(form.fields, state.simulator, sp, now),
        form.fields["RelayState"],
        state.simulator,
        sp,
        now,
    )


PURPOSES = st.sampled_from(
    ["authorize", "ind-portaal-zakelijk", "establishment-required", "own-company-only"]
)
RELAY_STATES = st.one_of(
    st.just("genuine"),
    st.just("genuine"),
    ODD,
    st.builds(lambda tail: f"genuine{tail}", ODD),
)


def relay_state_for(pending: PendingSignIn, drawn: str) -> str:
    return drawn.replace("genuine", pending.relay_state, 1) if drawn.startswith("genuine") else drawn


# --- the ACS, HTTP-POST ----------------------------------------------------------------------------------


XML_FRAGMENTS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                '<?xml version="1.0" encoding="UTF-8"?>',
                '<?xml version="1.0" encoding="UTF-16"?>',
                '<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
                f'<samlp:Response xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" ID="_1">',
                f'<samlp:Status><samlp:StatusCode Value="{_STATUS}Success"/></samlp:Status>',
                "<saml:Assertion>",
                "</saml:Assertion>",
                "</samlp:Response>",
                "<![CDATA[x]]>",
                "<!-- c -->",
                "&e;",
                "&#0;",
                "<a:b xmlns:a=''/>",
            ]
        ),
        XML_TEXT,
    ),
    max_size=8,
)
SAML_RESPONSES = st.one_of(
    ODD,
    st.binary(max_size=200).map(lambda data: base64.b64encode(data).decode()),
    XML_FRAGMENTS.map(lambda fragments: base64.b64encode("".join(fragments).encode()).decode()),
)


@PROFILE
@given(
    purpose=PURPOSES,
    saml_response=SAML_RESPONSES,
    relay=RELAY_STATES,
    extra=pairs(["SAMLart", "SAMLResponse", "RelayState", "SigAlg", "Signature"], ODD, most=3),
)
def test_acs_post_takes_any_form(
    post_client: FlaskClient,
    answered: Callable[[TestResponse], TestResponse],
    purpose: str,
    saml_response: str,
    relay: str,
    extra: list[tuple[str, str]],
) -> None:
    pending = hand_off(post_client, purpose)
    form = [("SAMLResponse", saml_response), ("RelayState", relay_state_for(pending, relay)), *extra]
    answered(post_client.post("/saml/acs", data=MultiDict(form)))


@PROFILE
@given(purpose=PURPOSES, answer=HOSTILE_ANSWERS)
def test_acs_post_survives_a_hostile_hm(
    post_client: FlaskClient,
    answered: Callable[[TestResponse], TestResponse],
    purpose: str,
    answer: HostileAnswer,
) -> None:
    pending = hand_off(post_client, purpose)
    response = hostile_response(answer, pending.hm, pending.sp, pending.request, pending.now)
    data = change_bytes(etree.tostring(response, xml_declaration=True, encoding="UTF-8"), answer.byte_edits)
    form = {"SAMLResponse": base64.b64encode(data).decode(), "RelayState": pending.relay_state}
    answered(post_client.post("/saml/acs", data=form))


# --- the ACS, HTTP-Artifact --------------------------------------------------------------------------------


def artifact_of(type_code: bytes, index: int, source: bytes, handle: bytes) -> str:
    return base64.b64encode(type_code + index.to_bytes(2, "big") + source + handle).decode()


@st.composite
def artifacts(draw: st.DrawFn, source_id: bytes) -> str:
    """A SAMLart: well-formed for the simulator (an unknown handle), near it, or anything."""
    return draw(
        st.one_of(
            st.builds(
                artifact_of,
                st.sampled_from([b"\x00\x04", b"\x00\x02", b"\xff\xff"]),
                st.integers(0, 0xFFFF),
                st.one_of(st.just(source_id), st.binary(min_size=20, max_size=20)),
                st.binary(min_size=20, max_size=20),
            ),
            st.binary(max_size=60).map(lambda data: base64.b64encode(data).decode()),
            ODD,
        )
    )


@PROFILE
@given(purpose=PURPOSES, data=st.data(), relay=RELAY_STATES, method=st.sampled_from(["GET", "POST"]))
def test_acs_artifact_takes_any_artifact(
    client: FlaskClient,
    answered: Callable[[TestResponse], TestResponse],
    purpose: str,
    data: st.DataObject,
    relay: str,
    method: str,
) -> None:
    pending = hand_off(client, purpose)
    fields = [
        ("SAMLart", data.draw(artifacts(pending.hm.source_id))),
        ("RelayState", relay_state_for(pending, relay)),
        *data.draw(pairs(["SAMLart", "SAMLResponse", "RelayState"], ODD, most=2)),
    ]
    if method == "GET":
        answered(client.get(f"/saml/acs?{urlencode(fields)}"))
    else:
        answered(client.post("/saml/acs", data=MultiDict(fields)))


class HostileTransport:
    """The artifact resolution service of a hostile HM: it answers every resolve with `answer`."""

    def __init__(self) -> None:
        self.answer: Callable[[str], bytes] = lambda resolve_id: b""

    def __call__(self, url: str, body: bytes) -> bytes:
        resolve = etree.fromstring(body).find(f"{{{NS['soap']}}}Body/{{{NS['samlp']}}}ArtifactResolve")
        assert resolve is not None
        return self.answer(resolve.get("ID", ""))


@pytest.fixture(scope="module")
def hostile_hm(
    tmp_path_factory: pytest.TempPathFactory, clock: MovableClock
) -> tuple[Flask, HostileTransport]:
    """An app that resolves artifacts at a hostile HM (the simulator's identity and keys)."""
    app = migrated_app(tmp_path_factory.mktemp("hostile-hm"), clock)
    transport = HostileTransport()
    state = app.extensions["broker"]
    app.extensions["broker"] = replace(state, upstream=replace(state.upstream, transport=transport))
    return app, transport


@PROFILE
@given(purpose=PURPOSES, answer=HOSTILE_ANSWERS)
def test_acs_artifact_survives_a_hostile_hm(
    hostile_hm: tuple[Flask, HostileTransport],
    answered: Callable[[TestResponse], TestResponse],
    purpose: str,
    answer: HostileAnswer,
) -> None:
    app, transport = hostile_hm
    client = app.test_client()
    pending = hand_off(client, purpose)
    transport.answer = lambda resolve_id: hostile_artifact_response(
        answer, pending.hm, pending.sp, pending.request, pending.now, resolve_id
    )
    artifact, _ = new_artifact(pending.hm)
    answered(client.get(f"/saml/acs?{urlencode({'SAMLart': artifact, 'RelayState': pending.relay_state})}"))


# --- /oidc/authorize ---------------------------------------------------------------------------------

AUTHORIZE_NAMES = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "acr_values",
    "prompt",
    "max_age",
    "response_mode",
    "ui_locales",
    "claims",
    "request",
    "request_uri",
    "login_hint",
    "id_token_hint",
]
# What poses as a `claims` parameter (OpenID Connect Core §5.5): its members' names and claim names
# among any others, nested any way, with any JSON values.
CLAIMS_NAMES = st.one_of(
    st.sampled_from(
        ["id_token", "userinfo", "acr", "sub", "kvk_number", "given_name", "essential", "value", "values"]
    ),
    st.text(max_size=8),
)
CLAIMS_REQUESTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(TRICKY),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(CLAIMS_NAMES, inner, max_size=3),
    max_leaves=10,
)
# A request that would pass, each value of which may be replaced or dropped.
VALID_AUTHORIZE = {
    "response_type": "code",
    "client_id": "ind-portal",
    "redirect_uri": REDIRECT,
    "scope": "openid kvk",
    "state": "s",
    "nonce": "n",
    "code_challenge": b64url(b"c" * 32),
    "code_challenge_method": "S256",
}
AUTHORIZE_VALUES = st.one_of(
    ODD,
    st.builds(json.dumps, CLAIMS_REQUESTS),
    st.sampled_from(
        [
            *CLIENT_IDS,
            REDIRECT,
            REDIRECT + "/../x",
            REDIRECT.upper(),
            "code",
            "code id_token",
            "openid",
            "openid kvk mandate acting_subject",
            "S256",
            "plain",
            "login",
            "none",
            "urn:etoegang:core:assurance-class:loa4",
            "form_post",
        ]
    ),
)
RAW_TAILS = st.sampled_from(
    ["", "&", "%", "%zz", "%ff%fe", "&&==&", ";x=1", "&client_id", "=x", "%00", "+%2B"]
)


@PROFILE
@given(
    dropped=st.sets(st.sampled_from(list(VALID_AUTHORIZE))),
    changed=pairs(AUTHORIZE_NAMES, AUTHORIZE_VALUES),
    tail=RAW_TAILS,
    method=st.sampled_from(["GET", "POST"]),
)
def test_authorize_takes_any_parameters(
    client: FlaskClient,
    answered: Callable[[TestResponse], TestResponse],
    dropped: set[str],
    changed: list[tuple[str, str]],
    tail: str,
    method: str,
) -> None:
    kept = [(name, value) for name, value in VALID_AUTHORIZE.items() if name not in dropped]
    query = urlencode([*kept, *changed]) + tail
    if method == "GET":
        answered(client.get(f"/oidc/authorize?{query}"))
    else:
        answered(client.post("/oidc/authorize", data=query, content_type="application/x-www-form-urlencoded"))


# --- /oidc/token ---------------------------------------------------------------------------------------

TOKEN_NAMES = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "client_assertion_type",
    "client_assertion",
    "scope",
    "refresh_token",
]
TOKEN_VALUES = st.one_of(
    ODD,
    st.sampled_from(
        [
            *CLIENT_IDS,
            "authorization_code",
            "refresh_token",
            "client_credentials",
            REDIRECT,
            SECRET,
            JWT_BEARER,
        ]
    ),
)
TOKEN_FIELDS = ["grant_type", "code", "redirect_uri", "code_verifier"]


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


GENUINE_BASIC = basic("ind-portal", SECRET)
BASIC_NAMES = st.one_of(st.sampled_from(CLIENT_IDS), ODD)
BASIC_SECRETS = st.one_of(st.just(SECRET), ODD)
AUTHORIZATIONS = st.one_of(
    st.none(),
    st.just(GENUINE_BASIC),
    st.just(GENUINE_BASIC),
    st.builds(basic, BASIC_NAMES, BASIC_SECRETS),
    st.builds(lambda user, secret: basic(quote(user), quote(secret)), BASIC_NAMES, BASIC_SECRETS),
    st.binary(max_size=60).map(lambda data: "Basic " + base64.b64encode(data).decode()),
    HEADER_TEXT.map(lambda text: "Basic " + text),
    st.builds(
        lambda scheme, rest: f"{scheme} {rest}",
        st.sampled_from(["basic", "BASIC", "Bearer", "Digest", ""]),
        HEADER_TEXT,
    ),
    HEADER_TEXT,
)


def genuine_code(client: FlaskClient, client_id: str, method: str) -> dict[str, str]:
    """The token request fields of a genuine, unused code for `client_id`."""
    portal = Portal(client, client_id, method)
    code = redirect_parameters(portal.sign_in())["code"]
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": portal.verifier or "",
    }


def token_fields(
    genuine: dict[str, str] | None, dropped: set[str], changed: list[tuple[str, str]]
) -> MultiDict:
    base = genuine or {
        "grant_type": "authorization_code",
        "code": "c",
        "redirect_uri": REDIRECT,
        "code_verifier": "v",
    }
    return MultiDict([*((name, base[name]) for name in TOKEN_FIELDS if name not in dropped), *changed])


@PROFILE
@given(
    with_code=st.booleans(),
    dropped=st.sets(st.sampled_from(TOKEN_FIELDS)),
    changed=pairs(TOKEN_NAMES, TOKEN_VALUES, most=4),
    authorization=AUTHORIZATIONS,
)
# Basic credentials that are not base64 (text outside ASCII), or not of UTF-8; a header that
# splits into fewer parts than it seems to have.
@example(with_code=False, dropped=set(), changed=[], authorization="Basic \x80")
@example(with_code=False, dropped=set(), changed=[], authorization="Basic !!")
@example(
    with_code=False,
    dropped=set(),
    changed=[],
    authorization="Basic " + base64.b64encode(b"\xff:\xfe").decode(),
)
@example(with_code=False, dropped=set(), changed=[], authorization="Basic")
@example(with_code=False, dropped=set(), changed=[], authorization=" ")
@example(with_code=False, dropped=set(), changed=[], authorization="0 ")
@example(with_code=False, dropped=set(), changed=[], authorization="Basic \xa0")
def test_token_takes_any_request(
    client: FlaskClient,
    answered: Callable[[TestResponse], TestResponse],
    with_code: bool,
    dropped: set[str],
    changed: list[tuple[str, str]],
    authorization: str | None,
) -> None:
    genuine = genuine_code(client, "ind-portal", "client_secret_basic") if with_code else None
    headers = {} if authorization is None else {"Authorization": authorization}
    answered(client.post("/oidc/token", data=token_fields(genuine, dropped, changed), headers=headers))


JOSE_HEADERS = st.one_of(
    st.fixed_dictionaries(
        {"alg": st.sampled_from(["RS256", "RS256", "ES256", "RS512", "PS256", "HS256", "none", "", "EdDSA"])},
        optional={
            "kid": st.one_of(st.just(PORTAL_KEY.kid), JSON),
            "typ": st.one_of(st.just("JWT"), JSON),
            "cty": JSON,
            "crit": JSON,
            "jku": JSON,
            "x5u": JSON,
            "x5c": JSON,
            "jwk": JSON,
            "b64": JSON,
            "zip": JSON,
            "enc": JSON,
        },
    ),
    st.dictionaries(st.text(max_size=5), JSON, max_size=4),
    JSON,
)
TIMES = st.one_of(
    # Near now, as a genuine assertion's times are; then any number, or no number at all.
    st.integers(-900, 900).map(lambda seconds: int(time.time()) + seconds),
    st.integers(-900, 900).map(lambda seconds: int(time.time()) + seconds),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**18, 2**63, 2**64, -(2**63), 253402300800, 10**400]),
    JSON,
)


def signed(header: object, claims: object) -> str:
    """A JWS over any JSON `header` and `claims`, signed RS256 with the portal's key."""
    head, body = b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode())
    value = PORTAL_KEY.private_key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{b64url(value)}"


def fitting_claims(client_id: str, **changes: object) -> dict[str, object]:
    """The claims of a client assertion that fits, with `changes`."""
    now = int(time.time())
    jti = secrets.token_urlsafe(8)
    claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "iat": now, "exp": now + 60, "jti": jti}
    return claims | changes


@st.composite
def client_assertions(draw: st.DrawFn) -> tuple[str, str]:
    """A client_id and a JWT (or what poses as one) from it: any header and claims, signed with
    the portal's key, or not."""
    client_id = draw(st.sampled_from(["olo-jwt", "olo-jwt", *CLIENT_IDS, "unknown"]))
    claims = draw(
        st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "iss": st.one_of(st.just(client_id), JSON),
                    "sub": st.one_of(st.just(client_id), JSON),
                    "aud": st.one_of(
                        st.just(TOKEN_URL), st.just([TOKEN_URL, "x"]), st.just(TEST_BASE_URL), JSON
                    ),
                    "exp": TIMES,
                    "iat": TIMES,
                    "nbf": TIMES,
                    "jti": st.one_of(st.text(max_size=20), JSON),
                },
            ),
            JSON,
        )
    )
    header = draw(JOSE_HEADERS)
    how = draw(st.sampled_from(["signed", "signed", "signed", "garbage", "empty", "two", "five", "odd"]))
    if how == "signed":
        return client_id, signed(header, claims)
    head, body = b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode())
    shapes = {
        "garbage": f"{head}.{body}.{b64url(draw(st.binary(max_size=300)))}",
        "empty": f"{head}.{body}.",
        "two": f"{head}.{body}",
        "five": f"{head}.{body}.{body}.{body}.{head}",
    }
    return client_id, shapes[how] if how in shapes else draw(ODD)


def pinned_assertion(client_id: str, header: object, claims: object) -> Callable[[Any], Any]:
    """An example always run: a signed assertion from `client_id`, to an otherwise fitting request."""
    return example(
        with_code=False, assertion=(client_id, signed(header, claims)), assertion_type=JWT_BEARER, changed=[]
    )


RS256 = {"alg": "RS256", "kid": PORTAL_KEY.kid}


@PROFILE
@given(
    with_code=st.booleans(),
    assertion=client_assertions(),
    assertion_type=st.one_of(st.just(JWT_BEARER), st.just(JWT_BEARER), ODD),
    changed=pairs(TOKEN_NAMES, TOKEN_VALUES, most=2),
)
# A client without keys; JOSE header members of the wrong type; times past any datetime.
@pinned_assertion("ind-portal", RS256, fitting_claims("ind-portal"))
@pinned_assertion("olo-public", RS256, fitting_claims("olo-public"))
@pinned_assertion("olo-jwt", {**RS256, "crit": 1}, fitting_claims("olo-jwt"))
@pinned_assertion("olo-jwt", {**RS256, "crit": ["exp"]}, fitting_claims("olo-jwt"))
@pinned_assertion("olo-jwt", {"alg": ["RS256"]}, fitting_claims("olo-jwt"))
@pinned_assertion("olo-jwt", {**RS256, "kid": {}}, fitting_claims("olo-jwt"))
@pinned_assertion("olo-jwt", RS256, fitting_claims("olo-jwt", exp=10**20))
@pinned_assertion("olo-jwt", RS256, fitting_claims("olo-jwt", exp=1e300))
@pinned_assertion("olo-jwt", RS256, fitting_claims("olo-jwt", iat=-(10**20)))
@pinned_assertion("olo-jwt", RS256, fitting_claims("olo-jwt", exp="never"))
def test_token_takes_any_client_assertion(
    client: FlaskClient,
    answered: Callable[[TestResponse], TestResponse],
    with_code: bool,
    assertion: tuple[str, str],
    assertion_type: str,
    changed: list[tuple[str, str]],
) -> None:
    genuine = genuine_code(client, "olo-jwt", "private_key_jwt") if with_code else None
    fields = token_fields(genuine, set(), changed)
    client_id, jwt = assertion
    fields.add("client_id", client_id)
    fields.add("client_assertion_type", assertion_type)
    fields.add("client_assertion", jwt)
    answered(client.post("/oidc/token", data=fields))


# --- request objects and /oidc/par --------------------------------------------------------------------

REQUEST_OBJECT_CLAIMS = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "iss": st.one_of(st.just("olo-jwt"), JSON),
            "aud": st.one_of(st.just(TEST_BASE_URL), st.just([TEST_BASE_URL, "x"]), JSON),
            "exp": TIMES,
            "iat": TIMES,
            "nbf": TIMES,
            "client_id": st.one_of(st.just("olo-jwt"), JSON),
            "request": JSON,
            "request_uri": JSON,
            "claims": CLAIMS_REQUESTS,
            **{name: st.one_of(AUTHORIZE_VALUES, JSON) for name in VALID_AUTHORIZE if name != "client_id"},
        },
    ),
    JSON,
)


@st.composite
def request_objects(draw: st.DrawFn) -> str:
    """A request object from olo-jwt, or what poses as one: any header and claims, signed with the
    portal's key, or not."""
    header, claims = draw(JOSE_HEADERS), draw(REQUEST_OBJECT_CLAIMS)
    how = draw(st.sampled_from(["signed", "signed", "signed", "garbage", "five", "odd"]))
    if how == "signed":
        return signed(header, claims)
    head, body = b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode())
    if how == "garbage":
        return f"{head}.{body}.{b64url(draw(st.binary(max_size=300)))}"
    return f"{head}.{body}.{body}.{body}.{head}" if how == "five" else draw(ODD)


@PROFILE
@given(
    request_object=request_objects(),
    changed=pairs(AUTHORIZE_NAMES, AUTHORIZE_VALUES, most=3),
    method=st.sampled_from(["GET", "POST"]),
)
@example(request_object=signed(RS256, {"exp": 10**400}), changed=[], method="GET")
@example(
    request_object=signed(RS256, {"iss": "olo-jwt", "aud": TEST_BASE_URL, "exp": 1e300}),
    changed=[],
    method="GET",
)
def test_authorize_takes_any_request_object(
    client: FlaskClient,
    answered: Callable[[TestResponse], TestResponse],
    request_object: str,
    changed: list[tuple[str, str]],
    method: str,
) -> None:
    query = urlencode(
        [("client_id", "olo-jwt"), ("redirect_uri", REDIRECT), ("request", request_object), *changed]
    )
    if method == "GET":
        answered(client.get(f"/oidc/authorize?{query}"))
    else:
        answered(client.post("/oidc/authorize", data=query, content_type="application/x-www-form-urlencoded"))


@PROFILE
@given(
    dropped=st.sets(st.sampled_from(list(VALID_AUTHORIZE))),
    changed=pairs(AUTHORIZE_NAMES, AUTHORIZE_VALUES, most=4),
    request_object=st.one_of(st.none(), request_objects()),
    authorization=AUTHORIZATIONS,
)
def test_par_takes_any_request(
    client: FlaskClient,
    answered: Callable[[TestResponse], TestResponse],
    dropped: set[str],
    changed: list[tuple[str, str]],
    request_object: str | None,
    authorization: str | None,
) -> None:
    fields = MultiDict([*((n, v) for n, v in VALID_AUTHORIZE.items() if n not in dropped), *changed])
    if request_object is not None:
        fields.add("request", request_object)
    headers = {} if authorization is None else {"Authorization": authorization}
    answered(client.post("/oidc/par", data=fields, headers=headers))


# --- /oidc/userinfo ------------------------------------------------------------------------------------


@pytest.fixture
def access_tokens(client: FlaskClient) -> list[str]:
    """Genuine access tokens: an opaque one and an RFC 9068 JWT."""
    tokens = []
    for client_id, method in (("ind-portal", "client_secret_basic"), ("olo-post", "client_secret_post")):
        portal = Portal(client, client_id, method)
        answer = portal.token(redirect_parameters(portal.sign_in())["code"])
        assert answer.status_code == 200, answer.get_json()
        tokens.append(answer.get_json()["access_token"])
    return tokens


@PROFILE
@given(
    which=st.integers(0, 1),
    token=st.one_of(
        st.just("genuine"),
        st.builds(lambda tail: f"genuine{tail}", HEADER_TEXT),
        HEADER_TEXT,
        st.builds(
            lambda h, c: f"{b64url(json.dumps(h).encode())}.{b64url(json.dumps(c).encode())}.x", JSON, JSON
        ),
    ),
    scheme=st.sampled_from(["Bearer ", "bearer ", "Bearer  ", "Basic ", "", "Bearer\t"]),
    in_header=MOSTLY,
    form=pairs(["access_token", "scope", "claims"], ODD, most=3),
    query=pairs(["access_token", "scope"], ODD, most=2),
    method=st.sampled_from(["GET", "POST"]),
)
def test_userinfo_takes_any_token(
    client: FlaskClient,
    answered: Callable[[TestResponse], TestResponse],
    access_tokens: list[str],
    which: int,
    token: str,
    scheme: str,
    in_header: bool,
    form: list[tuple[str, str]],
    query: list[tuple[str, str]],
    method: str,
) -> None:
    token = token.replace("genuine", access_tokens[which], 1) if token.startswith("genuine") else token
    headers = {"Authorization": scheme + token} if in_header else {}
    path = f"/oidc/userinfo?{urlencode(query)}"
    if method == "GET":
        answered(client.get(path, headers=headers))
    else:
        answered(client.post(path, data=MultiDict(form), headers=headers))


# --- the establishment picker -----------------------------------------------------------------------------


# "genuine" (the page's own value) four times in six; else absent (None) or odd.
GENUINE_MOSTLY = st.tuples(st.sampled_from(["genuine"] * 4 + ["absent", "odd"]), ODD).map(
    lambda drawn: {"genuine": "genuine", "absent": None}.get(drawn[0], drawn[1])
)


@PROFILE
@given(
    fresh=MOSTLY,
    # The picker (several establishments) or the "try again" page (KvK away).
    company=st.sampled_from(["12345678", "12345678", "99999999"]),
    choice=GENUINE_MOSTLY,
    csrf=GENUINE_MOSTLY,
    action=st.one_of(st.sampled_from(["pick", "retry", "cancel"]), st.none(), ODD),
    establishment=st.one_of(
        st.sampled_from(["000052460101", "000052460104", "000099999999"]), st.none(), ODD
    ),
    extra=pairs(["choice", "csrf_token", "action", "establishment"], ODD, most=3),
)
def test_establishment_takes_any_answer(
    client: FlaskClient,
    answered: Callable[[TestResponse], TestResponse],
    fresh: bool,
    company: str,
    choice: str | None,
    csrf: str | None,
    action: str | None,
    establishment: str | None,
    extra: list[tuple[str, str]],
) -> None:
    genuine = {"choice": "", "csrf_token": ""}
    if fresh:
        page = Portal(client, "olo-establishment").sign_in(kvk=company)
        assert page.status_code in (200, 503), page.get_data(as_text=True)[-600:]
        (form,) = forms(page)
        genuine = form.fields
    drawn = {"choice": choice, "csrf_token": csrf, "action": action, "establishment": establishment}
    fields = [
        (name, genuine.get(name, "") if value == "genuine" else value)
        for name, value in drawn.items()
        if value is not None
    ]
    answered(client.post("/oidc/establishment", data=MultiDict([*fields, *extra])))
