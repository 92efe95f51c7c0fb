"""A small demo portal, outside production: an ordinary OIDC client of this broker, over real HTTP.

It plays two portals, Omgevingsloket as the configured client `demo-portal` and IND Portaal
Zakelijk as `demo-portal-ind` (each shown only when configured), both with the secret in
BROKER_DEMO_SECRET (authorization code, PKCE, client_secret_basic). It verifies the ID token
against the published JWKS and shows the claims it received. Its own state (state, nonce, PKCE
verifier, which portal) lives in its session cookie, as any portal's would. What a sign-in brought
back (claims, or why not) is kept there too and shown at /demo/result (Post/Redirect/Get), so a
refresh shows it again rather than presenting a used code a second time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import OAuth2Error
from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response as BaseResponse

from broker.runtime import runtime
from config import Service
from config.clients import Client

bp = Blueprint("demo", __name__, url_prefix="/demo")
# The portals the demo plays, by the client each signs in as.
PORTALS = {"olo": "demo-portal", "ind": "demo-portal-ind"}
DEFAULT_PORTAL = "olo"
TIMEOUT = 10


@dataclass(frozen=True)
class DemoPortal:
    key: str
    client: Client
    service: Service


@bp.get("/")
def home() -> str:
    return _page()


@bp.get("/login")
def login() -> BaseResponse:
    portal = _portal(request.args.get("portal", DEFAULT_PORTAL))
    provider = runtime().provider
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    uri, state = _session(portal.client).create_authorization_url(
        provider.endpoint("/oidc/authorize"),
        nonce=nonce,
        code_verifier=verifier,
        ui_locales=str(get_locale()),
    )
    session["demo"] = {"state": state, "nonce": nonce, "verifier": verifier, "portal": portal.key}
    return redirect(uri)


@bp.get("/callback")
def callback() -> BaseResponse:
    """The broker's answer: redeem the code (or take the error), keep what came back, show it."""
    session["demo_result"] = _outcome()
    return redirect(url_for("demo.result"), code=303)


@bp.get("/result")
def result() -> str | BaseResponse:
    """What the last sign-in brought back, as often as the page is shown (and in either language)."""
    outcome = session.get("demo_result")
    if outcome is None:
        return redirect(url_for("demo.home"))
    return _page(outcome=outcome, signed_in=_configured(outcome["portal"]))


def _outcome() -> dict[str, Any]:
    """The claims a sign-in brought back, or why there are none: `problem` names the kind (see
    demo.html), `error` and `description` are what the broker said."""
    pending = session.pop("demo", None)
    if pending is None or request.args.get("state") != pending["state"]:
        return {"portal": "", "problem": "state_mismatch"}
    portal = _portal(pending.get("portal", DEFAULT_PORTAL))
    provider = runtime().provider
    answer = {"portal": portal.key}
    # An answer, code or error, names the provider that gave it (RFC 9207): another's is not ours.
    if request.args.get("iss") != provider.issuer:
        return answer | {"problem": "issuer_mismatch"}
    if "error" in request.args:
        error, description = request.args["error"], request.args.get("error_description", "")
        # The broker says why in its description; a cancel (at the HM or at the picker) says "cancel".
        if error == "access_denied":
            problem = "cancelled" if "cancel" in description.lower() else "refused"
        else:
            problem = "error"
        return answer | {"problem": problem, "error": error, "description": description}
    try:
        token = _session(portal.client, pending["state"]).fetch_token(
            provider.endpoint("/oidc/token"),
            authorization_response=request.url,
            code_verifier=pending["verifier"],
            timeout=TIMEOUT,
        )
        keys = KeySet.import_key_set(requests.get(provider.endpoint("/oidc/jwks"), timeout=TIMEOUT).json())
        id_token = jwt.decode(token["id_token"], keys, algorithms=["RS256", "ES256"])
        info = requests.get(
            provider.endpoint("/oidc/userinfo"),
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=TIMEOUT,
        ).json()
    except (OAuth2Error, JoseError, requests.RequestException, KeyError) as error:
        return answer | {"problem": "exchange_failed", "error": type(error).__name__}
    if id_token.claims.get("nonce") != pending["nonce"]:
        return answer | {"problem": "nonce_mismatch"}
    return answer | {"claims": id_token.claims, "header": id_token.header, "userinfo": info}


def _page(outcome: dict[str, Any] | None = None, signed_in: DemoPortal | None = None) -> str:
    """The demo's page: a sign-in button per portal, and what the last sign-in brought back."""
    portals = [portal for key in PORTALS if (portal := _configured(key)) is not None]
    if not portals:
        abort(404)
    return render_template("demo.html", portals=portals, outcome=outcome or {}, signed_in=signed_in)


def _portal(key: str) -> DemoPortal:
    portal = _configured(key)
    if portal is None:
        abort(404)
    return portal


def _configured(key: str) -> DemoPortal | None:
    registry = runtime().registry()
    client = registry.client(PORTALS[key]) if key in PORTALS else None
    # The demo signs in for the client's lowest service: it sends neither acr_values nor a service scope.
    return None if client is None else DemoPortal(key, client, registry.services_of(client)[0])


def _session(client: Client, state: str | None = None) -> OAuth2Session:
    return OAuth2Session(
        client.client_id,
        runtime().settings.demo_secret,
        scope=" ".join(client.scopes),
        redirect_uri=url_for("demo.callback", _external=True),
        code_challenge_method="S256",
        state=state,
    )
