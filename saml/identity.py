"""The protocol-neutral result of a sign-in: who acts, for whom, at which level."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from saml.identifiers import IdentifierType
from saml.loa import LevelOfAssurance
from saml.person import Person


@dataclass(frozen=True)
class Identifier:
    """A typed identifier: a KvK number, an RSIN or a BSN."""

    type: IdentifierType
    value: str


@dataclass(frozen=True)
class EherkenningIdentity:
    """What a validated eHerkenning assertion establishes; nothing here is XML.

    A person is keyed on (legal_subject, acting_subject): the same person acting for two
    companies is two subjects.
    """

    legal_subject: Identifier
    acting_subject: str
    level: LevelOfAssurance
    authn_instant: datetime
    hm_entity_id: str
    service_id: str | None = None
    service_uuid: str | None = None
    intermediary: Identifier | None = None
    establishment_restriction: str | None = None
    rsin: str | None = None
    company_name: str | None = None
    # The acting person's name and date of birth, as far as the HM sent them.
    person: Person = field(default_factory=Person)

    @property
    def kvk_number(self) -> str | None:
        """The legal subject's KvK number, when it was identified by one."""
        return self.legal_subject.value if self.legal_subject.type is IdentifierType.KVK else None
