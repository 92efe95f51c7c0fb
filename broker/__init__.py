"""eh-broker: the Flask application (app factory and wiring)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask, Response, request

from broker import cli, database, hardening, health, kvk, limits, logs, metrics, sweep
from broker.extensions import db, migrate
from broker.handelsregister import Handelsregister
from broker.hm_metadata import LiveHm, source_reader
from broker.hms import Hms
from broker.keys import LiveKeys, follow_signing_key
from broker.kvk import stand_in as kvk_stand_in
from broker.oidc.provider import Provider
from broker.oidc.server import authorization_server, resource_protector
from broker.runtime import BrokerRuntime
from broker.upstream import Clock, Upstream
from broker.web import demo as demo_views
from broker.web import errors, home, i18n
from broker.web import establishment as establishment_views
from broker.web import oidc as oidc_views
from broker.web import saml as saml_views
from broker.web import simulator as simulator_views
from broker.web.session_cookie import CookieSessionWhenSent
from config import HmSettings, Profile, SamlSettings, Settings, load_settings
from config.reloading import LiveRegistry
from saml.artifact import Transport, https_transport
from saml.simulator import SimulatorHm

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    """Build the broker app; `settings` default to the environment's, `clock` to the system's."""
    settings = settings or load_settings()
    clock = clock or _utc_now
    app = Flask(__name__, instance_path=str(settings.instance_path), instance_relative_config=False)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # No endpoint takes more than a SAML message; larger bodies get a 413 page.
        MAX_CONTENT_LENGTH=settings.saml.max_message_bytes,
        MAX_FORM_MEMORY_SIZE=settings.saml.max_message_bytes,
        SESSION_COOKIE_SECURE=settings.profile is Profile.PRODUCTION,
        SESSION_COOKIE_SAMESITE="Lax",
        BROKER_PROFILE=settings.profile.value,
    )
    app.session_interface = CookieSessionWhenSent()
    # Request data in the broker's log lines is escaped and cut, whoever configured the handlers.
    logs.init_app(app, settings.operations.log_format)
    hardening.init_app(app, settings.operations.proxy_count, settings.profile is Profile.PRODUCTION)
    database.init_app(app, settings.database_url)
    with app.app_context():
        metrics.watch_pool(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS))

    simulator = simulator_views.simulator_hm(settings) if settings.simulator else None
    hms = _hms(app, settings, simulator, clock)
    idp = hms.live(hms.first).idp
    # Our keys of the moment: the key store followed through a rollover, or the settings' keys.
    keys = LiveKeys(settings, clock, settings.config.check_seconds)
    transports = {
        hm.name: _transport(settings, hm, simulator, lambda: keys.saml(clock()))
        for hm in settings.saml.configured_hms
    }
    # Start-up stops here when the configuration file is invalid; later an invalid edit is only logged.
    configuration = health.ConfigurationState()
    registry = LiveRegistry(settings.config, on_reload=configuration.reloaded)
    upstream = Upstream.create(
        settings.saml,
        idp,
        transports[hms.first],
        clock,
        settings.secret_key,
        registry.current,
        keys.saml,
        hms,
        transports,
    )
    provider = Provider(settings.oidc, keys.key_set(), registry.current, clock)
    app.extensions["broker"] = BrokerRuntime(
        settings=settings,
        registry=registry.current,
        upstream=upstream,
        simulator=simulator,
        provider=provider,
        authorization=authorization_server(app, provider),
        protector=resource_protector(provider),
        register=Handelsregister(
            kvk.KvkClient(settings.kvk.api_url, settings.kvk.api_key, _kvk_transport(settings)),
            settings.kvk.cache_lifetime,
            clock,
        ),
    )

    i18n.init_app(app)
    errors.init_app(app)
    app.register_blueprint(home.bp)
    app.register_blueprint(saml_views.bp)
    app.register_blueprint(oidc_views.bp)
    app.register_blueprint(establishment_views.bp)
    if simulator is not None:
        app.register_blueprint(simulator_views.bp)
    if settings.demo_secret is not None:
        app.register_blueprint(demo_views.bp)
    health.init_app(app, health.expiries(settings), configuration)
    metrics.init_app(app, settings)
    # After the blueprints: the limits are set on their views.
    limits.init_app(app, settings.operations.rate_limits)
    sweep.init_app(app, settings.operations.sweep_seconds, clock)
    app.extensions["broker_hms"] = hms
    hms.install()
    cli.init_app(app)
    app.after_request(_security_headers)
    return app


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _hms(app: Flask, settings: Settings, simulator: SimulatorHm | None, clock: Clock) -> Hms:
    """Each HM's metadata: the database's last good copy or fetched at start-up, then kept fresh."""
    saml = settings.saml
    return Hms(
        {
            hm.name: _live_hm(app, hm, saml.hm_metadata_refresh, simulator, clock)
            for hm in saml.configured_hms
        },
        saml.hm_failover_after,
        saml.hm_pause,
    )


def _live_hm(
    app: Flask, hm: HmSettings, refresh: timedelta, simulator: SimulatorHm | None, clock: Clock
) -> LiveHm:
    if hm.metadata is None:
        assert simulator is not None  # config.env refuses this combination
        return LiveHm(app, None, lambda: simulator.metadata(clock()), (), clock, refresh, name=hm.name)
    return LiveHm(app, hm.metadata, source_reader(hm.metadata), hm.signers, clock, refresh, name=hm.name)


def _transport(
    settings: Settings, hm: HmSettings, simulator: SimulatorHm | None, saml: Callable[[], SamlSettings]
) -> Transport:
    # Mutual TLS with the key that signs now, trusting the HM's TLS CA.
    remote = follow_signing_key(
        lambda keys: https_transport(
            dataclasses.replace(keys, hm_tls_ca_bundle=hm.tls_ca_bundle), settings.saml.max_message_bytes
        ),
        saml,
    )
    if simulator is None:
        return remote
    local: Callable[[bytes], bytes] = simulator_views.resolve_locally

    def transport(url: str, body: bytes) -> bytes:
        # The built-in simulator answers in-process; any other HM over mutual TLS.
        return local(body) if url == simulator.ars_url else remote(url, body)

    return transport


def _kvk_transport(settings: Settings) -> kvk.KvkTransport:
    remote = kvk.requests_transport(
        settings.kvk.timeout_seconds, settings.kvk.max_answer_bytes, settings.kvk.tls_ca_bundle
    )
    if not settings.simulator:
        return remote
    local_base = f"{settings.saml.base_url}/simulator/kvk"

    def transport(url: str, headers: Mapping[str, str]) -> kvk.KvkReply:
        # The built-in stand-in answers in-process (the development server serves one request at
        # a time, so the broker must not call itself over HTTP); the real API over HTTPS.
        if url.startswith(local_base + "/"):
            return kvk_stand_in.answer(url.removeprefix(local_base))
        return remote(url, headers)

    return transport


_SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    # A SAMLart in a URL must never travel on in a Referer header.
    ("Referrer-Policy", "no-referrer"),
)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    # Each header a view has not set itself; one pass over the names, where werkzeug's
    # `setdefault` would look each one up and raise KeyError for each one absent.
    present = {name.lower() for name, _ in headers}
    for name, value in _SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if "cache-control" not in present and not request.path.startswith("/static/"):
        headers.add("Cache-Control", "no-store")
    return response
