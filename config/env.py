"""Read the broker's settings from environment variables (documented in README.md)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from limits import parse_many

from config.catalogue_entry import CATALOGUE_ENVIRONMENTS
from config.dev_keys import ensure_key_pair, ensure_signing_key, write_once
from config.key_schedule import KeySchedule
from config.key_store import read_store
from config.registry import ConfigFile
from config.settings import (
    DEFAULT_HM,
    GCM_ONLY,
    Binding,
    ConfigError,
    DataEncryption,
    HmSettings,
    KeyPair,
    KvkSettings,
    NextKey,
    OidcSettings,
    Operations,
    Profile,
    RateLimits,
    SamlSettings,
    Settings,
    SigningKey,
)

EXAMPLE_CONFIG = Path(__file__).with_name("example.yaml")
_DEV_BASE_URL = "http://127.0.0.1:5000"
# A made-up OIN for development only: production must name the organisation's own.
_DEV_OIN = "00000009999999990000"
_BINDINGS = {"post": Binding.POST, "redirect": Binding.REDIRECT, "artifact": Binding.ARTIFACT}
_HM_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
_PEM_BEGIN, _PEM_END = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build `Settings` from `environ` (default: the process environment)."""
    env = _Env(os.environ if environ is None else environ)
    profile = _profile(env.get("BROKER_ENV", "production"))
    production = profile is Profile.PRODUCTION
    instance = Path(env.get("BROKER_INSTANCE_PATH", "instance")).resolve()
    simulator = env.flag("BROKER_SIMULATOR")
    if simulator and production:
        raise ConfigError("BROKER_SIMULATOR=1 is refused in the production profile")

    stored = _key_store(env)
    saml = _saml(env, instance, production, simulator, stored)
    return Settings(
        profile=profile,
        secret_key=_instance_secret(env, "BROKER_SECRET_KEY", instance / "secret_key", production),
        database_url=_database_url(env, instance, production),
        instance_path=instance,
        saml=saml,
        oidc=OidcSettings(
            issuer=_issuer(env, saml.base_url, production),
            signing_keys=(
                _signing_keys(env, instance, production) if stored is None else stored.oidc_at(_now())
            ),
            subject_salt=_instance_secret(
                env, "BROKER_SUBJECT_SALT", instance / "subject_salt", production
            ).encode("utf-8"),
            tls_client_certificate_header=_header_name(env, "BROKER_TLS_CLIENT_CERT_HEADER"),
            request_object_encryption_key=_rsa_key(env, "BROKER_OIDC_ENCRYPTION_KEY"),
        ),
        config=ConfigFile(
            path=Path(env.get("BROKER_CONFIG", str(EXAMPLE_CONFIG))),
            environ=env.environ,
            production=production,
            check_seconds=env.integer("BROKER_CONFIG_CHECK_SECONDS", 1, 0, 3600),
            # In production a service requiring an establishment needs the KvK API's key; the
            # file is refused without it, at start-up or when a reload would add such a service.
            kvk_available=not production or bool(env.get("BROKER_KVK_API_KEY", "")),
            hm_names=tuple(hm.name for hm in saml.configured_hms),
        ),
        simulator=simulator,
        simulator_url=_simulator_url(env),
        demo_secret=_demo_secret(env, production),
        kvk=_kvk(env, saml.base_url, production, simulator),
        audit_retention=timedelta(days=env.integer("BROKER_AUDIT_RETENTION_DAYS", 400, 90, 3650)),
        operations=_operations(env, profile),
        keys=stored,
    )


class _Env:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def get(self, name: str, default: str | None = None) -> str:
        value = self.environ.get(name, "").strip()
        if value:
            return value
        if default is None:
            raise ConfigError(f"{name} must be set")
        return default

    def optional(self, name: str) -> str | None:
        return self.environ.get(name, "").strip() or None

    def flag(self, name: str) -> bool:
        value = self.environ.get(name, "0").strip().lower()
        if value not in {"0", "1", "true", "false", ""}:
            raise ConfigError(f"{name} must be 1 or 0, not {value!r}")
        return value in {"1", "true"}

    def integer(self, name: str, default: int, lowest: int, highest: int) -> int:
        raw = self.get(name, str(default))
        # ASCII digits only: str.isdigit() and int() take any script's digits too.
        if not re.fullmatch(r"[0-9]{1,9}", raw) or not lowest <= int(raw) <= highest:
            raise ConfigError(f"{name} must be a whole number from {lowest} to {highest}, not {raw!r}")
        return int(raw)


def _database_url(env: _Env, instance: Path, production: bool) -> str:
    url = env.get("BROKER_DATABASE_URL", f"sqlite:///{instance / 'broker.sqlite3'}")
    if production and url.startswith("sqlite"):
        # One file on one machine: no second instance, no failover, no backups while in use.
        raise ConfigError("BROKER_DATABASE_URL must name a PostgreSQL database in the production profile")
    return url


def _rsa_key(env: _Env, name: str) -> bytes | None:
    """The RSA private key (PEM, 2048 bits or more) in the file `name` names; None when unset."""
    path = _optional_file(env, name)
    if path is None:
        return None
    pem = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{name}: {path} holds no unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ConfigError(f"{name}: {path} must hold an RSA key of 2048 bits or more")
    return pem


def _header_name(env: _Env, name: str) -> str | None:
    """An HTTP header's name (RFC 9110 §5.1 token characters), or None when unset."""
    value = env.get(name, "")
    if not value:
        return None
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}", value):
        raise ConfigError(f"{name} must name an HTTP header, not {value!r}")
    return value


def _issuer(env: _Env, base_url: str, production: bool) -> str:
    issuer = env.get("BROKER_ISSUER", base_url).rstrip("/")
    if production and not issuer.startswith("https://"):
        raise ConfigError("BROKER_ISSUER must be an https:// URL in the production profile")
    return issuer


def _profile(raw: str) -> Profile:
    try:
        return Profile(raw)
    except ValueError:
        names = ", ".join(p.value for p in Profile)
        raise ConfigError(f"BROKER_ENV must be one of {names}, not {raw!r}") from None


def _instance_secret(env: _Env, name: str, path: Path, production: bool) -> str:
    configured = env.optional(name)
    if configured:
        if len(configured) < 32:
            raise ConfigError(f"{name} must be at least 32 characters")
        return configured
    if production:
        raise ConfigError(f"{name} must be set in the production profile")
    # Outside production a random value is kept in the instance folder, so restarts keep state valid.
    if not path.exists():
        write_once(path, secrets.token_urlsafe(48).encode("ascii"))
    return path.read_text().strip()


def _saml(
    env: _Env, instance: Path, production: bool, simulator: bool, stored: KeySchedule | None
) -> SamlSettings:
    base_url = env.get("BROKER_BASE_URL", None if production else _DEV_BASE_URL).rstrip("/")
    if production and not base_url.startswith("https://"):
        raise ConfigError("BROKER_BASE_URL must be an https:// URL in the production profile")
    oin = env.get("BROKER_OIN", None if production else _DEV_OIN)
    if not re.fullmatch(r"[0-9]{20}", oin):
        raise ConfigError(f"BROKER_OIN must be 20 digits, not {oin!r}")
    hms = _hms(env, production, simulator)
    first = hms[0]
    if stored is None:
        key, next_key, decrypting = (
            _key_pair(env, "BROKER_SAML_KEY", "BROKER_SAML_CERT", instance, production),
            _next_key(env),
            (),
        )
    else:
        # The key store's keys as of start-up; each worker follows them from then on (broker.keys).
        at_start = stored.saml_at(_now())
        key, next_key, decrypting = at_start.key, at_start.next_key, at_start.decrypting
    return SamlSettings(
        entity_id=env.get("BROKER_SAML_ENTITY_ID", f"{base_url}/saml/metadata"),
        oin=oin,
        base_url=base_url,
        # One ACS URL for both bindings: the parameter name says which one arrived.
        acs_url=f"{base_url}/saml/acs",
        key=key,
        next_key=next_key,
        decrypting_keys=decrypting,
        hm_metadata=first.metadata,
        hm_metadata_signers=first.signers,
        hm_metadata_refresh=timedelta(minutes=env.integer("BROKER_HM_METADATA_REFRESH_MINUTES", 60, 1, 1440)),
        hm_tls_ca_bundle=first.tls_ca_bundle,
        hms=hms if env.optional("BROKER_HMS") else (),
        hm_failover_after=env.integer("BROKER_HM_FAILOVER_AFTER", 3, 1, 100),
        hm_pause=timedelta(minutes=env.integer("BROKER_HM_PAUSE_MINUTES", 5, 1, 1440)),
        clock_skew=timedelta(seconds=env.integer("BROKER_SAML_CLOCK_SKEW", 120, 0, 300)),
        request_binding=_binding(env, "BROKER_SAML_REQUEST_BINDING", "post", {"post", "redirect"}),
        response_binding=_binding(env, "BROKER_SAML_RESPONSE_BINDING", "artifact", {"artifact", "post"}),
        max_message_bytes=env.integer("BROKER_SAML_MAX_BYTES", 256 * 1024, 4096, 4 * 1024 * 1024),
        data_encryption=_data_encryption(env),
        organisation_name=env.get("BROKER_ORGANISATION_NAME", "eh-broker"),
        organisation_url=env.get("BROKER_ORGANISATION_URL", base_url),
        contact_email=env.get("BROKER_CONTACT_EMAIL", ""),
        organisation_name_en=env.get("BROKER_ORGANISATION_NAME_EN", ""),
        hm_ids=_hm_ids(env),
        catalogue_environment=_catalogue_environment(env, production),
    )


def _hm_ids(env: _Env) -> tuple[str, ...]:
    """BROKER_HM_ID: the HMs' OINs, separated by commas."""
    raw = env.get("BROKER_HM_ID", "")
    values = tuple(part.strip() for part in raw.split(","))
    if raw and (not all(re.fullmatch(r"[0-9]{20}", v) for v in values) or len(set(values)) != len(values)):
        raise ConfigError(f"BROKER_HM_ID must list OINs (20 digits each), separated by commas, not {raw!r}")
    return values if raw else ()


def _catalogue_environment(env: _Env, production: bool) -> str:
    raw = env.get("BROKER_CATALOGUE_ENV", "prod" if production else "preprod")
    if raw not in CATALOGUE_ENVIRONMENTS:
        raise ConfigError(
            f"BROKER_CATALOGUE_ENV must be one of {', '.join(CATALOGUE_ENVIRONMENTS)}, not {raw!r}"
        )
    return raw


def _hms(env: _Env, production: bool, simulator: bool) -> tuple[HmSettings, ...]:
    """The HMs in order of preference: those BROKER_HMS names, each with its BROKER_HM_<NAME>_*
    settings; without it, the one of BROKER_HM_METADATA, BROKER_HM_METADATA_SIGNER, BROKER_HM_TLS_CA."""
    raw = env.optional("BROKER_HMS")
    if raw is None:
        return (
            _hm(
                env,
                production,
                simulator,
                DEFAULT_HM,
                "BROKER_HM_METADATA",
                "BROKER_HM_METADATA_SIGNER",
                "BROKER_HM_TLS_CA",
            ),
        )
    names = tuple(part.strip() for part in raw.split(","))
    if not all(_HM_NAME.fullmatch(name) for name in names) or len(set(names)) != len(names):
        raise ConfigError(
            "BROKER_HMS must list names (lower-case letters, digits and dashes, starting with a letter),"
            f" separated by commas, each once, not {raw!r}"
        )
    for single in ("BROKER_HM_METADATA", "BROKER_HM_METADATA_SIGNER", "BROKER_HM_TLS_CA"):
        if env.optional(single) is not None:
            raise ConfigError(f"{single} is for one HM: with BROKER_HMS, set BROKER_HM_<NAME>_… for each HM")
    hms = []
    for name in names:
        prefix = f"BROKER_HM_{name.upper().replace('-', '_')}"
        hms.append(
            _hm(
                env,
                production,
                simulator,
                name,
                f"{prefix}_METADATA",
                f"{prefix}_METADATA_SIGNER",
                f"{prefix}_TLS_CA",
            )
        )
    if sum(hm.metadata is None for hm in hms) > 1:
        raise ConfigError("only one HM can be the built-in simulator (no metadata set)")
    return tuple(hms)


def _hm(
    env: _Env, production: bool, simulator: bool, name: str, metadata: str, signer: str, tls_ca: str
) -> HmSettings:
    """One HM: where its metadata comes from, the certificates its signature must verify with, its TLS CA."""
    source = env.optional(metadata)
    if source is None and not simulator:
        raise ConfigError(f"{metadata} must be set (a file path or URL) unless BROKER_SIMULATOR=1")
    signers = _certificates(env, signer)
    if production and source is not None and source.startswith(("https://", "http://")):
        # Fetched metadata pins every certificate the broker trusts: its signature must be checked.
        if not source.startswith("https://"):
            raise ConfigError(f"{metadata} must be an https:// URL or a file in production")
        if not signers:
            raise ConfigError(
                f"{signer} must be set in the production profile when {metadata} "
                "is a URL: the certificate the HM signs its metadata with"
            )
    return HmSettings(name, source, signers, _optional_file(env, tls_ca), signer)


def _key_pair(env: _Env, key_var: str, cert_var: str, instance: Path, production: bool) -> KeyPair:
    key_path, cert_path = env.optional(key_var), env.optional(cert_var)
    if key_path and cert_path:
        return _read_pair(Path(key_path), Path(cert_path), key_var)
    if key_path or cert_path:
        raise ConfigError(f"{key_var} and {cert_var} must be set together")
    if production:
        raise ConfigError(f"{key_var} and {cert_var} must be set in the production profile")
    return ensure_key_pair(instance / "saml", "sp", "eh-broker development")


def _read_pair(key_path: Path, cert_path: Path, key_var: str) -> KeyPair:
    try:
        return KeyPair(
            key_pem=key_path.read_bytes(),
            cert_pem=cert_path.read_bytes(),
            key_path=key_path,
            cert_path=cert_path,
        )
    except OSError as exc:
        raise ConfigError(f"{key_var}: cannot read {exc.filename}: {exc.strerror}") from exc


def _certificates(env: _Env, name: str) -> tuple[bytes, ...]:
    """The PEM certificates in the file `name` names (several during a rollover); none when unset."""
    path = _optional_file(env, name)
    if path is None:
        return ()
    found = tuple(
        f"{_PEM_BEGIN}{body}{_PEM_END}\n".encode("ascii")
        for body in re.findall(f"{_PEM_BEGIN}(.*?){_PEM_END}", path.read_text("ascii", "replace"), re.DOTALL)
    )
    for pem in found:
        try:
            x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise ConfigError(f"{name}: {path} holds a certificate that cannot be read") from None
    if not found:
        raise ConfigError(f"{name}: {path} holds no PEM certificate")
    return found


# Keys the environment names; with a key store they are its business alone.
_KEY_SETTINGS = (
    "BROKER_SAML_KEY",
    "BROKER_SAML_CERT",
    "BROKER_SAML_NEXT_KEY",
    "BROKER_SAML_NEXT_CERT",
    "BROKER_SAML_NEXT_ACTIVATION",
    "BROKER_OIDC_KEYS",
)
# How long past its `exp` a relying party may still accept a token (the leeway libraries allow for
# clocks apart): a retired token key stays in the JWKS this much longer than a token's lifetime.
TOKEN_LEEWAY = timedelta(minutes=5)


def _key_store(env: _Env) -> KeySchedule | None:
    """BROKER_KEYS_DIR: every key with the moments of its life, read once here and checked."""
    configured = env.optional("BROKER_KEYS_DIR")
    if configured is None:
        return None
    named = [name for name in _KEY_SETTINGS if env.optional(name)]
    if named:
        raise ConfigError(
            f"{', '.join(named)}: the keys are in BROKER_KEYS_DIR ({configured}); unset these"
            " (`flask --app wsgi keys init DIR`, run without BROKER_KEYS_DIR, copies them into a key store)"
        )
    clock_skew = timedelta(seconds=env.integer("BROKER_SAML_CLOCK_SKEW", 120, 0, 300))
    stored = read_store(
        Path(configured),
        # An ended SAML key opens the answers to sign-ins that were under way when it ended.
        saml_grace=SamlSettings.request_lifetime + clock_skew,
        oidc_grace=OidcSettings.token_lifetime + TOKEN_LEEWAY,
    )
    problems = stored.problems(_now())
    if problems:
        raise ConfigError(f"BROKER_KEYS_DIR ({configured}): " + "; ".join(problems))
    return stored


def _now() -> datetime:
    return datetime.now(UTC)


def _next_key(env: _Env) -> NextKey | None:
    names = ("BROKER_SAML_NEXT_KEY", "BROKER_SAML_NEXT_CERT", "BROKER_SAML_NEXT_ACTIVATION")
    values = [env.optional(n) for n in names]
    if not any(values):
        return None
    if not all(values):
        raise ConfigError(f"{', '.join(names)} must be set together")
    key_path, cert_path, activation = values
    try:
        activates_at = datetime.fromisoformat(str(activation))
    except ValueError:
        raise ConfigError(
            f"BROKER_SAML_NEXT_ACTIVATION must be an ISO 8601 time, not {activation!r}"
        ) from None
    if activates_at.tzinfo is None:
        raise ConfigError(
            "BROKER_SAML_NEXT_ACTIVATION must name its time zone, e.g. 2027-01-01T00:00:00+00:00"
        )
    return NextKey(
        pair=_read_pair(Path(str(key_path)), Path(str(cert_path)), names[0]), activates_at=activates_at
    )


def _binding(env: _Env, name: str, default: str, allowed: set[str]) -> Binding:
    raw = env.get(name, default).lower()
    if raw not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(sorted(allowed))}, not {raw!r}")
    return _BINDINGS[raw]


def _data_encryption(env: _Env) -> frozenset[DataEncryption]:
    """The ciphers named in BROKER_SAML_DATA_ENCRYPTION (comma-separated short names)."""
    name = "BROKER_SAML_DATA_ENCRYPTION"
    known = {cipher.short_name: cipher for cipher in DataEncryption}
    raw = env.get(name, ",".join(sorted(cipher.short_name for cipher in GCM_ONLY)))
    named = [part.strip().lower() for part in raw.split(",")]
    if any(part not in known for part in named):
        names = ", ".join(known)
        raise ConfigError(f"{name} must name one or more of {names}, separated by commas, not {raw!r}")
    return frozenset(known[part] for part in named)


_KEY_FILES = (("rs256.pem", "RS256", False), ("es256.pem", "ES256", False))
_NEXT_KEY_FILES = (("next-rs256.pem", "RS256"), ("next-es256.pem", "ES256"))


def _signing_keys(env: _Env, instance: Path, production: bool) -> tuple[SigningKey, ...]:
    """The token signing keys: `rs256.pem` and `es256.pem`, plus `next-*.pem` published ahead of use."""
    configured = env.optional("BROKER_OIDC_KEYS")
    if configured is None and production:
        raise ConfigError("BROKER_OIDC_KEYS must name the folder with rs256.pem and es256.pem in production")
    if configured is None:
        folder = instance / "oidc"
        return tuple(SigningKey(alg, ensure_signing_key(folder / name, alg)) for name, alg, _ in _KEY_FILES)
    folder = Path(configured)
    keys = []
    for name, alg, _ in _KEY_FILES:
        if not (folder / name).is_file():
            raise ConfigError(f"BROKER_OIDC_KEYS: {folder / name} is missing")
        keys.append(SigningKey(alg, (folder / name).read_bytes()))
    keys += [
        SigningKey(alg, (folder / name).read_bytes(), upcoming=True)
        for name, alg in _NEXT_KEY_FILES
        if (folder / name).is_file()
    ]
    return tuple(keys)


def _optional_file(env: _Env, name: str) -> Path | None:
    value = env.optional(name)
    if value is None:
        return None
    if not Path(value).is_file():
        raise ConfigError(f"{name}: {value} is not a file")
    return Path(value)


def _kvk(env: _Env, base_url: str, production: bool, simulator: bool) -> KvkSettings:
    # With the simulator, the broker's own stand-in for the KvK API, so development needs nothing else.
    default_url = f"{base_url}/simulator/kvk" if simulator else "https://api.kvk.nl"
    api_url = env.get("BROKER_KVK_API_URL", default_url).rstrip("/")
    if production and not api_url.startswith("https://"):
        raise ConfigError("BROKER_KVK_API_URL must be an https:// URL in the production profile")
    return KvkSettings(
        api_url=api_url,
        api_key=env.get("BROKER_KVK_API_KEY", ""),
        timeout_seconds=env.integer("BROKER_KVK_TIMEOUT_SECONDS", 5, 1, 60),
        cache_lifetime=timedelta(hours=env.integer("BROKER_KVK_CACHE_HOURS", 24, 0, 24 * 31)),
        tls_ca_bundle=_optional_file(env, "BROKER_KVK_TLS_CA"),
    )


def _simulator_url(env: _Env) -> str | None:
    url = env.optional("BROKER_SIMULATOR_URL")
    if url is not None and not url.startswith(("https://", "http://")):
        raise ConfigError(f"BROKER_SIMULATOR_URL must be an http(s):// URL, not {url!r}")
    return None if url is None else url.rstrip("/")


def _demo_secret(env: _Env, production: bool) -> str | None:
    secret = env.optional("BROKER_DEMO_SECRET")
    if secret and production:
        raise ConfigError("BROKER_DEMO_SECRET (the demo portal) is refused in the production profile")
    return secret


def _operations(env: _Env, profile: Profile) -> Operations:
    production = profile is Profile.PRODUCTION
    log_format = env.get("BROKER_LOG_FORMAT", "json" if production else "text").lower()
    if log_format not in {"json", "text"}:
        raise ConfigError(f"BROKER_LOG_FORMAT must be json or text, not {log_format!r}")
    token = env.optional("BROKER_METRICS_TOKEN")
    if token is not None and len(token) < 32:
        raise ConfigError("BROKER_METRICS_TOKEN must be at least 32 characters")
    return Operations(
        metrics_token=token,
        proxy_count=env.integer("BROKER_PROXY_COUNT", 0, 0, 5),
        log_format=log_format,
        rate_limits=_rate_limits(env, profile),
        # Off by default in the test profile, whose suites count every statement a request makes.
        sweep_seconds=env.integer("BROKER_SWEEP_SECONDS", 0 if profile is Profile.TEST else 300, 0, 86400),
        expiry_warning=timedelta(days=env.integer("BROKER_EXPIRY_WARNING_DAYS", 14, 0, 365)),
    )


_LIMITS = tuple(name for name in RateLimits.__dataclass_fields__ if name not in {"enabled", "redis_url"})


def _rate_limits(env: _Env, profile: Profile) -> RateLimits:
    """BROKER_RATE_LIMITS switches them (off by default only in the test profile, whose suites sign
    in hundreds of times from one address); BROKER_LIMIT_<STEP>_<KEY> sets one, `off` lifts it."""
    defaults = RateLimits()
    redis_url = env.optional("BROKER_REDIS_URL")
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("BROKER_REDIS_URL must be a redis://, rediss:// or unix:// URL")
    limits: dict[str, str | None] = {}
    for name in _LIMITS:
        variable = f"BROKER_LIMIT_{name.upper()}"
        raw = env.get(variable, str(getattr(defaults, name)))
        if raw.lower() == "off":
            limits[name] = None
            continue
        try:
            parse_many(raw)
        except ValueError:
            raise ConfigError(f"{variable} must be a rate such as 60/minute, or off, not {raw!r}") from None
        limits[name] = raw
    switched = env.optional("BROKER_RATE_LIMITS")
    enabled = env.flag("BROKER_RATE_LIMITS") if switched else profile is not Profile.TEST
    return RateLimits(enabled=enabled, redis_url=redis_url, **limits)
