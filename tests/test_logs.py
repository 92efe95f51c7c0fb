"""JSON log lines: a request id on every line of a request, one sign-in reference from authorize
through the ACS and the picker to the token endpoint, the values made safe as in text lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient

from broker import logs
from config import ConfigError, load_settings
from tests.clients import REDIRECT
from tests.conftest import broker_environ
from tests.oidc.portal import Portal, redirect_parameters
from tests.oidc.test_establishment_signin import REQUIRED, SECOND, SEVERAL, answer_picker
from tests.test_config import production_environ

KVK = "24444001"  # the simulator's company
Line = dict[str, Any]


@contextmanager
def json_lines() -> Iterator[list[Line]]:
    """The JSON lines the process writes meanwhile, each parsed, once the block ends."""
    stream = io.StringIO()
    handler = logs.handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    parsed: list[Line] = []
    try:
        yield parsed
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        parsed.extend(json.loads(line) for line in stream.getvalue().splitlines())


def requests_by_endpoint(lines: list[Line]) -> dict[str, Line]:
    return {line["endpoint"]: line for line in lines if line["logger"] == "broker.request"}


def test_one_reference_runs_through_a_sign_in_and_each_request_has_its_id(client: FlaskClient) -> None:
    portal = Portal(client, "ind-portal")
    with json_lines() as lines:
        code = redirect_parameters(portal.sign_in())["code"]
        assert portal.token(code).status_code == 200
    seen = requests_by_endpoint(lines)
    steps = ("oidc.authorize", "saml.acs", "oidc.token")
    references = {seen[step].get("sign_in") for step in steps}
    assert len(references) == 1 and None not in references, references
    (reference,) = references
    assert reference.startswith("_")  # the SAML request's ID
    # Every line of the ACS's request (the decision's too) names the sign-in and the request.
    acs = seen["saml.acs"]["request_id"]
    decision = [line for line in lines if line["event"].startswith("decision ")]
    assert decision
    assert all(line["sign_in"] == reference and line["request_id"] == acs for line in decision)
    assert len({seen[step]["request_id"] for step in steps}) == 3
    for line in lines:
        assert {"time", "level", "logger", "event"} <= set(line)
    assert all(isinstance(seen[step]["duration_ms"], float) for step in steps)
    # At INFO nothing of the company or the credentials.
    assert all(KVK not in json.dumps(line) and code not in json.dumps(line) for line in lines)


def test_the_picker_finds_the_reference_in_the_pending_choice(client: FlaskClient) -> None:
    portal = Portal(client, REQUIRED)
    with json_lines() as lines:
        page = portal.sign_in(kvk=SEVERAL)
        assert page.status_code == 200
        code = redirect_parameters(answer_picker(client, page, "pick", establishment=SECOND))["code"]
        assert portal.token(code).status_code == 200
    seen = requests_by_endpoint(lines)
    steps = ("oidc.authorize", "saml.acs", "establishment.answer", "oidc.token")
    references = {seen[step].get("sign_in") for step in steps}
    assert len(references) == 1 and None not in references, references


def test_the_request_id_is_sent_back_and_a_proxys_is_kept_when_it_looks_like_one(client: FlaskClient) -> None:
    made = client.get("/.well-known/openid-configuration").headers["X-Request-ID"]
    assert len(made) == 16
    kept = client.get("/.well-known/openid-configuration", headers={"X-Request-ID": "proxy-1234abcd"})
    assert kept.headers["X-Request-ID"] == "proxy-1234abcd"
    odd = client.get("/.well-known/openid-configuration", headers={"X-Request-ID": "not one; <script>"})
    assert odd.headers["X-Request-ID"] not in {"not one; <script>", made}


def test_polled_endpoints_write_no_lines(client: FlaskClient) -> None:
    with json_lines() as lines:
        for path in ("/healthz", "/readyz", "/metrics"):
            client.get(path)
    assert [line for line in lines if line["logger"] == "broker.request"] == []


def test_request_data_stays_escaped_and_cut_in_json(client: FlaskClient) -> None:
    forged = "\r\n2026-01-01 INFO broker forged line"
    query = {
        "response_type": "code",
        "client_id": "ind-portal",
        "redirect_uri": REDIRECT + forged + "x" * 500,
    }
    with json_lines() as lines:
        client.get(f"/oidc/authorize?{urlencode(query | {'scope': 'openid', 'state': 's'})}")
    refused = [line for line in lines if line["event"].startswith("authorize refused")]
    assert refused
    for line in refused:
        assert "\r" not in line["event"] and "\n" not in line["event"]
        assert len(line["event"]) < 600


def test_an_exception_in_json_carries_the_safe_traceback(app: Flask) -> None:
    with json_lines() as lines, app.test_request_context():
        try:
            raise ValueError("line one\r\nforged line" + "y" * 1000)
        except ValueError:
            logging.getLogger("broker.test").exception("failed")
    (line,) = lines
    assert "line one\\r\\nforged line" in line["exc_info"]
    assert "more)" in line["exc_info"]  # cut, as logsafe cuts


def test_json_is_production_s_default_and_text_the_others(tmp_path: Path) -> None:
    assert load_settings(production_environ(tmp_path)).operations.log_format == "json"
    assert load_settings(broker_environ(tmp_path)).operations.log_format == "text"
    assert load_settings(broker_environ(tmp_path, BROKER_LOG_FORMAT="json")).operations.log_format == "json"
    with pytest.raises(ConfigError, match="BROKER_LOG_FORMAT must be json or text"):
        load_settings(broker_environ(tmp_path, BROKER_LOG_FORMAT="xml"))
