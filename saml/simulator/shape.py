"""How the simulator shapes an answer beyond what the tester picks: encryption, signing, lifetime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from saml.simulator.encryption import Recipient


@dataclass(frozen=True)
class Shape:
    """`encrypt_ids` False sends the plain attributes some HMs use instead of EncryptedIDs.

    `sign_response` None signs the Response for HTTP-POST and leaves it unsigned inside a (signed)
    ArtifactResponse, as HMs do. `other_recipients` receive every encrypted value beside the SP.
    """

    encrypt_ids: bool = True
    encrypt_assertion: bool = False
    sign_response: bool | None = None
    other_recipients: tuple[Recipient, ...] = ()
    lifetime: timedelta = timedelta(minutes=5)


DEFAULT_SHAPE = Shape()
