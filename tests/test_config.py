"""Settings from the environment: development generates what it needs, production demands it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from broker import create_app
from broker.web.simulator import simulator_hm
from config import ConfigError, Profile, load_settings
from config.dev_keys import ensure_signing_key, generate_key_pair
from saml.hm_metadata import MetadataError, parse_metadata
from tests.conftest import TEST_BASE_URL, broker_environ

SERVICE = """
  - slug: permits
    uuid: 2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02
    index: 2
    minimum_loa: loa3
    name: {nl: Vergunningen, en: Permits}
"""
CLIENT = f"""
clients:
  - client_id: portal
    service: permits
    redirect_uris: [https://portal.test/callback]
    secret: {"x" * 32}
"""


def production_environ(folder: Path, **overrides: str) -> dict[str, str]:
    pair = generate_key_pair("eh-broker production test")
    for name, alg in (("rs256.pem", "RS256"), ("es256.pem", "ES256")):
        ensure_signing_key(folder / "oidc" / name, alg)
    (folder / "sp-key.pem").write_bytes(pair.key_pem)
    (folder / "sp-cert.pem").write_bytes(pair.cert_pem)
    (folder / "hm.xml").write_text("<md:EntityDescriptor/>")
    (folder / "broker.yaml").write_text(f"services:{SERVICE}")
    environ = {
        "BROKER_ENV": "production",
        "BROKER_INSTANCE_PATH": str(folder / "instance"),
        "BROKER_SECRET_KEY": "s" * 40,
        "BROKER_BASE_URL": "https://broker.example.nl",
        "BROKER_OIN": "00000001234567890000",
        "BROKER_SAML_KEY": str(folder / "sp-key.pem"),
        "BROKER_SAML_CERT": str(folder / "sp-cert.pem"),
        "BROKER_HM_METADATA": str(folder / "hm.xml"),
        "BROKER_CONFIG": str(folder / "broker.yaml"),
        "BROKER_SUBJECT_SALT": "t" * 40,
        "BROKER_OIDC_KEYS": str(folder / "oidc"),
        "BROKER_KVK_API_KEY": "kvk-api-key",
        # Not connected to by these tests: production takes PostgreSQL only.
        "BROKER_DATABASE_URL": "postgresql+psycopg://broker@db.example.nl/broker",
    }
    environ.update(overrides)
    return environ


def test_development_generates_keys_and_secret_once(tmp_path: Path) -> None:
    environ = broker_environ(tmp_path, BROKER_ENV="development")
    first, second = load_settings(environ), load_settings(environ)
    assert first.profile is Profile.DEVELOPMENT
    assert first.saml.key.cert_pem == second.saml.key.cert_pem
    assert first.secret_key == second.secret_key
    assert (tmp_path / "saml" / "sp-key.pem").stat().st_mode & 0o077 == 0


def test_a_complete_production_environment_loads(tmp_path: Path) -> None:
    settings = load_settings(production_environ(tmp_path))
    assert settings.saml.entity_id == "https://broker.example.nl/saml/metadata"
    assert settings.saml.acs_url == "https://broker.example.nl/saml/acs"
    assert not settings.simulator
    assert (settings.kvk.api_url, settings.kvk.api_key) == ("https://api.kvk.nl", "kvk-api-key")
    assert not (tmp_path / "instance" / "saml").exists(), "production never generates keys"


def test_production_needs_the_kvk_key_only_for_services_that_require_an_establishment(tmp_path: Path) -> None:
    keyed = load_settings(production_environ(tmp_path))
    keyless = load_settings(production_environ(tmp_path, BROKER_KVK_API_KEY=""))
    assert keyless.config.read().service("permits") is not None
    (tmp_path / "broker.yaml").write_text(f"services:{SERVICE}    establishment: required\n")
    with pytest.raises(
        ConfigError, match=r"services\[0\] \(permits\): field 'establishment'.*BROKER_KVK_API_KEY"
    ):
        keyless.config.read()
    assert keyed.config.read().service("permits").establishment == "required"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"BROKER_SIMULATOR": "1"}, "BROKER_SIMULATOR=1 is refused in the production profile"),
        ({"BROKER_SECRET_KEY": ""}, "BROKER_SECRET_KEY must be set"),
        ({"BROKER_SECRET_KEY": "short"}, "at least 32 characters"),
        ({"BROKER_SAML_KEY": ""}, "must be set together"),
        ({"BROKER_SAML_KEY": "", "BROKER_SAML_CERT": ""}, "must be set in the production profile"),
        ({"BROKER_BASE_URL": "http://broker.example.nl"}, "https://"),
        ({"BROKER_OIN": ""}, "BROKER_OIN must be set"),
        ({"BROKER_OIN": "123"}, "20 digits"),
        ({"BROKER_HM_METADATA": ""}, "BROKER_HM_METADATA must be set"),
        ({"BROKER_SAML_CLOCK_SKEW": "3600"}, "BROKER_SAML_CLOCK_SKEW must be a whole number from 0 to 300"),
        ({"BROKER_SAML_REQUEST_BINDING": "artifact"}, "BROKER_SAML_REQUEST_BINDING must be one of"),
        ({"BROKER_SAML_NEXT_KEY": "/k.pem"}, "must be set together"),
        ({"BROKER_ENV": "staging"}, "BROKER_ENV must be one of"),
        ({"BROKER_SAML_CERT": "/nonexistent/cert.pem"}, "cannot read /nonexistent/cert.pem"),
        ({"BROKER_KVK_API_URL": "http://api.kvk.nl"}, "BROKER_KVK_API_URL must be an https:// URL"),
        ({"BROKER_KVK_TIMEOUT_SECONDS": "0"}, "BROKER_KVK_TIMEOUT_SECONDS must be a whole number from 1"),
        # Metadata fetched from a URL is the root of trust: its signature must be checked.
        ({"BROKER_HM_METADATA": "https://hm.example.nl/metadata"}, "BROKER_HM_METADATA_SIGNER must be set"),
        ({"BROKER_HM_METADATA": "http://hm.example.nl/metadata"}, "must be an https:// URL or a file"),
        ({"BROKER_HM_METADATA_SIGNER": "/nonexistent/signer.pem"}, "is not a file"),
        ({"BROKER_HM_METADATA_SIGNER": "{folder}/hm.xml"}, "holds no PEM certificate"),
        # Nothing made for development: its keys, the simulator (above), the demo, SQLite, http.
        ({"BROKER_OIDC_KEYS": ""}, "BROKER_OIDC_KEYS must name the folder"),
        ({"BROKER_SUBJECT_SALT": ""}, "BROKER_SUBJECT_SALT must be set in the production profile"),
        ({"BROKER_DEMO_SECRET": "d" * 40}, r"BROKER_DEMO_SECRET \(the demo portal\) is refused"),
        ({"BROKER_DATABASE_URL": ""}, "BROKER_DATABASE_URL must name a PostgreSQL database"),
        ({"BROKER_DATABASE_URL": "sqlite:///{folder}/b.sqlite3"}, "must name a PostgreSQL database"),
        ({"BROKER_ISSUER": "http://broker.example.nl"}, "BROKER_ISSUER must be an https:// URL"),
        (
            {"BROKER_KVK_TLS_CA": "/nonexistent/ca.pem"},
            "BROKER_KVK_TLS_CA: /nonexistent/ca.pem is not a file",
        ),
    ],
)
def test_production_refuses_what_is_missing_or_unsafe(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    overrides = {name: value.format(folder=tmp_path) for name, value in overrides.items()}
    with pytest.raises(ConfigError, match=message.replace("+", r"\+").replace(".", r"\.")):
        load_settings(production_environ(tmp_path, **overrides))


def test_production_refuses_client_secrets_in_plain_text(tmp_path: Path) -> None:
    settings = load_settings(production_environ(tmp_path))
    (tmp_path / "broker.yaml").write_text(f"services:{SERVICE}{CLIENT}")
    with pytest.raises(ConfigError, match="in plain text is refused in production"):
        settings.config.read()


def test_the_next_key_needs_a_time_zone(tmp_path: Path) -> None:
    environ = production_environ(
        tmp_path,
        BROKER_SAML_NEXT_KEY=str(tmp_path / "sp-key.pem"),
        BROKER_SAML_NEXT_CERT=str(tmp_path / "sp-cert.pem"),
        BROKER_SAML_NEXT_ACTIVATION="2027-01-01T00:00:00",
    )
    with pytest.raises(ConfigError, match="time zone"):
        load_settings(environ)
    environ["BROKER_SAML_NEXT_ACTIVATION"] = "2027-01-01T00:00:00+01:00"
    assert load_settings(environ).saml.next_key is not None


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ("services: []", "'services' must be a non-empty list"),
        ("services:\n  - slug: Bad Slug", r"services\[0\] \(Bad Slug\): field 'slug'"),
        (f"services:{SERVICE.replace('index: 2', 'index: 0')}", r"services\[0\] \(permits\): field 'index'"),
        (f"services:{SERVICE.replace('loa3', 'loa1')}", "field 'minimum_loa' must be one of"),
        (f"services:{SERVICE.replace('uuid: 2b7e', 'uuid: zz')}", "field 'uuid' is not a UUID"),
        (f"services:{SERVICE.replace(', en: Permits', '')}", "field 'name' must give both"),
        (f"services:{SERVICE}{SERVICE}", r"field 'slug' repeats 'permits'"),
        (f"services:{SERVICE.replace('    minimum_loa: loa3', '')}", "field 'minimum_loa' is missing"),
        ("services: [", "cannot read configuration"),
        (f"services:{SERVICE}    mandates: [everyone]\n", "field 'mandates' must list"),
        (
            f"services:{SERVICE}    sponsor_categories: [labour]\n",
            r"services\[0\] \(permits\): field 'sponsor_categories' needs recognised_sponsor in 'mandates'",
        ),
        (
            f"services:{SERVICE}    mandates: [recognised_sponsor]\n    sponsor_categories: [arbeid]\n",
            r"services\[0\] \(permits\): field 'sponsor_categories' must list one or more of labour, ",
        ),
        (
            f"services:{SERVICE}    establishment: always\n",
            r"services\[0\] \(permits\): field 'establishment' must be one of none, required",
        ),
        (f"services:{SERVICE}    profile: dso\n", "field 'profile' must be one of custom, ind, olo"),
        (
            f"services:{SERVICE.replace('loa3', 'loa2plus')}    profile: ind\n",
            r"field 'minimum_loa' must be loa3 or higher for profile ind \(IND Portaal Zakelijk\)",
        ),
        (
            f"services:{SERVICE}    profile: ind\n    mandates: [recognised_sponsor]\n",
            "field 'mandates' must include own_company for profile ind",
        ),
        (
            f"services:{SERVICE}    profile: olo\n    mandates: [own_company]\n",
            "field 'mandates' must include own_company, representative for profile olo",
        ),
        (
            f"services:{SERVICE}{CLIENT}    require_pkce: 'no'\n",
            r"clients\[0\] \(portal\): field 'require_pkce' must be true or false",
        ),
        (
            f"services:{SERVICE}{CLIENT.replace('secret: ' + 'x' * 32, 'token_endpoint_auth_method: none')}"
            "    require_pkce: false\n",
            r"clients\[0\] \(portal\): field 'require_pkce' cannot be false for a public client",
        ),
    ],
)
def test_an_invalid_configuration_file_names_file_entry_and_field(
    tmp_path: Path, services: str, message: str
) -> None:
    path = tmp_path / "broker.yaml"
    path.write_text(services)
    with pytest.raises(ConfigError, match=message) as refused:
        load_settings(broker_environ(tmp_path, BROKER_CONFIG=str(path))).config.read()
    assert str(path) in str(refused.value)


def test_a_portal_profile_fills_in_what_a_service_leaves_out(tmp_path: Path) -> None:
    path = tmp_path / "broker.yaml"
    ind = SERVICE.replace("    minimum_loa: loa3\n", "    profile: ind\n")
    olo = SERVICE.replace("slug: permits", "slug: olo").replace("index: 2", "index: 3")
    olo = olo.replace("2b7e9d40", "3c8f0e51") + "    profile: olo\n"
    path.write_text(f"services:{ind}{olo}")
    registry = load_settings(broker_environ(tmp_path, BROKER_CONFIG=str(path))).config.read()
    permits, olo_service = registry.service("permits"), registry.service("olo")
    assert (permits.profile, permits.minimum_loa, permits.mandates, permits.establishment) == (
        "ind",
        "loa3",
        ("own_company", "recognised_sponsor"),
        "none",
    )
    # A field the entry gives stays as given (loa3 here), checked against the profile.
    olo_fields = (olo_service.profile, olo_service.minimum_loa, olo_service.establishment)
    assert olo_fields == ("olo", "loa3", "required")
    assert olo_service.mandates == ("own_company", "representative")


def test_production_has_no_test_login_and_no_simulator(tmp_path: Path, settings_for_hm: Path) -> None:
    environ = production_environ(tmp_path, BROKER_HM_METADATA=str(settings_for_hm))
    client = create_app(load_settings(environ)).test_client()
    assert client.get("/saml/test-login").status_code == 404
    assert client.get("/simulator/metadata").status_code == 404
    assert client.get("/saml/metadata").status_code == 200


@pytest.mark.parametrize("signed_by_the_hm", [True, False], ids=["hm-certificate", "another-certificate"])
def test_the_hm_metadata_must_verify_with_the_configured_signer(
    tmp_path: Path, settings_for_hm: Path, signed_by_the_hm: bool
) -> None:
    hm = simulator_hm(load_settings(broker_environ(tmp_path / "hm")))
    signer = tmp_path / "hm-signer.pem"
    signer.write_bytes(hm.key.cert_pem if signed_by_the_hm else generate_key_pair("not the HM").cert_pem)
    environ = production_environ(
        tmp_path, BROKER_HM_METADATA=str(settings_for_hm), BROKER_HM_METADATA_SIGNER=str(signer)
    )
    settings = load_settings(environ)
    if signed_by_the_hm:
        assert create_app(settings).test_client().get("/saml/metadata").status_code == 200
    else:
        with pytest.raises(MetadataError, match="HM metadata signature"):
            create_app(settings)


@pytest.fixture
def settings_for_hm(tmp_path: Path) -> Path:
    """A real HM's metadata file (the simulator's, as a real HM would publish it)."""
    hm = simulator_hm(load_settings(broker_environ(tmp_path / "hm")))
    path = tmp_path / "hm-metadata.xml"
    path.write_bytes(hm.metadata(datetime.now(UTC)))
    return path


def test_the_simulator_may_answer_at_an_address_of_its_own(tmp_path: Path) -> None:
    """A simulator in a process of its own, at BROKER_SIMULATOR_URL: its metadata sends the broker
    there for sign-in and artifact resolution, as a real HM's would."""
    own = "http://127.0.0.1:8123/simulator"
    hm = simulator_hm(load_settings(broker_environ(tmp_path, BROKER_SIMULATOR_URL=f"{own}/")))
    idp = parse_metadata(hm.metadata(datetime.now(UTC)), datetime.now(UTC), (hm.key.cert_pem,))
    assert idp.entity_id == f"{own}/metadata"
    assert set(idp.sso_urls.values()) == {f"{own}/sso"}
    assert dict(idp.artifact_resolution_urls) == {0: f"{own}/ars"}
    beside = simulator_hm(load_settings(broker_environ(tmp_path)))
    assert beside.sso_url == f"{TEST_BASE_URL}/simulator/sso"
    with pytest.raises(ConfigError, match="BROKER_SIMULATOR_URL must be an http"):
        load_settings(broker_environ(tmp_path, BROKER_SIMULATOR_URL="127.0.0.1:8123"))
