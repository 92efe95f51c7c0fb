"""SAML endpoints: our metadata, the assertion consumer service, and the development test login."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from broker import catalogue, metrics
from broker.extensions import db
from broker.runtime import runtime
from broker.upstream import Refusal
from broker.web import oidc
from broker.web.hand_off import hand_off
from saml.errors import Reason, SamlError
from saml.loa import LevelOfAssurance
from saml.metadata import sp_metadata

bp = Blueprint("saml", __name__, url_prefix="/saml")
log = logging.getLogger("broker.saml")

TEST_LOGIN = "test_login"


@bp.get("/metadata")
def metadata() -> Response:
    state = runtime()
    now = state.upstream.clock()
    body = sp_metadata(state.upstream.saml(now), state.registry().services, now)
    return Response(body, mimetype="application/samlmetadata+xml")


@bp.get("/catalogue.xml")
def service_catalogue() -> Response:
    """Our service catalogue for the HM environment we are connected to (BROKER_CATALOGUE_ENV)."""
    return catalogue.response()


@bp.route("/acs", methods=["GET", "POST"])
@metrics.step("acs")
def acs() -> str | tuple[str, int]:
    # Artifacts may arrive by GET or POST; a SAMLResponse only by POST (saml-bindings §3.5, §3.6).
    source = request.form if request.method == "POST" else request.args
    values = {name: source[name] for name in ("SAMLart", "SAMLResponse", "RelayState") if name in source}
    if request.method == "GET":
        values.pop("SAMLResponse", None)
    answer = runtime().upstream.finish(values)
    if answer.purpose == oidc.AUTHORIZE:
        return oidc.complete(answer)
    db.session.commit()
    if isinstance(answer, Refusal):
        raise answer.error
    identity = answer.validated.identity
    log.info(
        "saml accepted service=%s level=%s mandate=%s",
        answer.service.slug,
        identity.level.value,
        "representative" if identity.intermediary else "own_company",
    )
    if answer.purpose == TEST_LOGIN and _development():
        return render_template("identity.html", identity=identity, service=answer.service)
    raise SamlError(Reason.REQUEST_UNKNOWN, f"no handler for purpose {answer.purpose}")


@bp.get("/test-login")
def test_login() -> str | BaseResponse:
    """Development only: start a sign-in for a service and show the identity that comes back."""
    if not _development():
        abort(404)
    registry = runtime().registry()
    slug = request.args.get("service")
    if slug is None:
        labels = {level.value: level.label for level in LevelOfAssurance}
        return render_template("test_login.html", services=registry.services, level_labels=labels)
    service = registry.service(slug)
    if service is None:
        abort(404)
    outgoing = runtime().upstream.start(service, TEST_LOGIN)
    db.session.commit()
    return hand_off(outgoing)


def _development() -> bool:
    return current_app.config["BROKER_PROFILE"] != "production"
