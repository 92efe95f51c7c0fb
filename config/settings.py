"""Typed settings, one small dataclass per concern, read once at start-up.

Nothing below `config/` reads the environment: `load_settings()` does, here, and the
resulting frozen values are passed to whoever needs them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from config.catalogue_entry import CatalogueEntry

if TYPE_CHECKING:
    from config.key_schedule import KeySchedule
    from config.registry import ConfigFile


class Profile(enum.StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ConfigError(Exception):
    """Invalid or missing configuration: start-up stops with this message."""


class Binding(enum.StrEnum):
    """SAML 2.0 bindings the broker speaks (saml-bindings-2.0-os)."""

    POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
    ARTIFACT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
    SOAP = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP"


class DataEncryption(enum.StrEnum):
    """Ciphers an HM may encrypt assertions and identifiers with (xmlenc-core, xmlenc-core1).

    Named in `BROKER_SAML_DATA_ENCRYPTION` by `short_name`. CBC is unauthenticated (open to
    padding oracles, as xmlenc-core1 warns): accepted only where an operator names it.
    """

    AES128_GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
    AES256_GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
    AES128_CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
    AES256_CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"

    @property
    def short_name(self) -> str:
        return self.name.lower().replace("_", "-")

    @property
    def key_bytes(self) -> int:
        return 16 if self.name.startswith("AES128") else 32


# AES-GCM only, unless the operator names more.
GCM_ONLY = frozenset({DataEncryption.AES128_GCM, DataEncryption.AES256_GCM})


@dataclass(frozen=True)
class KeyPair:
    """A private key and its certificate, both PEM."""

    key_pem: bytes
    cert_pem: bytes
    key_path: Path | None = None
    cert_path: Path | None = None


@dataclass(frozen=True)
class NextKey:
    """The certificate published ahead of a rollover, and when it takes over signing."""

    pair: KeyPair
    activates_at: datetime


@dataclass(frozen=True)
class Service:
    """A service as the eHerkenning service catalogue knows it."""

    slug: str
    uuid: str
    index: int
    minimum_loa: str
    name_nl: str
    name_en: str
    mandates: tuple[str, ...] = ("own_company", "representative")
    # `required`: every sign-in carries an establishment number (a mandate's restriction, the
    # user's pick from the Handelsregister, or `0000` + KvK); `none`: only a restriction's.
    establishment: str = "none"
    # With recognised_sponsor: the register's categories that count (empty: any).
    sponsor_categories: tuple[str, ...] = ()
    # The portal profile (config.portal_profiles) its fields were filled in and checked by.
    profile: str = "custom"
    # What the service catalogue says of it besides the above.
    catalogue: CatalogueEntry = field(default_factory=CatalogueEntry)
    # `required`: a representative only with a current local mandate (the broker's register);
    # `narrow`: a current one's establishment restricts further; `none`: not consulted.
    local_mandate: str = "none"
    # The names of the HMs it is registered with, in order of preference (none: every configured HM).
    hms: tuple[str, ...] = ()


# The name of the one HM configured without BROKER_HMS (BROKER_HM_METADATA and its companions).
DEFAULT_HM = "default"


@dataclass(frozen=True)
class HmSettings:
    """One HM the broker is registered with: where its metadata comes from, the certificates one
    of which must have signed it (none: not checked), and the CA its TLS certificate ends in."""

    name: str
    metadata: str | None  # a path or URL; None: the built-in simulator's
    signers: tuple[bytes, ...] = ()
    tls_ca_bundle: Path | None = None
    # The setting that names its pinned signer, for messages.
    signer_setting: str = "BROKER_HM_METADATA_SIGNER"


@dataclass(frozen=True)
class SamlSettings:
    """The broker's SAML service-provider face."""

    entity_id: str
    oin: str
    base_url: str
    acs_url: str
    key: KeyPair
    hm_metadata: str | None  # a path or URL; None: the built-in simulator's
    # PEM certificates, one of which must have signed the HM's metadata; none: not checked.
    hm_metadata_signers: tuple[bytes, ...] = ()
    # How often the HM's metadata is fetched again (and each worker looks for a newer copy).
    hm_metadata_refresh: timedelta = timedelta(minutes=60)
    next_key: NextKey | None = None
    # Keys that neither sign nor are published any more but still decrypt (a key store's superseded
    # and just retired keys): the HM may still encrypt to them.
    decrypting_keys: tuple[KeyPair, ...] = ()
    clock_skew: timedelta = timedelta(seconds=120)
    request_binding: Binding = Binding.POST
    response_binding: Binding = Binding.ARTIFACT
    request_lifetime: timedelta = timedelta(minutes=15)
    max_message_bytes: int = 256 * 1024
    # The ciphers EncryptedAssertion and EncryptedID data may use; key transport is RSA-OAEP only.
    data_encryption: frozenset[DataEncryption] = GCM_ONLY
    artifact_timeout_seconds: float = 10.0
    hm_tls_ca_bundle: Path | None = None
    organisation_name: str = "eh-broker"
    organisation_url: str = ""
    contact_email: str = ""
    # The organisation's name in English, beside the Dutch one (the service catalogue; none: not given).
    organisation_name_en: str = ""
    # The OINs of the HMs that list our services in the catalogue, the first providing the entries.
    hm_ids: tuple[str, ...] = ()
    # The HM environment the broker is connected to (`preprod` or `prod`), named in its catalogue.
    catalogue_environment: str = "preprod"
    # The HMs in order of preference (BROKER_HMS); none: the one of `hm_metadata` and its companions.
    hms: tuple[HmSettings, ...] = ()
    # After this many artifact resolutions at an HM have failed in a row, new sign-ins go to the
    # next of a service's HMs for `hm_pause`.
    hm_failover_after: int = 3
    hm_pause: timedelta = timedelta(minutes=5)

    @property
    def configured_hms(self) -> tuple[HmSettings, ...]:
        """The HMs in order of preference, at least one."""
        if self.hms:
            return self.hms
        return (HmSettings(DEFAULT_HM, self.hm_metadata, self.hm_metadata_signers, self.hm_tls_ca_bundle),)

    def service_id(self, service: Service) -> str:
        """The ServiceID the HM puts in assertions for `service`."""
        return f"urn:etoegang:DV:{self.oin}:services:{service.index}"

    def keys_at(self, now: datetime) -> tuple[KeyPair, ...]:
        """Our published key pairs, the one to sign with at `now` first."""
        if self.next_key is None:
            return (self.key,)
        if now >= self.next_key.activates_at:
            return (self.next_key.pair, self.key)
        return (self.key, self.next_key.pair)

    def decryption_keys_at(self, now: datetime) -> tuple[KeyPair, ...]:
        """Every key pair that may decrypt at `now`: the published ones, then those that only decrypt."""
        return (*self.keys_at(now), *self.decrypting_keys)


@dataclass(frozen=True)
class SigningKey:
    """A private key the OpenID provider signs tokens with (`alg` RS256 or ES256)."""

    alg: str
    key_pem: bytes
    # Published in the JWKS without signing: ahead of use, so relying parties have it before the
    # switch, or after, until the tokens it signed have expired.
    upcoming: bool = False


@dataclass(frozen=True)
class OidcSettings:
    """The broker's OpenID provider face."""

    issuer: str
    signing_keys: tuple[SigningKey, ...]
    # Keys the pairwise `sub` values; changing it changes every portal's subject identifiers.
    subject_salt: bytes
    code_lifetime: timedelta = timedelta(seconds=60)
    token_lifetime: timedelta = timedelta(minutes=5)
    authorization_lifetime: timedelta = timedelta(minutes=20)
    # How long a sign-in waits for the user to pick an establishment (or for KvK to come back).
    choice_lifetime: timedelta = timedelta(minutes=15)
    # The request header in which the TLS-terminating proxy passes the client certificate it
    # verified (URL-encoded PEM), for tls_client_auth (RFC 8705 §2); None: that method is off.
    tls_client_certificate_header: str | None = None
    # An RSA private key (PEM) clients encrypt request objects to (RSA-OAEP-256, A256GCM),
    # published in the JWKS with `use: enc`; None: request objects are taken signed only.
    request_object_encryption_key: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class KvkSettings:
    """The KvK Handelsregister API, read for services that require an establishment."""

    api_url: str
    api_key: str = field(default="", repr=False)
    timeout_seconds: float = 5.0
    # Successful answers serve this long when the API is unavailable (0: never cached).
    cache_lifetime: timedelta = timedelta(hours=24)
    max_answer_bytes: int = 1024 * 1024
    # The CA certificates the API's TLS chain must end in; None: the system's (certifi's) store.
    tls_ca_bundle: Path | None = None


@dataclass(frozen=True)
class RateLimits:
    """Requests per address and per client at the steps of a sign-in, in Flask-Limiter's notation
    ("60/minute"; several separated by ";"); None: that limit is off."""

    enabled: bool = True
    # Counters shared by every worker and instance; None: each worker counts in its own memory.
    redis_url: str | None = field(default=None, repr=False)
    authorize_address: str | None = "120/minute"
    authorize_client: str | None = "1200/minute"
    acs_address: str | None = "120/minute"
    token_address: str | None = "2400/minute"  # noqa: S105 (a rate, not a secret)
    token_client: str | None = "1200/minute"  # noqa: S105
    userinfo_address: str | None = "2400/minute"
    picker_address: str | None = "60/minute"
    picker_client: str | None = "1200/minute"
    retry_address: str | None = "10/minute"
    retry_client: str | None = "300/minute"


@dataclass(frozen=True)
class Operations:
    """Running the broker: health, metrics, logs, rate limits, proxies, housekeeping."""

    # The bearer token /metrics asks for; None: open outside production, off in production.
    metrics_token: str | None = field(default=None, repr=False)
    # How many proxies in front of the broker set X-Forwarded-For and X-Forwarded-Proto.
    proxy_count: int = 0
    # `json` (one object per line) or `text` (for people).
    log_format: str = "text"
    rate_limits: RateLimits = field(default_factory=RateLimits)
    # Each worker removes expired flow state at most this often (0: only `flask purge`).
    sweep_seconds: int = 300
    # /readyz reports metadata and certificates that expire within this as `expiring`.
    expiry_warning: timedelta = timedelta(days=14)


@dataclass(frozen=True)
class Settings:
    profile: Profile
    secret_key: str
    database_url: str
    instance_path: Path
    saml: SamlSettings
    oidc: OidcSettings
    # The file of services and clients: read into a `Registry` by the app, and again when it changes.
    config: ConfigFile
    simulator: bool = False
    # Where the simulator answers (its SSO, artifact resolution and metadata); None: `<base URL>/simulator`.
    simulator_url: str | None = None
    # The demo portal's client secret (development only): the demo is on when it is set.
    demo_secret: str | None = None
    kvk: KvkSettings = KvkSettings("https://api.kvk.nl")
    # How long the audit trail keeps a record (`flask audit purge` removes older ones).
    audit_retention: timedelta = timedelta(days=400)
    operations: Operations = field(default_factory=Operations)
    # The key store (BROKER_KEYS_DIR) as read at start-up; None: the keys come from the settings above.
    keys: KeySchedule | None = None
