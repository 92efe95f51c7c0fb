"""A whole rollover of our SAML key pair and token signing keys, driven by the clock, with a sign-in
through the simulator at every point: before the next keys are published, while they are published
but not in use, just after they took over (an HM still encrypting to the old certificate too), and
after the old keys were retired. None fails; ID tokens signed before the switch verify against the
JWKS until they expire.

The keys live in a key store (BROKER_KEYS_DIR) and change through `flask keys` while the app runs.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from lxml import etree
from prometheus_client import REGISTRY

from broker.runtime import runtime
from broker.web import simulator as simulator_views
from config.key_schedule import KeyKind
from config.key_store import read_store
from saml import signature
from saml.errors import SamlError
from saml.keys import key_name
from saml.metadata import ROLLOVER_NS
from saml.simulator import ServiceProvider
from saml.xml import NS, format_instant, parse
from tests.conftest import MovableClock, migrated_app
from tests.oidc.portal import Portal, redirect_parameters
from tests.web.browser import forms

KINDS = ("saml", "oidc-rs256", "oidc-es256")
# An ID token's lifetime, and the leeway a retired token key stays in the JWKS beyond it.
TOKEN_LIFETIME, LEEWAY = timedelta(minutes=5), timedelta(minutes=5)


@dataclass(frozen=True)
class SignedIn:
    request_signer: bytes  # the certificate our AuthnRequest's signature verifies with
    id_token: str
    kid: str


@pytest.fixture(autouse=True)
def _clock_back(clock: MovableClock) -> Iterator[None]:
    """The clock back to now afterwards: an app the session makes next starts from the present."""
    yield
    clock.moment = datetime.now(UTC)


def stored_app(tmp_path: Path, clock: MovableClock) -> Flask:
    """The tests' broker with its development keys copied into a key store, and running on it."""
    instance, store = tmp_path / "instance", tmp_path / "keys"
    copied = migrated_app(instance, clock).test_cli_runner().invoke(args=["keys", "init", str(store)])
    assert copied.exit_code == 0, copied.output
    return migrated_app(instance, clock, BROKER_KEYS_DIR=str(store))


def keys(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["keys", *args])
    assert result.exit_code == 0, result.output
    return result.output


def certificate(app: Flask, activated: bool) -> bytes:
    """The certificate of the store's SAML key in use from the start, or of the one that activates."""
    with app.app_context():
        folder = runtime().settings.keys.folder
    stored = read_store(folder, timedelta(0), timedelta(0))
    (key,) = [k for k in stored.of(KeyKind.SAML) if (k.activates_at is not None) == activated]
    return key.cert_pem


def sign_in(client: FlaskClient, certificates: tuple[bytes, ...], alg: str = "RS256") -> SignedIn:
    """A whole sign-in for the IND portal; which of `certificates` signed our request, and the ID token."""
    portal = (
        Portal(client, "ind-portal") if alg == "RS256" else Portal(client, "olo-post", "client_secret_post")
    )
    hand_off = portal.authorize()
    signer = request_signer(hand_off, certificates)
    answer = portal.back_at_broker(portal.at_hm(hand_off, binding="artifact"))
    code = redirect_parameters(answer)["code"]
    tokens = portal.token(code).get_json()
    id_token = tokens["id_token"]
    return SignedIn(signer, id_token, jwt.decode(id_token, jwks(client)).header["kid"])


def request_signer(hand_off, certificates: tuple[bytes, ...]) -> bytes:
    (form,) = forms(hand_off)
    request = parse(base64.b64decode(form.fields["SAMLRequest"]))
    signature.register_ids(request)
    for cert in certificates:
        try:
            signature.verify(request, [cert])
        except SamlError:
            continue
        return cert
    raise AssertionError("our AuthnRequest verifies with none of the certificates")


def not_after(cert_pem: bytes) -> str:
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc.isoformat()


def jwks(client: FlaskClient) -> KeySet:
    return KeySet.import_key_set(client.get("/oidc/jwks").get_json())


def kids(client: FlaskClient) -> set[str]:
    return {key["kid"] for key in client.get("/oidc/jwks").get_json()["keys"]}


def still_verifies(client: FlaskClient, id_token: str, now: datetime) -> bool:
    """Whether a relying party fetching the JWKS at `now` accepts the token: its signature and its exp."""
    try:
        claims = jwt.decode(id_token, jwks(client)).claims
    except (BadSignatureError, ValueError):
        return False
    return claims["exp"] > now.timestamp()


def published(client: FlaskClient) -> tuple[list[str], list[tuple[str, str]]]:
    """Our metadata's certificates (by KeyName, signing one first) and the announced next keys."""
    root = etree.fromstring(client.get("/saml/metadata").get_data())
    names = root.xpath("md:SPSSODescriptor/md:KeyDescriptor/ds:KeyInfo/ds:KeyName/text()", namespaces=NS)
    announced = [
        (element.get("KeyName"), element.get("activates"))
        for element in root.iter(f"{{{ROLLOVER_NS}}}NextKey")
    ]
    return names, announced


def hm_with_old_metadata(app: Flask, loaded_at: datetime) -> Callable[[datetime], ServiceProvider]:
    """The simulator as an HM that loaded our metadata at `loaded_at` and has not moved since: it
    verifies our messages with the certificates of then, and encrypts to the one that signed then
    (an HM that heeds the announced activation moves to the next one by itself)."""

    def view(now: datetime) -> ServiceProvider:
        state = runtime()
        return ServiceProvider.from_settings(
            state.upstream.saml(loaded_at), state.registry().services, loaded_at
        )

    return view


def test_a_whole_rollover_signs_in_at_every_point(
    tmp_path: Path, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = stored_app(tmp_path, clock)
    client = app.test_client()
    old_cert = certificate(app, activated=False)
    activation = (clock() + timedelta(weeks=6)).replace(microsecond=0)

    # Before anything is published: the keys of today.
    before = sign_in(client, (old_cert,))
    assert before.request_signer == old_cert
    old_kids = kids(client)
    assert published(client) == ([key_name(old_cert)], [])

    # The next keys, of all three kinds, published six weeks ahead.
    for kind in KINDS:
        keys(app, "generate", "--kind", kind, "--activates", activation.isoformat())
    new_cert = certificate(app, activated=True)
    both = (old_cert, new_cert)
    plan = keys(app, "plan")
    assert (
        f"{(activation - timedelta(weeks=4)).strftime('%Y-%m-%dT%H:%MZ')}: by then, send the HM our metadata"
        in plan
    )

    # Published, not active: the old keys sign, the new ones are out there.
    clock.advance(timedelta(days=1))
    assert published(client) == (
        [key_name(old_cert), key_name(new_cert)],
        [(key_name(new_cert), format_instant(activation))],
    )
    assert len(kids(client)) == 4 and old_kids < kids(client)
    waiting = sign_in(client, both)
    assert waiting.request_signer == old_cert and waiting.kid in old_kids
    assert sign_in(client, both, alg="ES256").kid in old_kids

    # A minute before the switch: a token signed by the old key.
    clock.moment = activation - timedelta(minutes=1)
    last_old = sign_in(client, both)
    assert last_old.kid in old_kids

    # Just activated: the new keys sign; the token of a minute ago still verifies.
    clock.moment = activation + timedelta(seconds=30)
    switched = sign_in(client, both)
    assert switched.request_signer == new_cert and switched.kid not in old_kids
    assert sign_in(client, both, alg="ES256").kid not in old_kids
    assert still_verifies(client, last_old.id_token, clock())
    assert published(client) == ([key_name(new_cert)], [])
    keys_check = client.get("/readyz").get_json()["checks"]["keys"]
    assert keys_check["saml_not_after"] == not_after(new_cert) and "saml_next_not_after" not in keys_check
    gauge = REGISTRY.get_sample_value(
        "broker_certificate_not_after_timestamp_seconds", {"certificate": "saml"}
    )
    assert gauge == datetime.fromisoformat(not_after(new_cert)).timestamp()

    # An HM that still has the metadata of the day before encrypts to the old certificate: it opens.
    monkeypatch.setattr(simulator_views, "_sp", hm_with_old_metadata(app, activation - timedelta(days=1)))
    assert sign_in(client, both).request_signer == new_cert

    # The old token key stays in the JWKS until its last token expired, then leaves.
    clock.moment = activation - timedelta(minutes=1) + TOKEN_LIFETIME - timedelta(seconds=1)
    assert still_verifies(client, last_old.id_token, clock())
    assert last_old.kid in kids(client)
    clock.moment = activation + TOKEN_LIFETIME + LEEWAY - timedelta(seconds=1)
    assert last_old.kid in kids(client)
    clock.moment = activation + TOKEN_LIFETIME + LEEWAY
    assert last_old.kid not in kids(client)
    assert sign_in(client, both).request_signer == new_cert

    # Two weeks on the HM confirms it moved to the new certificate; a sign-in it answered with the
    # old one just before is finished after the old key is retired.
    clock.moment = activation + timedelta(weeks=2)
    portal = Portal(client, "ind-portal")
    at_hm = portal.at_hm(portal.authorize(), binding="artifact")
    old_saml = [
        line.split("\t")[0] for line in keys(app, "list").splitlines() if "\tsaml\tsuperseded" in line
    ]
    assert len(old_saml) == 1
    keys(app, "retire", old_saml[0])
    clock.advance(timedelta(minutes=1))
    assert "code" in redirect_parameters(portal.back_at_broker(at_hm))

    # After the retirement: the HM on the new certificate, signing in as ever.
    monkeypatch.undo()
    clock.advance(timedelta(hours=1))
    after = sign_in(client, both)
    assert after.request_signer == new_cert and after.kid == switched.kid
    assert published(client) == ([key_name(new_cert)], [])
    assert kids(client).isdisjoint(old_kids)


def test_an_hm_on_a_retired_certificate_is_refused_once_the_grace_has_passed(
    tmp_path: Path, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = stored_app(tmp_path, clock)
    client = app.test_client()
    activation = (clock() + timedelta(weeks=5)).replace(microsecond=0)
    keys(app, "generate", "--kind", "saml", "--activates", activation.isoformat())
    clock.moment = activation + timedelta(weeks=4)
    old_saml = [
        line.split("\t")[0] for line in keys(app, "list").splitlines() if "\tsaml\tsuperseded" in line
    ]
    keys(app, "retire", old_saml[0])
    monkeypatch.setattr(simulator_views, "_sp", hm_with_old_metadata(app, activation - timedelta(days=1)))
    clock.advance(timedelta(minutes=18))  # a request's 15 minutes and the clock skew's 2: past
    portal = Portal(client, "ind-portal")
    answer = portal.back_at_broker(portal.at_hm(portal.authorize(), binding="artifact"))
    assert answer.status_code == 400
    assert "decryption_failed" in answer.get_data(as_text=True)
