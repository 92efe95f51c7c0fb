"""The broker's side of a sign-in at the HM: start it, and finish it at the ACS.

Holds what a sign-in needs from start-up (the HM, how to resolve artifacts, the clock) and
joins the pure `saml` package to the stored requests in `broker.models`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from broker import logs, metrics, models
from broker.hms import Hms
from config import Binding, Registry, SamlSettings, Service
from saml import relay_state
from saml.artifact import Transport, parse_artifact, resolve
from saml.authn_request import OutgoingRequest, outgoing_request
from saml.errors import Reason, SamlError, StatusError
from saml.hm_metadata import IdentityProvider
from saml.loa import LevelOfAssurance
from saml.response import Expected, ValidatedResponse, decode_post_response, validate_response
from saml.xml import new_id

Clock = Callable[[], datetime]
log = logging.getLogger("broker.upstream")


# Refusals that are the HM's genuine, final word on a request (a status, or a signed assertion
# that does not qualify): the request is used up and the client hears why.
FINAL_REASONS = frozenset(
    {
        Reason.LOA_TOO_LOW,
        Reason.LOA_UNKNOWN,
        Reason.SERVICE_MISMATCH,
        Reason.AUTHN_NOT_FRESH,
        # Read from an assertion whose signature, issuer, subject and conditions all held: what it
        # says (or lacks) is the HM's word, and it will not say otherwise for this request.
        Reason.SERVICE_MISSING,
        Reason.ATTRIBUTE_INVALID,
        Reason.LEGAL_SUBJECT_MISSING,
        Reason.ACTING_SUBJECT_MISSING,
    }
)


@dataclass(frozen=True)
class Answer:
    """A validated answer to one of our requests."""

    purpose: str
    request_id: str
    service: Service
    validated: ValidatedResponse
    # The entityID of the HM that gave it.
    hm: str


@dataclass(frozen=True)
class Refusal:
    """The HM's final answer to one of our requests was no (cancelled, too low a level, ...)."""

    purpose: str
    request_id: str
    error: SamlError
    hm: str


@dataclass(frozen=True)
class Upstream:
    # Our SP and the HM as at start-up; a sign-in asks `saml` and `identity_provider` for those of its moment.
    settings: SamlSettings
    idp: IdentityProvider
    transport: Transport
    clock: Clock
    secret: bytes
    # The current services: a sign-in finishes with its service as the registry declares it now.
    registry: Callable[[], Registry]
    new_id: Callable[[], str] = new_id
    # Our keys of a moment (a key rollover: `broker.keys`); None: `settings`, fixed.
    keys: Callable[[datetime], SamlSettings] | None = None
    # The HMs, their metadata in use (refreshed: `broker.hm_metadata`) and the choice between them
    # (`broker.hms`), and each one's transport (its TLS CA); None: `idp` and `transport`, fixed.
    hms: Hms | None = None
    transports: Mapping[str, Transport] | None = None

    @classmethod
    def create(
        cls,
        settings: SamlSettings,
        idp: IdentityProvider,
        transport: Transport,
        clock: Clock,
        secret_key: str,
        registry: Callable[[], Registry],
        keys: Callable[[datetime], SamlSettings] | None = None,
        hms: Hms | None = None,
        transports: Mapping[str, Transport] | None = None,
    ) -> Upstream:
        # The RelayState MAC key is derived, so it never equals the session-signing key.
        secret = hashlib.sha256(b"eh-broker relay-state\0" + secret_key.encode("utf-8")).digest()
        return cls(
            settings, idp, transport, clock, secret, registry, keys=keys, hms=hms, transports=transports
        )

    def saml(self, now: datetime) -> SamlSettings:
        """Our SP at `now`: the key that signs, the next one published, those that decrypt."""
        return self.settings if self.keys is None else self.keys(now)

    def identity_provider(self, service: Service, now: datetime) -> tuple[str | None, IdentityProvider]:
        """The HM a new sign-in for `service` goes to at `now` (its name; None: the fixed `idp`);
        MetadataExpired when the metadata in use of every one of its HMs is past its validUntil."""
        return (None, self.idp) if self.hms is None else self.hms.choose(service, now)

    def sent_to(self, name: str | None, now: datetime) -> tuple[str | None, IdentityProvider]:
        """The HM a sign-in was sent to: its answer is taken from that HM only."""
        return (None, self.idp) if self.hms is None else self.hms.idp(name, now)

    def start(self, service: Service, purpose: str) -> OutgoingRequest:
        """Store a new request for `service` and build the AuthnRequest that carries it; the answer
        must reach the service's level (the catalogue fixes it: the request asks nothing else).

        The caller commits, together with whatever the request belongs to.
        """
        now = self.clock()
        # First: a sign-in that cannot trust the HM's metadata stores nothing.
        settings, (hm, idp) = self.saml(now), self.identity_provider(service, now)
        level = LevelOfAssurance(service.minimum_loa)
        reference = relay_state.new_reference()
        request_id = self.new_id()
        logs.sign_in(request_id)
        if hm is not None:
            log.info(
                "sign-in sent to hm=%s service=%s",
                hm,
                service.slug,
                extra={"hm": hm, "service": service.slug},
            )
        models.add_request(
            models.OpenRequest(request_id, purpose, service.slug, level.value, now, hm),
            reference,
            settings.request_lifetime,
        )
        sealed = relay_state.seal(reference, self.secret)
        return outgoing_request(settings, idp, service, sealed, now, request_id)

    def finish(self, values: Mapping[str, str]) -> Answer | Refusal:
        """Validate what arrived at the ACS (`SAMLart` or `SAMLResponse`, and `RelayState`).

        The request is marked answered in the session; the caller commits, with what the answer
        produces. Raises SamlError for a message that cannot be trusted or placed; the request then
        stays open for its genuine answer.
        """
        self._check_binding(values)
        now = self.clock()
        reference = relay_state.unseal(values.get("RelayState"), self.secret)
        pending = models.pending_request(reference, now)
        request_id, purpose = pending.id, pending.purpose
        logs.sign_in(request_id)
        settings, (hm, idp) = self.saml(now), self.sent_to(pending.hm, now)
        service = self.registry().service(pending.service_slug)
        if service is None:
            raise SamlError(Reason.REQUEST_UNKNOWN, "the request's service is no longer configured")
        expected = Expected(request_id, service, LevelOfAssurance(pending.minimum_level), pending.sent_at)
        try:
            validated = validate_response(
                self._response(values, settings, hm, idp, now), settings, idp, expected, now
            )
        except SamlError as error:
            if not isinstance(error, StatusError) and error.reason not in FINAL_REASONS:
                raise
            # The HM has given its one answer to this request: it cannot be answered again.
            models.consume(request_id, now, None, None, None)
            return Refusal(purpose, request_id, error, idp.entity_id)
        models.consume(request_id, now, idp.entity_id, validated.assertion_id, validated.remember_until)
        return Answer(purpose, request_id, service, validated, idp.entity_id)

    def _check_binding(self, values: Mapping[str, str]) -> None:
        """Only the binding our AuthnRequests name (ProtocolBinding) may answer them. Under
        HTTP-Artifact, what eHerkenning requires, the broker then parses no SAML message that a
        browser carried: every answer comes from the HM itself, over mutual TLS."""
        if values.get("SAMLart"):
            arrived = Binding.ARTIFACT
        elif values.get("SAMLResponse"):
            arrived = Binding.POST
        else:
            return  # nothing arrived: `_response` says so
        if arrived is not self.settings.response_binding:
            raise SamlError(
                Reason.BINDING_NOT_REQUESTED,
                f"an answer over {arrived.name}; our requests ask for {self.settings.response_binding.name}",
            )

    def _response(
        self,
        values: Mapping[str, str],
        settings: SamlSettings,
        hm: str | None,
        idp: IdentityProvider,
        now: datetime,
    ) -> etree._Element:
        if values.get("SAMLart"):
            artifact = parse_artifact(values.get("SAMLart"))
            transport = self.transport if hm is None or self.transports is None else self.transports[hm]
            try:
                with metrics.artifact_resolution():
                    response = resolve(artifact, settings, idp, transport, now, self.new_id())
            except SamlError as error:
                if (
                    hm is not None
                    and self.hms is not None
                    and error.reason is Reason.ARTIFACT_RESOLUTION_FAILED
                ):
                    self.hms.resolution_failed(hm, now)
                raise
            if hm is not None and self.hms is not None:
                self.hms.resolved(hm)
            return response
        if values.get("SAMLResponse"):
            return decode_post_response(values.get("SAMLResponse"), self.settings.max_message_bytes)
        raise SamlError(Reason.MESSAGE_MISSING, "neither SAMLart nor SAMLResponse")
