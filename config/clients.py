"""The clients section of the broker's YAML configuration file (`BROKER_CONFIG`).

A client is a portal that signs its users in through the broker, for one service or several
(`broker.oidc.service_choice` says which a sign-in is for).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry

from config.settings import ConfigError, Service

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth", "none")
SIGNING_ALGS = ("RS256", "ES256")
ACCESS_TOKEN_FORMATS = ("opaque", "jwt")
# The claim sets a client can be released (README, "Claims"): a released set never changes, a
# change is a new version.
CLAIMS_PROFILES = ("broker-v1", "nlgov-v1")
ACR_FORMATS = ("eherkenning", "eidas")
# Encryption of ID tokens and userinfo to a key in the client's `jwks` (the NL GOV profile's
# algorithms: RSA-OAEP, RSA-OAEP-256 or ECDH-ES for the key, A256GCM for the content).
ENCRYPTION_ALGS = ("RSA-OAEP-256", "RSA-OAEP", "ECDH-ES")
ENCRYPTION_ENCS = ("A256GCM",)
SCOPES = ("openid", "kvk", "mandate", "acting_subject", "organisation", "department", "profile")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MIN_SECRET = 32
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class ClientSecret:
    """A client secret kept as its SHA-256: secrets are random and long, so a slow hash adds nothing."""

    sha256: str

    @classmethod
    def of(cls, secret: str) -> ClientSecret:
        return cls(hashlib.sha256(secret.encode("utf-8")).hexdigest())

    def matches(self, presented: str) -> bool:
        return hmac.compare_digest(ClientSecret.of(presented).sha256, self.sha256)


@dataclass(frozen=True)
class Encryption:
    """How a client asks for a token or answer encrypted to it (JWE key and content algorithms)."""

    alg: str
    enc: str = "A256GCM"


@dataclass(frozen=True)
class Client:
    client_id: str
    # The portal's name as people see it (the refusal page's "back to …"): `name` in Dutch (or the
    # one name given), `name_en` in English; `name: {nl: …, en: …}` in the file, or one name.
    name: str
    # The slugs of the services it signs in for, as listed (`service:` in the file: one).
    services: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str
    secret: ClientSecret | None
    jwks: Mapping[str, Any] | None
    scopes: tuple[str, ...]
    id_token_signed_response_alg: str = "RS256"  # noqa: S105 (an algorithm name)
    access_token_format: str = "opaque"  # noqa: S105 (a format name)
    # PKCE (S256) for every client, as the NL GOV Assurance profile requires; a confidential
    # client may be let off for a legacy portal or a conformance test run.
    require_pkce: bool = True
    # A refusal first shows the person the broker's page (why, what to do, the reference), whose
    # button takes them back; false for a portal that explains refusals on its own page.
    refusal_page: bool = True
    # broker-v1: the broker's own claims, as ever; nlgov-v1: the NL GOV Assurance profile's.
    claims_profile: str = "broker-v1"
    # The `acr` a client reads: the eHerkenning level's URI, or the eIDAS level it meets.
    acr_format: str = "eherkenning"
    # Userinfo as a JWT signed with this algorithm (application/jwt); None: plain JSON.
    userinfo_signed_response_alg: str | None = None
    # ID token and userinfo encrypted to the client's key; None: not encrypted.
    id_token_encryption: Encryption | None = None
    userinfo_encryption: Encryption | None = None
    # Where the client serves request objects by reference (RFC 9101 §5.2): only these are fetched.
    request_uris: tuple[str, ...] = ()
    # Every authorization request pushed first (RFC 9126 §6): /oidc/authorize takes only its request_uri.
    require_pushed_authorization_requests: bool = False
    # tls_client_auth (RFC 8705 §2): the certificate's subject DN (RFC 4514), or its SHA-256
    # thumbprint (hex); one of the two.
    tls_client_auth_subject_dn: str | None = None
    tls_client_certificate_sha256: str | None = None
    name_en: str | None = None

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 (a method name)

    def name_in(self, language: str) -> str:
        """The portal's name in `language` (nl or en)."""
        return self.name_en or self.name if language == "en" else self.name


def load_clients(
    path: Path,
    document: Mapping[str, Any],
    services: tuple[Service, ...],
    environ: Mapping[str, str],
    production: bool,
) -> tuple[Client, ...]:
    """Read and check the `clients:` list; errors name the file, the entry and the field."""
    entries = document.get("clients", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: 'clients' must be a list")
    slugs = {service.slug for service in services}
    clients = tuple(
        _Entry(path, n, entry, environ, production).client(slugs) for n, entry in enumerate(entries)
    )
    seen: set[str] = set()
    for client in clients:
        if client.client_id in seen:
            raise ConfigError(f"{path}: clients ({client.client_id}): field 'client_id' repeats")
        seen.add(client.client_id)
    return clients


class _Entry:
    def __init__(self, path: Path, n: int, entry: Any, environ: Mapping[str, str], production: bool) -> None:
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: clients[{n}]: must be a mapping")
        self.where = f"{path}: clients[{n}] ({entry.get('client_id', '?')})"
        self.entry, self.environ, self.production, self.folder = entry, environ, production, path.parent

    def fail(self, field: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: field '{field}' {message}")

    def get(self, field: str, default: Any = ...) -> Any:
        if field in self.entry:
            return self.entry[field]
        if default is ...:
            raise self.fail(field, "is missing")
        return default

    def choice(self, field: str, allowed: tuple[str, ...], default: str) -> str:
        value = str(self.get(field, default))
        if value not in allowed:
            raise self.fail(field, f"must be one of {', '.join(allowed)}")
        return value

    def client(self, slugs: set[str]) -> Client:
        client_id = str(self.get("client_id"))
        if not _CLIENT_ID.match(client_id):
            raise self.fail("client_id", "must be 1-64 letters, digits, '.', '_' or '-'")
        services = self.services(slugs)
        profile = self.choice("claims_profile", CLAIMS_PROFILES, "broker-v1")
        method = self.choice(
            "token_endpoint_auth_method",
            AUTH_METHODS,
            "private_key_jwt" if profile == "nlgov-v1" else "client_secret_basic",
        )
        if profile == "nlgov-v1" and method.startswith("client_secret"):
            # The NL GOV Assurance profile authenticates confidential clients with keys, never secrets.
            raise self.fail(
                "token_endpoint_auth_method",
                f"{method} is for broker-v1 clients: a nlgov-v1 client uses private_key_jwt",
            )
        scopes = tuple(self.get("scopes", list(SCOPES)))
        if "openid" not in scopes or not set(scopes) <= set(SCOPES):
            raise self.fail("scopes", f"must include openid and only these: {', '.join(SCOPES)}")
        id_token_encryption = self.encryption("id_token")
        userinfo_encryption = self.encryption("userinfo")
        userinfo_alg = self.get("userinfo_signed_response_alg", None)
        if userinfo_alg is not None:
            userinfo_alg = self.choice("userinfo_signed_response_alg", SIGNING_ALGS, "RS256")
        elif userinfo_encryption is not None:
            raise self.fail(
                "userinfo_encrypted_response_alg",
                "needs userinfo_signed_response_alg: the broker signs what it encrypts",
            )
        encrypts = [e for e in (id_token_encryption, userinfo_encryption) if e is not None]
        name = self.names(client_id)
        return Client(
            client_id=client_id,
            name=name[0],
            name_en=name[1],
            services=services,
            redirect_uris=self.redirect_uris(),
            token_endpoint_auth_method=method,
            secret=self.secret() if method.startswith("client_secret") else self.no("secret", method),
            jwks=self.jwks(encrypts) if self.has_keys(method, encrypts) else self.no("jwks", method),
            scopes=scopes,
            id_token_signed_response_alg=self.choice("id_token_signed_response_alg", SIGNING_ALGS, "RS256"),
            # The NL GOV profile wants access tokens as JWTs: its claim set has them by default.
            access_token_format=self.choice(
                "access_token_format", ACCESS_TOKEN_FORMATS, "jwt" if profile == "nlgov-v1" else "opaque"
            ),
            require_pkce=self.require_pkce(method),
            refusal_page=self.flag("refusal_page", True),
            claims_profile=profile,
            acr_format=self.choice("acr_format", ACR_FORMATS, "eherkenning"),
            userinfo_signed_response_alg=userinfo_alg,
            id_token_encryption=id_token_encryption,
            userinfo_encryption=userinfo_encryption,
            request_uris=self.request_uris(self.has_keys(method, encrypts)),
            require_pushed_authorization_requests=self.flag("require_pushed_authorization_requests", False),
            **self.tls_client_auth(method),
        )

    def names(self, client_id: str) -> tuple[str, str | None]:
        """`name`: one name, or `{nl: …, en: …}` (the Dutch and the English); the client_id without."""
        given = self.get("name", client_id)
        if not isinstance(given, dict):
            return str(given), None
        dutch, english = (str(given.get(lang) or "").strip() for lang in ("nl", "en"))
        if set(given) != {"nl", "en"} or not (dutch and english):
            raise self.fail("name", "must be one name, or give both 'nl' and 'en' and nothing else")
        return dutch, english

    def services(self, slugs: set[str]) -> tuple[str, ...]:
        """`services:`, a list of slugs, or `service:`, one slug: never both."""
        if "service" in self.entry and "services" in self.entry:
            raise self.fail("services", "and 'service' are both given: list every service under 'services'")
        field = "service" if "service" in self.entry else "services"
        given = self.get(field)
        named = [given] if field == "service" else given
        if not isinstance(named, list) or not named or not all(isinstance(n, str) for n in named):
            raise self.fail(
                field, "must name a service" if field == "service" else "must list one or more services"
            )
        for slug in named:
            if slug not in slugs:
                raise self.fail(field, f"names {slug!r}, no configured service ({', '.join(sorted(slugs))})")
        repeated = sorted({slug for slug in named if named.count(slug) > 1})
        if repeated:
            raise self.fail(field, f"names {', '.join(repeated)} more than once")
        return tuple(named)

    def tls_client_auth(self, method: str) -> dict[str, str]:
        """The certificate a tls_client_auth client presents: its subject DN or thumbprint."""
        fields = ("tls_client_auth_subject_dn", "tls_client_certificate_sha256")
        given = [name for name in fields if name in self.entry]
        if method != "tls_client_auth":
            if given:
                raise self.fail(given[0], f"does not go with token_endpoint_auth_method {method}")
            return {}
        if len(given) != 1:
            raise self.fail(
                "tls_client_auth_subject_dn", "or tls_client_certificate_sha256: exactly one is needed"
            )
        (field,) = given
        value = str(self.entry[field])
        if field == "tls_client_certificate_sha256":
            value = value.replace(":", "").lower()
            if not re.fullmatch(r"[0-9a-f]{64}", value):
                raise self.fail(field, "must be the certificate's SHA-256 in hex (64 digits)")
        else:
            try:
                value = x509.Name.from_rfc4514_string(value).rfc4514_string()
            except ValueError as exc:
                raise self.fail(field, f"is not a distinguished name (RFC 4514): {exc}") from exc
        return {field: value}

    def has_keys(self, method: str, encrypts: list[Encryption]) -> bool:
        """Whether the entry's keys are read: needed for private_key_jwt and encryption, welcome
        for signing request objects with whatever the client authenticates with."""
        if method == "none" and not encrypts:
            return False
        return (
            method == "private_key_jwt" or bool(encrypts) or "jwks" in self.entry or "jwks_file" in self.entry
        )

    def request_uris(self, keyed: bool) -> tuple[str, ...]:
        uris = self.get("request_uris", [])
        if not isinstance(uris, list):
            raise self.fail("request_uris", "must be a list")
        for uri in uris:
            parts = urlsplit(str(uri))
            if parts.scheme != "https" or not parts.netloc or parts.fragment:
                raise self.fail("request_uris", f"has {uri!r}: use an absolute https:// URL without fragment")
        if uris and not keyed:
            raise self.fail("request_uris", "needs the client's jwks: request objects are signed")
        return tuple(str(uri) for uri in uris)

    def encryption(self, of: str) -> Encryption | None:
        """`<of>_encrypted_response_alg` and `_enc`; None when the client asks for no encryption."""
        alg_field, enc_field = f"{of}_encrypted_response_alg", f"{of}_encrypted_response_enc"
        if alg_field not in self.entry:
            if enc_field in self.entry:
                raise self.fail(enc_field, f"needs {alg_field}")
            return None
        return Encryption(
            self.choice(alg_field, ENCRYPTION_ALGS, ""), self.choice(enc_field, ENCRYPTION_ENCS, "A256GCM")
        )

    def flag(self, field: str, default: bool) -> bool:
        value = self.get(field, default)
        if not isinstance(value, bool):
            raise self.fail(field, "must be true or false")
        return value

    def require_pkce(self, method: str) -> bool:
        value = self.flag("require_pkce", True)
        if not value and method == "none":
            raise self.fail("require_pkce", "cannot be false for a public client: PKCE is what protects it")
        return value

    def no(self, field: str, method: str) -> None:
        names = {"secret": ("secret", "secret_sha256", "secret_env"), "jwks": ("jwks", "jwks_file")}[field]
        present = [name for name in names if name in self.entry]
        if present:
            raise self.fail(present[0], f"does not go with token_endpoint_auth_method {method}")

    def redirect_uris(self) -> tuple[str, ...]:
        uris = self.get("redirect_uris")
        if not isinstance(uris, list) or not uris:
            raise self.fail("redirect_uris", "must be a non-empty list")
        for uri in uris:
            parts = urlsplit(str(uri))
            loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK
            if parts.fragment or not parts.netloc or not (parts.scheme == "https" or loopback):
                raise self.fail(
                    "redirect_uris", f"has {uri!r}: use an absolute https:// URL without fragment"
                )
            if loopback and self.production:
                raise self.fail("redirect_uris", f"has {uri!r}: plain http is for development only")
        return tuple(str(uri) for uri in uris)

    def secret(self) -> ClientSecret:
        given = [name for name in ("secret", "secret_sha256", "secret_env") if name in self.entry]
        if len(given) != 1:
            raise self.fail("secret", "needs exactly one of secret, secret_sha256, secret_env")
        (field,) = given
        value = str(self.entry[field])
        if field == "secret_sha256":
            if not re.fullmatch(r"[0-9a-f]{64}", value):
                raise self.fail(field, "must be 64 lower-case hex digits (sha256 of the secret)")
            return ClientSecret(value)
        if field == "secret":
            if self.production:
                raise self.fail(
                    field, "in plain text is refused in production: use secret_sha256 or secret_env"
                )
        else:
            if not self.environ.get(value):
                raise self.fail(field, f"names {value}, which is not set")
            value = self.environ[value]
        if len(value) < _MIN_SECRET:
            raise self.fail(field, f"must be at least {_MIN_SECRET} characters")
        return ClientSecret.of(value)

    def jwks(self, encrypts: list[Encryption]) -> Mapping[str, Any]:
        if "jwks_file" in self.entry:
            try:
                jwks = json.loads((self.folder / str(self.entry["jwks_file"])).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise self.fail("jwks_file", f"cannot be read: {exc}") from exc
        else:
            jwks = self.get("jwks")
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
            raise self.fail("jwks", "must be a JWK set with at least one key")
        if any("d" in key for key in jwks["keys"]):
            raise self.fail("jwks", "holds a private key: register only the public keys")
        for encryption in encrypts:
            key = encryption_key(jwks, encryption.alg)
            if key is None:
                raise self.fail("jwks", f"holds no key to encrypt to with {encryption.alg}")
            try:
                JWKRegistry.import_key(dict(key))
            except (JoseError, ValueError, LookupError, TypeError) as exc:
                raise self.fail(
                    "jwks", f"holds a key for {encryption.alg} that cannot be read: {exc}"
                ) from exc
        return jwks


def encryption_key(jwks: Mapping[str, Any], alg: str) -> Mapping[str, Any] | None:
    """The key of a client's JWK set to encrypt to with `alg`: of the key type the algorithm needs
    (RSA, or EC for ECDH-ES), for this algorithm or any; the first marked for encryption, else
    the first marked for no use in particular."""
    kty = "EC" if alg.startswith("ECDH") else "RSA"
    fitting = [
        key
        for key in jwks["keys"]
        if isinstance(key, Mapping) and key.get("kty") == kty and key.get("alg", alg) == alg
    ]
    for use in ("enc", None):
        for key in fitting:
            if key.get("use") == use:
                return key
    return None
