"""The language of the broker's pages: Dutch by default, English on request (Flask-Babel).

A language asked for (`?lang=`, or a portal's `ui_locales` at /oidc/authorize) is remembered in
a cookie, so it holds for the whole sign-in: the hand-off, the simulator's page (same origin in
development), the picker and every page after the HM returns. Where the cookie does not come
along (a cross-site POST back from the HM), a sign-in's stored `ui_locales` stands in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from babel import Locale
from flask import Flask, Response, current_app, request
from flask_babel import Babel, get_locale
from werkzeug.exceptions import HTTPException

LANGUAGES = ("nl", "en")
# Parsed once: Flask-Babel parses a selector's string answer again on every request.
_LOCALES = {language: Locale.parse(language) for language in LANGUAGES}
COOKIE = "lang"
COOKIE_LIFETIME = timedelta(days=365)
AUTHORIZE_ENDPOINT = "oidc.authorize"


def _page_locale() -> Locale:
    return _LOCALES[select_locale()]


def select_locale() -> str:
    """Asked for now (`lang`, then `ui_locales`), then remembered, then the browser's, then Dutch."""
    return asked() or remembered() or _browsers()


def locale_of(parameters: dict[str, str]) -> str:
    """The language for a page of a sign-in whose authorization request is stored as `parameters`:
    asked for now, then remembered, then the client's `ui_locales` (the cookie may not have come
    along), then the browser's."""
    return asked() or remembered() or _supported(parameters.get("ui_locales", "").split()) or _browsers()


def asked() -> str | None:
    """`lang` in the query (a switch on a page), else the client's `ui_locales` (OIDC Core §3.1.2.1)."""
    chosen = _query("lang")
    if chosen in LANGUAGES:
        return chosen
    return _supported(_ui_locales().split())


def _query(name: str) -> str:
    """A query parameter, or "": asked of every request, and werkzeug's `args.get` makes (and
    discards) an HTTP exception for every parameter that is not there."""
    arguments = request.args
    return arguments[name] if name in arguments else ""  # noqa: SIM401 (the point: no .get)


def remembered() -> str | None:
    chosen = request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else None


def _ui_locales() -> str:
    """`ui_locales` in the query; at /oidc/authorize also in a POSTed form, which authlib has read."""
    if request.endpoint == AUTHORIZE_ENDPOINT and request.method == "POST":
        try:
            return request.values.get("ui_locales", "")
        except HTTPException:
            # A body that cannot be read (too large, malformed) is refused elsewhere, not here.
            return ""
    # The query only elsewhere: reading a form here would parse (and maybe refuse) the body.
    return _query("ui_locales")


def _supported(tags: Iterable[str]) -> str | None:
    return next((tag[:2] for tag in tags if tag[:2] in LANGUAGES), None)


def _browsers() -> str:
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def _remember(response: Response) -> Response:
    """Keep a language asked for in a cookie, for the pages that follow."""
    chosen = asked()
    if chosen is not None and chosen != remembered():
        response.set_cookie(
            COOKIE,
            chosen,
            max_age=COOKIE_LIFETIME,
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
    return response


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=_page_locale, default_locale="nl")
    app.jinja_env.globals["get_locale"] = get_locale
    app.after_request(_remember)
