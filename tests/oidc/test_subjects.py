"""The pairwise subject: keyed on the client, the legal subject and the acting person together."""

from __future__ import annotations

import dataclasses

from broker.decide import Admitted, MandateKind
from broker.oidc.claims import pairwise_subject
from saml.identifiers import IdentifierType
from saml.identity import Identifier
from tests.decide.test_decision import IDENTITY

SALT = b"s" * 32


def subject(client_id: str = "ind-portal", **changes: object) -> str:
    identity = dataclasses.replace(IDENTITY, **changes)
    return pairwise_subject(Admitted(identity, MandateKind.OWN_COMPANY, None), client_id, SALT)


def test_the_same_person_for_the_same_company_keeps_one_subject() -> None:
    assert subject() == subject()


def test_the_same_pseudonym_acting_for_two_companies_is_two_subjects() -> None:
    # An HM may send one pseudonym for a person whatever the company (DOMAIN: key on the pair).
    other = Identifier(IdentifierType.KVK, "33334444")
    assert subject() != subject(legal_subject=other)


def test_a_kvk_number_and_an_rsin_with_the_same_digits_are_two_subjects() -> None:
    rsin = Identifier(IdentifierType.RSIN, IDENTITY.legal_subject.value)
    assert subject() != subject(legal_subject=rsin)


def test_another_person_or_another_portal_is_another_subject() -> None:
    assert subject() != subject(acting_subject="another-pseudonym")
    assert subject() != subject("olo-post")
