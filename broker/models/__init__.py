"""Database tables for the flow state every worker must share, and the small stores over them.

Nothing of a sign-in in progress lives in process memory or a client-side cookie: any worker
can finish a sign-in another worker started.
"""

from broker.models.audit import AuditChain, AuditRecord
from broker.models.establishment import (
    PendingChoice,
    WaitingChoice,
    add_choice,
    find_choice,
    offer,
    take_choice,
)
from broker.models.kvk import KvkAnswer, cached_kvk_answer, remember_kvk_answer
from broker.models.oidc import (
    AuthorizationCode,
    IssuedToken,
    PendingAuthorization,
    UsedClientAssertion,
    add_authorization,
    add_code,
    add_token,
    claim_code,
    code_was_used,
    find_token,
    nonce_used,
    revoke_tokens_of,
    take_authorization,
)
from broker.models.purge import purge_expired
from broker.models.saml import (
    OpenRequest,
    SamlRequest,
    SeenAssertion,
    SimulatorArtifact,
    add_request,
    consume,
    pending_request,
    put_artifact,
    take_artifact,
)
from broker.models.sponsors import (
    Listed,
    Origin,
    RecognisedSponsor,
    Replaced,
    Sponsor,
    add_sponsor,
    registrations,
    remove_sponsor,
    replace_category,
    sponsors,
)

__all__ = [
    "AuditChain",
    "AuditRecord",
    "AuthorizationCode",
    "IssuedToken",
    "KvkAnswer",
    "Listed",
    "OpenRequest",
    "Origin",
    "PendingAuthorization",
    "PendingChoice",
    "RecognisedSponsor",
    "Replaced",
    "SamlRequest",
    "SeenAssertion",
    "SimulatorArtifact",
    "Sponsor",
    "UsedClientAssertion",
    "WaitingChoice",
    "add_authorization",
    "add_choice",
    "add_code",
    "add_request",
    "add_sponsor",
    "add_token",
    "cached_kvk_answer",
    "claim_code",
    "code_was_used",
    "consume",
    "find_choice",
    "find_token",
    "nonce_used",
    "offer",
    "pending_request",
    "purge_expired",
    "put_artifact",
    "registrations",
    "remember_kvk_answer",
    "remove_sponsor",
    "replace_category",
    "revoke_tokens_of",
    "sponsors",
    "take_artifact",
    "take_authorization",
    "take_choice",
]
