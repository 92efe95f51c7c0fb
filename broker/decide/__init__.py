"""The pure decision core: an identity and a service's policy in, a Decision out. No Flask, no SQL."""

from broker.decide.decision import (
    Admitted,
    Decision,
    Establishment,
    EstablishmentSource,
    MandateKind,
    RefusalReason,
    Refused,
    ServicePolicy,
    decide,
)

__all__ = [
    "Admitted",
    "Decision",
    "Establishment",
    "EstablishmentSource",
    "MandateKind",
    "RefusalReason",
    "Refused",
    "ServicePolicy",
    "decide",
]
