"""The development HM simulator's web face: SSO, the tester's choices, artifact resolution; and the
stand-in for the KvK Handelsregister API beside it.

Registered only with BROKER_SIMULATOR=1 (refused in production). It keeps no session: the
tester's form carries the signed AuthnRequest along and it is verified again on answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from broker import models
from broker.extensions import db
from broker.kvk import stand_in as kvk_stand_in
from broker.models.statements import without_transaction
from broker.runtime import runtime
from broker.web.errors import refusal_page
from config import Binding, Settings
from config.dev_keys import ensure_key_pair
from saml.errors import SamlError
from saml.simulator import (
    Action,
    Mandate,
    MandateScope,
    PersonRelease,
    ReceivedRequest,
    Scenario,
    ScenarioError,
    ServiceProvider,
    SimulatorHm,
    answer_artifact_resolve,
    read_post_request,
    read_redirect_request,
    respond,
    soap_fault,
)
from saml.simulator.scenario import PERSON_FIELDS

bp = Blueprint("simulator", __name__, url_prefix="/simulator")
ARTIFACT_LIFETIME = timedelta(minutes=5)
# The form's fields that `Scenario.from_params` reads.
SCENARIO_FIELDS = (
    "kvk",
    "establishment",
    "mandate",
    "mandate_for",
    "intermediary",
    "intermediary_rsin",
    "loa",
    "advice",
    "earlier",
    "binding",
    "user",
    "person",
    *PERSON_FIELDS,
)
LEVELS = ("loa2", "loa2plus", "loa3", "loa4", "loa1")


def simulator_hm(settings: Settings) -> SimulatorHm:
    """The simulator's identity, with keys of its own kept in the instance folder; at the broker's
    address, or at BROKER_SIMULATOR_URL when it runs in a process of its own."""
    base = settings.simulator_url or f"{settings.saml.base_url}/simulator"
    key = ensure_key_pair(settings.instance_path / "simulator", "hm", "eh-broker HM simulator")
    return SimulatorHm(entity_id=f"{base}/metadata", key=key, sso_url=f"{base}/sso", ars_url=f"{base}/ars")


@bp.get("/metadata")
def metadata() -> Response:
    hm, now = _hm(), _now()
    return Response(hm.metadata(now), mimetype="application/samlmetadata+xml")


@bp.route("/sso", methods=["GET", "POST"])
def sso() -> str | tuple[str, int] | BaseResponse:
    """Receive our AuthnRequest; answer at once when the query names the choices, else ask."""
    carried = _carried(request.form if request.method == "POST" else {"query": request.query_string.decode()})
    try:
        received = _read(carried)
    except SamlError as error:
        return refusal_page(error)
    if "action" in request.args:
        try:
            return _answer(received, Scenario.from_params(request.args))
        except ScenarioError as error:
            return _picker(carried, received, request.args, error)
    return _picker(carried, received, {}, None)


@bp.post("/answer")
def answer() -> str | tuple[str, int] | BaseResponse:
    """The tester's choices, posted with the AuthnRequest they answer."""
    carried = _carried(request.form)
    try:
        received = _read(carried)
    except SamlError as error:
        return refusal_page(error)
    try:
        scenario = Scenario.from_params(request.form)
    except ScenarioError as error:
        return _picker(carried, received, request.form, error)
    return _answer(received, scenario)


@bp.get("/kvk/api/v1/<path:path>")
def kvk_api(path: str) -> Response:
    """The stand-in for the KvK Handelsregister API, over HTTP so it can be inspected."""
    reply = kvk_stand_in.answer(f"/api/v1/{path}")
    return Response(reply.body, status=reply.status, mimetype="application/json")


@bp.post("/ars")
def ars() -> Response:
    """SOAP artifact resolution (saml-bindings-2.0-os §3.6.5)."""
    body, status = resolve_with_status(request.get_data(cache=False))
    db.session.commit()
    return Response(body, status=status, mimetype="text/xml")


def resolve_locally(body: bytes) -> bytes:
    """The ARS answer for an ArtifactResolve, in-process (what the HTTP endpoint would send).

    The artifact is taken in the caller's transaction: the ACS commits it with the sign-in.
    """
    return resolve_with_status(body)[0]


def resolve_with_status(body: bytes) -> tuple[bytes, int]:
    hm, now = _hm(), _now()
    try:
        return answer_artifact_resolve(hm, _sp(now), body, _take_artifact, now), 200
    except SamlError as error:
        return soap_fault(error), 500


def _hm() -> SimulatorHm:
    hm = runtime().simulator
    assert hm is not None  # the blueprint is registered only with the simulator
    return hm


def _now() -> datetime:
    return runtime().upstream.clock()


def _sp(now: datetime) -> ServiceProvider:
    state = runtime()
    # Our SP as an HM knows it from our newest metadata and catalogue.
    return ServiceProvider.from_settings(state.upstream.saml(now), state.registry().services, now)


def _carried(source: Mapping[str, str]) -> dict[str, str]:
    """What identifies the AuthnRequest: POST fields, or the Redirect binding's raw query."""
    return {name: source[name] for name in ("SAMLRequest", "RelayState", "query") if source.get(name)}


def _read(carried: dict[str, str]) -> ReceivedRequest:
    hm, now = _hm(), _now()
    if "SAMLRequest" in carried:
        return read_post_request(carried, hm, _sp(now), now)
    return read_redirect_request(carried.get("query", ""), hm, _sp(now), now)


def _answer(received: ReceivedRequest, scenario: Scenario) -> str | BaseResponse:
    now = _now()
    delivery = respond(_hm(), _sp(now), received, scenario, now)
    if delivery.binding is Binding.ARTIFACT:
        assert delivery.artifact_handle is not None
        without_transaction()
        models.put_artifact(delivery.artifact_handle, delivery.response, now + ARTIFACT_LIFETIME)
        return redirect(f"{delivery.acs_url}?{urlencode(delivery.fields)}", code=303)
    return render_template(
        "post_form.html",
        action=delivery.acs_url,
        fields=delivery.fields,
        destination="service",
    )


def _take_artifact(handle: bytes) -> bytes | None:
    return models.take_artifact(handle, _now())


def _picker(
    carried: dict[str, str],
    received: ReceivedRequest,
    tried: Mapping[str, str],
    error: ScenarioError | None,
) -> str | tuple[str, int]:
    """The simulator's form: the defaults, or what the tester `tried`, so a mistake loses nothing."""
    sp = _sp(_now())
    service = sp.service(received.attribute_consuming_service_index)
    chosen = Scenario().to_params() | {name: tried[name] for name in SCENARIO_FIELDS if name in tried}
    page = render_template(
        "simulator.html",
        carried=carried,
        chosen=chosen,
        service=service,
        error=error,
        mandates=list(Mandate),
        scopes=list(MandateScope),
        actions=list(Action),
        person_releases=list(PersonRelease),
        levels=LEVELS,
        kvk=kvk_stand_in,
    )
    return (page, 400) if error else page
