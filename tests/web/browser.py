"""A small browser for the test client: follows redirects and submits the pages' forms, as a user would."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get").upper()))
        elif tag == "input" and self.forms and values.get("type") == "hidden":
            self.forms[-1].fields[values["name"]] = values.get("value", "")


def parse_forms(html: str) -> list[Form]:
    """The forms of a page, with their hidden fields."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def forms(page: TestResponse) -> list[Form]:
    return parse_forms(page.get_data(as_text=True))


def local(url: str) -> str:
    """The path and query of an absolute URL on the broker (the test client needs no host)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def follow(client: FlaskClient, page: TestResponse) -> TestResponse:
    """Follow redirects, as a browser would."""
    while page.status_code in (301, 302, 303, 307, 308):
        page = client.get(local(page.headers["Location"]))
    return page


def submit(client: FlaskClient, page: TestResponse, **query: str) -> TestResponse:
    """Submit the page's (only) form, with `query` added to its action URL, then follow redirects."""
    (form,) = forms(page)
    action = local(form.action)
    if query:
        action += ("&" if "?" in action else "?") + urlencode(query)
    return follow(client, client.post(action, data=form.fields))
