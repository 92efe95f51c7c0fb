"""The pure decision core: an identity and a service's policy in, a Decision out. No Flask, no SQL."""

from broker.decide.decision import (
    Admitted,
    Decision,
    MandateKind,
    ServicePolicy,
    decide,
    needs_local_mandates,
    needs_sponsor_register,
)
from broker.decide.establishment import (
    Establishment,
    EstablishmentChoice,
    EstablishmentPolicy,
    EstablishmentSource,
    RegisteredEstablishment,
    RegisterLookup,
    Settled,
    check_restriction,
    no_establishment,
    picked,
    settle,
)
from broker.decide.mandates import Applied, LocalMandate, LocalMandatePolicy, check_local_mandates
from broker.decide.refusal import RefusalReason, Refused
from broker.decide.sponsor import SponsorCategory, SponsorRegistration, check_sponsor, register_day

__all__ = [
    "Admitted",
    "Applied",
    "Decision",
    "Establishment",
    "EstablishmentChoice",
    "EstablishmentPolicy",
    "EstablishmentSource",
    "LocalMandate",
    "LocalMandatePolicy",
    "MandateKind",
    "RefusalReason",
    "Refused",
    "RegisterLookup",
    "RegisteredEstablishment",
    "ServicePolicy",
    "Settled",
    "SponsorCategory",
    "SponsorRegistration",
    "check_local_mandates",
    "check_restriction",
    "check_sponsor",
    "decide",
    "needs_local_mandates",
    "needs_sponsor_register",
    "no_establishment",
    "picked",
    "register_day",
    "settle",
]
