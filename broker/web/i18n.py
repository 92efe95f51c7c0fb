"""The language of the broker's pages: Dutch by default, English on request (Flask-Babel)."""

from __future__ import annotations

from babel import Locale
from flask import Flask, request
from flask_babel import Babel, get_locale

LANGUAGES = ("nl", "en")
# Parsed once: Flask-Babel parses a selector's string answer again on every request.
_LOCALES = {language: Locale.parse(language) for language in LANGUAGES}


def _page_locale() -> Locale:
    return _LOCALES[select_locale()]


def select_locale() -> str:
    """`lang` in the query, then the client's `ui_locales` (OIDC Core §3.1.2.1), then the browser's."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        return chosen
    # The query only: reading a form here would parse (and maybe refuse) the body a second time.
    for tag in request.args.get("ui_locales", "").split():
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def locale_of(parameters: dict[str, str]) -> str:
    """The language for a page of a sign-in: the client's `ui_locales` in its stored authorization
    request, else the browser's, else Dutch (the request now is not the one the client sent)."""
    for tag in parameters.get("ui_locales", "").split():
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=_page_locale, default_locale="nl")
    app.jinja_env.globals["get_locale"] = get_locale
