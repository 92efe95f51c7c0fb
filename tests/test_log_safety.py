"""Log lines carry request data escaped and cut: a request cannot add a line or flood one."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from lxml import etree

from broker import logsafe
from saml.simulator import Status
from saml.xml import qname
from tests.clients import REDIRECT
from tests.web.browser import forms, local, submit

# What an attacker would like the log to show as a line of its own.
FORGED = "2026-03-02 09:30:00,000 INFO broker.oidc decision client=ind-portal outcome=admitted:own_company"
_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")


def rendered(records: list[logging.LogRecord]) -> list[str]:
    """What a log file would show of `records`: each formatted, exception included, as its lines."""
    return [line for record in records for line in _FORMAT.format(record).split("\n")]


def broker_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The broker's lines, less the one every answered request adds (endpoint, status, duration)."""
    return [
        record
        for record in caplog.records
        if record.name.partition(".")[0] == "broker" and record.name != "broker.request"
    ]


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    logsafe.install()
    caplog.set_level(logging.INFO)
    yield caplog


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a\r\nb", "a\\r\\nb"),
        ("tab\tnul\x00del\x7fnel\x85", "tab\\tnul\\x00del\\x7fnel\\x85"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("right-to-left \u202eevil", "right-to-left \\u202eevil"),
        ("a typed \\n stays apart from an escaped one", "a typed \\\\n stays apart from an escaped one"),
        ("Ünïcödé letters stay", "Ünïcödé letters stay"),
    ],
)
def test_control_characters_are_escaped(value: str, shown: str) -> None:
    assert logsafe.shown(value) == shown


def test_a_long_value_is_cut_and_says_so() -> None:
    assert logsafe.shown("x" * 1000) == "x" * logsafe.LIMIT + f"...({1000 - logsafe.LIMIT} more)"
    # Cut before escaping: the limit counts the sender's characters, not ours.
    assert logsafe.shown("\n" * 1000) == "\\n" * logsafe.LIMIT + f"...({1000 - logsafe.LIMIT} more)"


def test_every_broker_logger_is_covered_and_others_left_alone(logged: pytest.LogCaptureFixture) -> None:
    logging.getLogger("broker.some.new.place").info("value=%s count=%d", f"x\n{FORGED}", 3)
    logging.getLogger("broker").info(f"formatted before logging\n{FORGED}")
    logging.getLogger("elsewhere").info("value=%s", "x\ny")
    ours, without_arguments, other = logged.records
    assert ours.getMessage() == f"value=x\\n{FORGED} count=3"
    assert without_arguments.getMessage() == f"formatted before logging\\n{FORGED}"
    assert other.getMessage() == "value=x\ny"


def test_named_arguments_are_covered(logged: pytest.LogCaptureFixture) -> None:
    logging.getLogger("broker").info("value=%(value)s", {"value": "a\r\nb"})
    assert logged.records[0].getMessage() == "value=a\\r\\nb"


def test_an_exception_message_cannot_add_a_line(logged: pytest.LogCaptureFixture) -> None:
    try:
        try:
            raise LookupError(f"inner\r\n{FORGED}")
        except LookupError as error:
            raise ValueError(f"outer\n{FORGED}") from error
    except ValueError:
        logging.getLogger("broker.web").exception("unexpected error ref=%s", "abc")
    lines = rendered(logged.records)
    assert not any(line.startswith(FORGED) for line in lines)
    assert lines[-1] == f"ValueError: outer\\n{FORGED}"
    assert "The above exception was the direct cause of the following exception:" in lines
    assert any(line == f"LookupError: inner\\r\\n{FORGED}" for line in lines)
    assert any(
        line.startswith("  File ") and line.endswith("in test_an_exception_message_cannot_add_a_line")
        for line in lines
    )


def test_a_rejected_redirect_uri_gives_one_line(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    query = {
        "response_type": "code",
        "client_id": "ind-portal",
        "redirect_uri": f"{REDIRECT}\r\n{FORGED}",
        "scope": "openid",
        "state": "s",
    }
    caplog.set_level(logging.INFO)
    answer = client.get(f"/oidc/authorize?{urlencode(query)}")
    assert answer.status_code == 400
    (record,) = broker_records(caplog)
    (line,) = rendered([record])
    assert record.levelno == logging.INFO
    # Whatever of the URI the line shows (it need show none), it shows escaped.
    assert FORGED not in line or f"\\r\\n{FORGED}" in line


def test_an_unsigned_status_gives_one_line(
    post_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """An unsigned Response may carry any status: its codes reach the log, escaped."""
    client = post_client
    at_hm = submit(client, client.get("/saml/test-login?service=ind-portaal-zakelijk"), action="cancel")
    (form,) = forms(at_hm)
    forged_code = f"urn:evil\r\n{FORGED}"
    fields = dict(form.fields, SAMLResponse=_with_status(form.fields["SAMLResponse"], forged_code))
    caplog.set_level(logging.INFO)
    caplog.clear()
    page = client.post(local(form.action), data=fields)
    assert page.status_code == 400
    (record,) = broker_records(caplog)
    (line,) = rendered([record])
    assert f"status=urn:oasis:names:tc:SAML:2.0:status:Responder / urn:evil\\r\\n{FORGED}" in line


def _with_status(posted: str, code: str) -> str:
    """The posted Response, unsigned, with a status of `code` under Responder and a message."""
    response = etree.fromstring(base64.b64decode(posted))
    signature = response.find(qname("ds", "Signature"))
    if signature is not None:
        response.remove(signature)
    status = response.find(qname("samlp", "Status"))
    assert status is not None
    forged = Status(("urn:oasis:names:tc:SAML:2.0:status:Responder", code), f"bye\r\n{FORGED}")
    response.replace(status, forged.element())
    return base64.b64encode(etree.tostring(response)).decode()
