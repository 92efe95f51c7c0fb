"""The broker's front door, `/`: a newcomer to a development broker is led to its demo portal; any
other broker says what it is and where portals find its OpenID configuration."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from broker.runtime import runtime

bp = Blueprint("home", __name__)
DISCOVERY = "/.well-known/openid-configuration"


@bp.get("/")
def home() -> str | BaseResponse:
    if "demo" in current_app.blueprints:
        return redirect(url_for("demo.home"))
    return render_template("home.html", discovery=runtime().provider.endpoint(DISCOVERY))
