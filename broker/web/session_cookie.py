"""Flask's signed-cookie session, read only when a request brings the cookie.

Only the demo portal keeps anything in the session. Flask's default makes a signing serializer anew
for every request (and tests its JSON by serialising an empty dict) before it looks for the cookie:
the four requests of every sign-in would pay that for a session they never have.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookieSessionWhenSent(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()  # what Flask answers for no cookie, without the serializer
        return super().open_session(app, request)
