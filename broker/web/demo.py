"""A small demo portal, outside production: an ordinary OIDC client of this broker, over real HTTP.

It signs in as the configured client `demo-portal` with the secret in BROKER_DEMO_SECRET
(authorization code, PKCE, client_secret_basic),
verifies the ID token against the published JWKS and shows the claims it received. Its own
state (state, nonce, PKCE verifier) lives in its session cookie, as any portal's would.
"""

from __future__ import annotations

import secrets

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
from config.clients import Client

bp = Blueprint("demo", __name__, url_prefix="/demo")
CLIENT_ID = "demo-portal"
TIMEOUT = 10


@bp.get("/")
def home() -> str:
    return render_template("demo.html", client=_client(), claims=None)


@bp.get("/login")
def login() -> BaseResponse:
    provider = runtime().provider
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    uri, state = _session().create_authorization_url(
        provider.endpoint("/oidc/authorize"),
        nonce=nonce,
        code_verifier=verifier,
        ui_locales=str(get_locale()),
    )
    session["demo"] = {"state": state, "nonce": nonce, "verifier": verifier}
    return redirect(uri)


@bp.get("/callback")
def callback() -> str | tuple[str, int]:
    pending = session.pop("demo", None)
    if pending is None or request.args.get("state") != pending["state"]:
        return render_template("demo.html", client=_client(), claims=None, error="state_mismatch"), 400
    if "error" in request.args:
        error = f"{request.args['error']}: {request.args.get('error_description', '')}"
        return render_template("demo.html", client=_client(), claims=None, error=error), 400
    provider = runtime().provider
    try:
        token = _session(pending["state"]).fetch_token(
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
        return render_template("demo.html", client=_client(), claims=None, error=type(error).__name__), 502
    if id_token.claims.get("nonce") != pending["nonce"]:
        return render_template("demo.html", client=_client(), claims=None, error="nonce_mismatch"), 400
    return render_template(
        "demo.html", client=_client(), claims=id_token.claims, header=id_token.header, userinfo=info
    )


def _client() -> Client:
    client = runtime().registry().client(CLIENT_ID)
    if client is None:
        abort(404)
    return client


def _session(state: str | None = None) -> OAuth2Session:
    client = _client()
    return OAuth2Session(
        client.client_id,
        runtime().settings.demo_secret,
        scope=" ".join(client.scopes),
        redirect_uri=url_for("demo.callback", _external=True),
        code_challenge_method="S256",
        state=state,
    )
