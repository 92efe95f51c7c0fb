"""Answering the portal at the end of a sign-in: a code, or an OAuth error to its redirect URI.

Shared by the return from the HM and the establishment picker, which both finish a sign-in from
the authorization request's stored parameters.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError
from flask import g
from werkzeug.wrappers import Response as BaseResponse

from broker import audit, metrics
from broker.decide import EstablishmentSource, MandateKind
from broker.oidc.authorization import StoredAuthorizationRequest
from broker.oidc.clients import OidcClient
from broker.oidc.grants import CodeGrant
from broker.oidc.user import SignedIn
from broker.runtime import runtime
from broker.web import refusal
from broker.web.errors import oauth_error_page
from config.settings import Service
from saml.identifiers import IdentifierType
from saml.identity import EherkenningIdentity, Identifier
from saml.loa import LevelOfAssurance

log = logging.getLogger("broker.oidc")

CANCELLED = "cancelled"
# What the audit trail keeps of who signed in: DecisionRecord's subject fields.
Subject = dict[str, Any]


@dataclass(frozen=True)
class Authorization:
    """A stored authorization request, validated again: its client and trusted redirect URI."""

    request: StoredAuthorizationRequest
    grant: CodeGrant
    redirect_uri: str

    @property
    def client(self) -> OidcClient:
        return self.request.client

    @property
    def service(self) -> Service:
        """The one of the client's services the sign-in is for."""
        return self.grant.service


def authorization(parameters: dict[str, str]) -> Authorization:
    """The authorization request `parameters` describe, validated as at /oidc/authorize.

    Raises OAuth2Error (the client or its redirect URI may have gone from the configuration).
    """
    state = runtime()
    request = StoredAuthorizationRequest(state.provider.endpoint("/oidc/authorize"), parameters)
    grant = state.authorization.get_authorization_grant(request)
    return Authorization(request, grant, grant.validate_authorization_request())


def issue_code(authorized: Authorization, claims: dict[str, Any]) -> BaseResponse | tuple[str, int]:
    """Redirect to the portal with a code carrying `claims`, the admission in the audit trail; the
    caller commits."""
    # Validated already: issue the code without authlib validating the request a second time.
    try:
        response = runtime().authorization.handle_response(
            *authorized.grant.create_authorization_response(authorized.redirect_uri, SignedIn(claims))
        )
    except OAuth2Error as error:
        error.state = authorized.request.payload.state
        return refuse(error)
    _record(authorized, audit.Outcome.ADMITTED, None, subject_of_claims(claims))
    return response


def deny(
    authorized: Authorization, reason: str, why: str, subject: Subject | None = None
) -> BaseResponse | tuple[str, int]:
    """The refusal `reason` (a stable code) in the audit trail, with what is known of who was
    refused (`subject`); then `access_denied` to the portal, its description the code and `why`.

    The person first sees the refusal page, whose button delivers that answer, unless they
    cancelled themselves or the client shows refusals on its own page. The caller commits.
    """
    error = AccessDeniedError(description=f"{reason}: {why}", redirect_uri=authorized.redirect_uri)
    error.state = authorized.request.payload.state
    redirect = runtime().authorization.handle_error_response(authorized.request, error)
    reference = _record(authorized, audit.Outcome.REFUSED, reason, subject or {})
    if reason == CANCELLED or not authorized.client.config.refusal_page:
        return redirect
    return refusal.page(authorized, reason, reference, redirect.headers["Location"])


def refuse(error: OAuth2Error) -> BaseResponse | tuple[str, int]:
    """An OAuth error: back to the client once its redirect URI is trusted, else a page."""
    if error.redirect_uri:
        log.info("authorize refused error=%s redirected", error.error)
        return runtime().authorization.handle_error_response(None, error)
    reference = secrets.token_hex(6)
    log.info("authorize refused error=%s ref=%s description=%s", error.error, reference, error.description)
    return oauth_error_page(error.error, reference)


def answered_by(hm_entity_id: str) -> None:
    """The HM whose answer this request finishes a sign-in with, for the audit trail."""
    g.hm_entity_id = hm_entity_id


def answering_hm() -> str | None:
    """The HM `answered_by` named in this request, if any."""
    return g.get("hm_entity_id")


def _record(authorized: Authorization, outcome: audit.Outcome, reason: str | None, subject: Subject) -> str:
    """The end of a sign-in in the audit trail: the last statement before the caller commits."""
    state = runtime()
    client = authorized.client
    metrics.ended(client.get_client_id(), reason)
    return audit.record_decision(
        audit.DecisionRecord(
            at=state.upstream.clock(),
            client_id=client.get_client_id(),
            service=authorized.service.slug,
            hm=answering_hm() or state.upstream.idp.entity_id,
            outcome=outcome,
            reason=reason,
            **subject,
        )
    )


def subject_of_identity(identity: EherkenningIdentity) -> Subject:
    """Who signed in, as the HM's assertion says, for a sign-in refused before it had claims."""
    return {
        "level": identity.level,
        "acting_subject": identity.acting_subject,
        "legal_subject": identity.legal_subject,
        "intermediary": identity.intermediary,
    }


def subject_of_claims(claims: dict[str, Any]) -> Subject:
    """Who signed in, under which mandate and for which establishment, as a sign-in's claims say
    (the establishment step keeps the claims, not the assertion)."""
    mandate = claims.get("mandate", {})
    intermediary = None
    if "intermediary_kvk_number" in mandate:
        intermediary = Identifier(IdentifierType.KVK, mandate["intermediary_kvk_number"])
    elif "intermediary_rsin" in mandate:
        intermediary = Identifier(IdentifierType.RSIN, mandate["intermediary_rsin"])
    legal_subject = None
    if "kvk_number" in claims:
        legal_subject = Identifier(IdentifierType.KVK, claims["kvk_number"])
    elif "rsin" in claims:
        legal_subject = Identifier(IdentifierType.RSIN, claims["rsin"])
    source = claims.get("establishment_source")
    return {
        "level": LevelOfAssurance.from_uri(claims["acr"]),
        "acting_subject": claims.get("acting_subject"),
        "legal_subject": legal_subject,
        "intermediary": intermediary,
        "mandate": MandateKind(mandate["kind"]) if "kind" in mandate else None,
        "establishment": claims.get("establishment_number"),
        "establishment_source": None if source is None else EstablishmentSource(source),
    }
