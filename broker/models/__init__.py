"""Database tables for the flow state every worker must share, and the small stores over them.

Nothing of a sign-in in progress lives in process memory or a client-side cookie: any worker
can finish a sign-in another worker started.
"""

from broker.models.oidc import (
    AuthorizationCode,
    IssuedToken,
    PendingAuthorization,
    UsedClientAssertion,
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
)

__all__ = [
    "AuthorizationCode",
    "IssuedToken",
    "OpenRequest",
    "PendingAuthorization",
    "SamlRequest",
    "SeenAssertion",
    "SimulatorArtifact",
    "UsedClientAssertion",
    "add_request",
    "consume",
    "pending_request",
    "purge_expired",
]
