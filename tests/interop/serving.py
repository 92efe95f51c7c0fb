"""The broker served over TLS (conftest.py serves it) and the user's way through a sign-in."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import requests

from tests.web.browser import Form, parse_forms


@dataclass(frozen=True)
class Tls:
    """The test CA's certificate (for clients) and the server's TLS context."""

    ca_file: Path
    context: ssl.SSLContext


def only_form(page: requests.Response) -> Form:
    assert page.status_code == 200, page.text[-2000:]
    (form,) = parse_forms(page.text)
    return form


def through_the_hm(browser: requests.Session, issuer: str, authorization_url: str, **choices: str) -> str:
    """The user's part, answering the simulated HM with `choices`; the URL the broker redirects to."""
    hand_off = only_form(browser.get(authorization_url))
    assert hand_off.action == f"{issuer}/simulator/sso"
    # The simulated HM answers over HTTP-Artifact, as eHerkenning does: a redirect to the ACS.
    query = urlencode({"action": "login", **choices})
    answer = browser.post(f"{hand_off.action}?{query}", data=hand_off.fields, allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith(f"{issuer}/saml/acs?SAMLart=")
    back = browser.get(answer.headers["Location"], allow_redirects=False)
    assert back.status_code == 302, back.text[-2000:]
    return back.headers["Location"]
