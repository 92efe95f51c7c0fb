"""Whole sign-ins through the ACS, the way a browser makes them: test login → simulator → ACS.

Every message is real: our signed AuthnRequest, the simulator's signed response with encrypted
attributes, the signed ArtifactResolve and its answer. Refusals come back as bilingual pages.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import MovableClock
from tests.web.browser import follow, forms, local, submit

IND = "ind-portaal-zakelijk"


def start(client: FlaskClient, service: str = IND) -> TestResponse:
    """The page that hands the browser to the HM."""
    page = client.get(f"/saml/test-login?service={service}")
    assert page.status_code == 200
    return page


def sign_in(client: FlaskClient, service: str = IND, **choices: str) -> TestResponse:
    """A whole sign-in, the simulator answering with `choices` as if the tester picked them."""
    at_hm = submit(client, start(client, service), action="login", **choices)
    if at_hm.status_code != 200 or not forms(at_hm):
        return at_hm  # an artifact redirect already reached the ACS, or a refusal
    return submit(client, at_hm)


def field(page: TestResponse, name: str) -> str:
    match = re.search(rf'<dd id="{name}">([^<]*)</dd>', page.get_data(as_text=True))
    assert match, f"no {name} on the page"
    return match.group(1)


def refusal_code(page: TestResponse) -> str:
    match = re.search(r"<code>[0-9a-f]{12}</code> \(([a-z_0-9]+)\)", page.get_data(as_text=True))
    assert match, "not a refusal page"
    return match.group(1)


@pytest.mark.parametrize("binding", ["artifact", "post"])
@pytest.mark.parametrize(
    ("choices", "legal", "intermediary", "establishment"),
    [
        ({"kvk": "12345678", "mandate": "own"}, "kvk: 12345678", "—", "—"),
        (
            {"kvk": "12345678", "mandate": "representative", "intermediary": "87654321"},
            "kvk: 12345678",
            "kvk: 87654321",
            "—",
        ),
        (
            {"kvk": "24444001", "mandate": "own", "establishment": "000012345678"},
            "kvk: 24444001",
            "—",
            "000012345678",
        ),
    ],
    ids=["own-company", "representative", "establishment-restricted"],
)
def test_each_mandate_kind_signs_in_over_each_binding(
    client_for: Callable[[str], FlaskClient],
    binding: str,
    choices: dict[str, str],
    legal: str,
    intermediary: str,
    establishment: str,
) -> None:
    page = sign_in(client_for(binding), loa="loa3", **choices)
    assert page.status_code == 200, page.get_data(as_text=True)
    assert field(page, "legal-subject") == legal
    assert field(page, "intermediary") == intermediary
    assert field(page, "establishment") == establishment
    assert field(page, "level").startswith("EH3")


def test_an_artifact_arrives_by_redirect_and_is_resolved_once(client: FlaskClient) -> None:
    (form,) = forms(start(client))
    to_acs = client.post(local(form.action) + "?action=login&binding=artifact", data=form.fields)
    assert to_acs.status_code == 303
    acs_url = local(to_acs.headers["Location"])
    assert acs_url.startswith("/saml/acs?SAMLart=")
    assert client.get(acs_url).status_code == 200
    again = client.get(acs_url)
    assert (again.status_code, refusal_code(again)) == (400, "request_used")


def test_nested_signed_assertions_in_advice_are_accepted(client: FlaskClient) -> None:
    page = sign_in(client, binding="artifact", advice="1", mandate="representative")
    assert page.status_code == 200
    assert field(page, "intermediary") == "kvk: 87654321"


def test_a_higher_level_than_the_minimum_is_accepted(client: FlaskClient) -> None:
    page = sign_in(client, "omgevingsloket", loa="loa4")
    assert page.status_code == 200
    assert field(page, "level").startswith("EH4")


@pytest.mark.parametrize(
    ("choices", "status", "code"),
    [
        ({"loa": "loa2plus"}, 403, "loa_too_low"),
        ({"loa": "loa1"}, 400, "loa_unknown"),
        ({"mandate": "none"}, 403, "request_denied"),
    ],
)
def test_what_the_service_does_not_admit_is_refused(
    client: FlaskClient, choices: dict[str, str], status: int, code: str
) -> None:
    page = sign_in(client, **choices)
    assert (page.status_code, refusal_code(page)) == (status, code)
    assert 'lang="en"' in page.get_data(as_text=True)


def test_a_level_too_low_page_names_the_level_needed(client: FlaskClient) -> None:
    html = sign_in(client, loa="loa2").get_data(as_text=True)
    assert "minstens betrouwbaarheidsniveau EH3" in html
    assert "at least level of assurance EH3" in html


@pytest.mark.parametrize("binding", ["artifact", "post"])
def test_a_cancelled_sign_in_says_so_and_cannot_be_finished_later(
    client_for: Callable[[str], FlaskClient], binding: str
) -> None:
    client = client_for(binding)
    (form,) = forms(start(client))
    cancelled = answer_at_hm(client, form.fields, action="cancel")
    assert refusal_code(cancelled) == "cancelled"
    assert "U heeft het inloggen afgebroken" in cancelled.get_data(as_text=True)
    assert "You cancelled signing in" in cancelled.get_data(as_text=True)
    late = answer_at_hm(client, form.fields, action="login")
    assert refusal_code(late) == "request_used"


def answer_at_hm(client: FlaskClient, request_fields: dict[str, str], **choices: str) -> TestResponse:
    """Answer an AuthnRequest (again, if it was answered before) over the binding it asks for,
    and take the answer to the ACS."""
    answer = client.post(f"/simulator/sso?{urlencode(choices)}", data=request_fields)
    return submit(client, answer) if answer.status_code == 200 else follow(client, answer)


@pytest.mark.parametrize(("asked", "answered"), [("artifact", "post"), ("post", "artifact")])
def test_an_answer_over_another_binding_than_asked_is_refused_and_the_request_stays_open(
    client_for: Callable[[str], FlaskClient], asked: str, answered: str
) -> None:
    client = client_for(asked)
    (form,) = forms(start(client))
    other = client.post(f"/simulator/sso?action=login&binding={answered}", data=form.fields)
    page = submit(client, other) if answered == "post" else follow(client, other)
    assert (page.status_code, refusal_code(page)) == (400, "binding_not_requested")
    # Refused before anything was read or used up: the genuine answer still finishes the sign-in.
    assert answer_at_hm(client, form.fields, action="login").status_code == 200


def test_a_posted_response_is_accepted_once(post_client: FlaskClient) -> None:
    client = post_client
    at_hm = submit(client, start(client), action="login")
    (form,) = forms(at_hm)
    assert client.post(local(form.action), data=form.fields).status_code == 200
    replay = client.post(local(form.action), data=form.fields)
    assert (replay.status_code, refusal_code(replay)) == (400, "request_used")


def test_a_response_is_not_taken_from_a_query_string(client: FlaskClient) -> None:
    at_hm = submit(client, start(client), action="login", binding="post")
    (form,) = forms(at_hm)
    page = client.get("/saml/acs", query_string=form.fields)
    assert refusal_code(page) == "message_missing"


def test_a_response_after_the_request_expired_is_refused(
    post_client: FlaskClient, clock: MovableClock
) -> None:
    client = post_client
    at_hm = submit(client, start(client), action="login")
    (form,) = forms(at_hm)
    clock.advance(timedelta(minutes=16))
    page = client.post(local(form.action), data=form.fields)
    assert refusal_code(page) == "request_expired"


@pytest.mark.parametrize(
    ("relay_state", "code"),
    [
        (None, "relay_state_invalid"),
        ("", "relay_state_invalid"),
        ("x" * 81, "relay_state_invalid"),
        ("forged.reference", "relay_state_invalid"),
        # Text outside ASCII in either half: compared as bytes, refused like any forgery.
        ("réf.mäc", "relay_state_invalid"),
        (
            "reference.\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9",
            "relay_state_invalid",
        ),
    ],
)
def test_a_missing_forged_or_oversize_relay_state_is_refused(
    post_client: FlaskClient, relay_state: str | None, code: str
) -> None:
    client = post_client
    at_hm = submit(client, start(client), action="login")
    (form,) = forms(at_hm)
    fields = dict(form.fields)
    fields.pop("RelayState")
    if relay_state is not None:
        fields["RelayState"] = relay_state
    page = client.post(local(form.action), data=fields)
    assert (page.status_code, refusal_code(page)) == (400, code)


def test_a_non_ascii_relay_state_with_an_artifact_is_refused(client: FlaskClient) -> None:
    (form,) = forms(start(client))
    action = local(form.action)
    at_hm = client.post(action + ("&" if "?" in action else "?") + "action=login", data=form.fields)
    assert at_hm.status_code in (302, 303)
    query = dict(parse_qsl(urlsplit(at_hm.headers["Location"]).query))
    query["RelayState"] = "ünïcode.mäc"
    page = client.get(f"/saml/acs?{urlencode(query)}")
    assert (page.status_code, refusal_code(page)) == (400, "relay_state_invalid")


def test_a_relay_state_from_another_sign_in_does_not_carry_its_response(post_client: FlaskClient) -> None:
    client = post_client
    first = forms(submit(client, start(client), action="login"))[0]
    second = forms(submit(client, start(client), action="login"))[0]
    swapped = {"SAMLResponse": first.fields["SAMLResponse"], "RelayState": second.fields["RelayState"]}
    page = client.post("/saml/acs", data=swapped)
    assert refusal_code(page) == "in_response_to_mismatch"
    # The honest pairing still works: the refusal did not use up the first sign-in.
    assert client.post("/saml/acs", data=first.fields).status_code == 200


def test_an_oversize_body_gets_a_413_page(client: FlaskClient, app: Flask) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    page = client.post("/saml/acs", data={"SAMLResponse": "A" * (limit + 1), "RelayState": "x"})
    assert (page.status_code, refusal_code(page)) == (413, "message_too_large")
    assert "Traceback" not in page.get_data(as_text=True)


def test_a_garbage_response_is_a_400_page_not_a_500(post_client: FlaskClient) -> None:
    client = post_client
    at_hm = submit(client, start(client), action="login")
    (form,) = forms(at_hm)
    for garbage in (
        "%%%not base64",
        base64.b64encode(b"<unclosed").decode(),
        base64.b64encode(b"\xff\xfe").decode(),
    ):
        page = client.post("/saml/acs", data={**form.fields, "SAMLResponse": garbage})
        assert (page.status_code, refusal_code(page)) == (400, "message_malformed")


def test_a_garbage_artifact_is_a_400_page(client: FlaskClient) -> None:
    hand_off = forms(start(client))[0]
    page = client.get("/saml/acs", query_string={"SAMLart": "bm90IGFuIGFydGlmYWN0", **hand_off.fields})
    assert (page.status_code, refusal_code(page)) == (400, "artifact_invalid")


def test_pages_carry_security_headers(client: FlaskClient) -> None:
    page = start(client)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_the_hand_off_works_without_javascript(client: FlaskClient) -> None:
    html = start(client).get_data(as_text=True)
    assert re.search(r'<button[^>]*type="submit"', html), "a visible submit button for browsers without JS"
    (form,) = forms(start(client))
    assert form.method == "POST"
    assert set(form.fields) == {"SAMLRequest", "RelayState"}
    assert len(form.fields["RelayState"].encode()) <= 80


def test_unknown_pages_are_bilingual_404s(client: FlaskClient) -> None:
    page = client.get("/saml/nothing-here")
    assert page.status_code == 404
    assert refusal_code(page) == "http_404"
    assert client.get("/saml/test-login?service=nope").status_code == 404


def test_the_redirect_binding_carries_a_signed_request(redirect_client: FlaskClient) -> None:
    to_hm = redirect_client.get(f"/saml/test-login?service={IND}")
    assert to_hm.status_code == 303
    location = urlsplit(to_hm.headers["Location"])
    parameters = dict(parse_qsl(location.query))
    assert {"SAMLRequest", "RelayState", "SigAlg", "Signature"} <= set(parameters)
    assert parameters["SigAlg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    at_hm = redirect_client.get(f"{location.path}?{location.query}&action=login&kvk=11223344")
    page = follow(redirect_client, at_hm)
    assert page.status_code == 200
    assert field(page, "legal-subject") == "kvk: 11223344"


def test_a_redirect_request_with_a_broken_signature_is_refused_by_the_hm(
    redirect_client: FlaskClient,
) -> None:
    location = urlsplit(redirect_client.get(f"/saml/test-login?service={IND}").headers["Location"])
    tampered = location.query.replace("RelayState=", "RelayState=x")
    page = redirect_client.get(f"{location.path}?{tampered}&action=login")
    assert page.status_code == 400
    assert refusal_code(page) == "signature_invalid"


@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        ("", {}, "U wordt doorgestuurd naar uw eHerkenningsmakelaar."),
        ("&lang=en", {}, "You are being sent on to your eHerkenning broker."),
        ("", {"Accept-Language": "en-GB,en;q=0.9"}, "You are being sent on to your eHerkenning broker."),
        ("&lang=nl", {"Accept-Language": "en"}, "U wordt doorgestuurd naar uw eHerkenningsmakelaar."),
    ],
)
def test_the_hand_off_speaks_the_users_language(
    client: FlaskClient, query: str, headers: dict[str, str], expected: str
) -> None:
    page = client.get(f"/saml/test-login?service={IND}{query}", headers=headers)
    assert expected in page.get_data(as_text=True)
    assert f'<html lang="{"en" if "You" in expected else "nl"}">' in page.get_data(as_text=True)
