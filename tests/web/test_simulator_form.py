"""The simulator's form keeps what the tester chose when one choice is wrong: a mistake loses nothing."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.web.browser import forms, local


def test_a_wrong_choice_shows_the_form_again_with_every_choice_kept(client: FlaskClient) -> None:
    (hand_off,) = forms(client.get("/saml/test-login?service=ind-portaal-zakelijk&lang=en"))
    page = client.post(local(hand_off.action), data=hand_off.fields)
    answer = next(form for form in forms(page) if "/answer" in form.action)
    tried = {
        "kvk": "1234567O",
        "establishment": "000052460102",
        "mandate": "representative",
        "intermediary": "24444001",
        "loa": "loa4",
        "advice": "1",
        "binding": "post",
        "user": "alice",
        "person": "all",
        "first_name": "Anne",
        "family_name": "de Vries",
        "initials": "A.",
        "birthdate": "19991231",
        "action": "login",
    }
    again = client.post(local(answer.action), data=answer.fields | tried)
    html = again.get_data(as_text=True)
    assert again.status_code == 400
    # In the language chosen at the test login: it holds at the simulator's page.
    assert "character 8 is &#39;O&#39;" in html
    for name in (
        "kvk",
        "establishment",
        "intermediary",
        "user",
        "first_name",
        "family_name",
        "initials",
        "birthdate",
    ):
        assert re.search(rf'<input [^>]*id="{name}" name="{name}" value="{tried[name]}"', html), name
    assert re.search(r'id="mandate-representative" name="mandate" value="representative" checked', html)
    assert '<option value="loa4" selected>' in html
    assert re.search(r'id="advice" name="advice" value="1" checked', html)
    assert '<option value="post" selected>' in html
    assert '<option value="all" selected>' in html
    # The AuthnRequest still travels with the form, so the corrected choice can answer it.
    assert next(form for form in forms(again) if "/answer" in form.action).fields == answer.fields


def _simulator_form(client: FlaskClient, service: str) -> tuple[str, str, dict[str, str]]:
    """The simulator's page for a sign-in at `service`, its answer form's action and fields."""
    (hand_off,) = forms(client.get(f"/saml/test-login?service={service}&lang=en"))
    page = client.post(local(hand_off.action), data=hand_off.fields)
    answer = next(form for form in forms(page) if "/answer" in form.action)
    return page.get_data(as_text=True), answer.action, answer.fields


def test_the_form_says_which_of_the_person_s_attributes_the_service_requests(client: FlaskClient) -> None:
    html, _, _ = _simulator_form(client, "ind-named")
    assert (
        "The service requests: <code>FirstName</code>, <code>FamilyName</code>, <code>DateOfBirth</code>"
        in html
    )
    assert '<option value="requested" selected>' in html
    assert re.search(r'id="birthdate" name="birthdate" value="1980-01-31"', html)
    assert "The service requests: none of them" in _simulator_form(client, "ind-portaal-zakelijk")[0]


def test_a_person_attribute_too_long_is_named(client: FlaskClient) -> None:
    _, action, fields = _simulator_form(client, "ind-named")
    again = client.post(local(action), data=fields | {"family_name": "x" * 65, "action": "login"})
    assert again.status_code == 400
    assert "Family name: must be at most 64 printable characters" in again.get_data(as_text=True)
