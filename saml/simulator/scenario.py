"""What the tester picks at the simulator: whose sign-in, under which mandate, with which outcome."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from config import Binding
from saml.identifiers import digits_problem
from saml.loa import LevelOfAssurance
from saml.problem import N_, Problem


class Mandate(enum.Enum):
    """How the acting person may act for the company."""

    OWN = "own"
    REPRESENTATIVE = "representative"
    NONE = "none"


class MandateScope(enum.Enum):
    """Which services the mandate covers. An HM names the service used in the assertion under a
    mandate for all services as under one for this service; under a mandate for another service
    it names that one (which the broker must refuse)."""

    SERVICE = "service"
    ALL = "all"
    OTHER = "other"


class PersonRelease(enum.Enum):
    """Which of the acting person's attributes (name, date of birth) the HM sends: those the
    service's catalogue entry requests, as an HM does; all four whether requested or not (to see
    the broker keep back what a service did not request); or none."""

    REQUESTED = "requested"
    ALL = "all"
    NONE = "none"


class Action(enum.Enum):
    """What the user does at the HM."""

    LOGIN = "login"
    CANCEL = "cancel"


class ObsoleteLevel(enum.Enum):
    """Levels eHerkenning no longer accepts: the simulator sends them to test refusal."""

    LOA1 = "loa1"

    @property
    def uri(self) -> str:
        """The AuthnContextClassRef for this level."""
        return f"urn:etoegang:core:assurance-class:{self.value}"


Level = LevelOfAssurance | ObsoleteLevel
_E = TypeVar("_E", Mandate, MandateScope, PersonRelease, Action)

_BINDINGS = {"post": Binding.POST, "artifact": Binding.ARTIFACT}
_TRUE, _FALSE = frozenset({"1", "true", "on", "yes"}), frozenset({"0", "false", "off", "no", ""})
_MAX_USER = 64
_POST_OR_ARTIFACT = Problem(N_("must be post or artifact"))
_SAME_COMPANY = Problem(N_("must differ from the represented company's KvK number"))
_USER_NAME = Problem(N_("must be 1 to %(most)s printable characters"), {"most": _MAX_USER})
_MAX_PERSON = 64
_PERSON_TEXT = Problem(N_("must be at most %(most)s printable characters"), {"most": _MAX_PERSON})
# The scenario's fields for the person's attributes, by the parameter that sets each.
PERSON_FIELDS = {
    "first_name": "first_name",
    "family_name": "family_name",
    "initials": "initials",
    "birthdate": "date_of_birth",
}


class ScenarioError(ValueError):
    """A scenario parameter is wrong; `field` is the parameter's name, `problem` says what is wrong."""

    def __init__(self, field: str, problem: Problem) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Scenario:
    """One simulated sign-in. `binding` None answers with the binding the AuthnRequest asks for.

    The acting person's pseudonym is derived from `user`, the company and the SP, so the same
    user signing in again for the same company gets the same pseudonym.
    """

    kvk_number: str = "12345678"
    establishment: str | None = None
    mandate: Mandate = Mandate.OWN
    mandate_for: MandateScope = MandateScope.SERVICE
    intermediary_kvk: str = "87654321"
    # An intermediary identified by RSIN instead (IntermediateEntityID:RSIN); None: by KvK number.
    intermediary_rsin: str | None = None
    level: Level = LevelOfAssurance.LOA3
    advice: bool = False
    # The HM answers with a sign-in it kept from before (its own single sign-on), ignoring ForceAuthn.
    earlier_sign_in: bool = False
    action: Action = Action.LOGIN
    binding: Binding | None = None
    user: str = "tester"
    person: PersonRelease = PersonRelease.REQUESTED
    # Sent as typed (an empty one not at all): a date of birth the broker cannot read shows it left out.
    first_name: str = "Jan"
    family_name: str = "Jansen"
    initials: str = "J."
    date_of_birth: str = "1980-01-31"

    def __post_init__(self) -> None:
        _check_digits("kvk", self.kvk_number, 8)
        if self.establishment is not None:
            _check_digits("establishment", self.establishment, 12)
        _check_digits("intermediary", self.intermediary_kvk, 8)
        if self.intermediary_rsin is not None:
            # Digits only: an RSIN failing the eleven-test goes out, to see the broker refuse it.
            _check_digits("intermediary_rsin", self.intermediary_rsin, 9)
        if self.mandate is Mandate.REPRESENTATIVE and self.intermediary_kvk == self.kvk_number:
            raise ScenarioError("intermediary", _SAME_COMPANY)
        if self.binding is not None and self.binding not in _BINDINGS.values():
            raise ScenarioError("binding", _POST_OR_ARTIFACT)
        if not self.user or len(self.user) > _MAX_USER or not self.user.isprintable():
            raise ScenarioError("user", _USER_NAME)
        for param, field in PERSON_FIELDS.items():
            value = getattr(self, field)
            if len(value) > _MAX_PERSON or not value.isprintable():
                raise ScenarioError(param, _PERSON_TEXT)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Scenario:
        """The scenario query or form parameters describe; absent parameters take the defaults.

        Raises ScenarioError naming the parameter, and for identifiers the wrong character.
        """
        defaults = cls()
        establishment = _text(params, "establishment", "")
        intermediary_rsin = _text(params, "intermediary_rsin", "")
        return cls(
            kvk_number=_text(params, "kvk", defaults.kvk_number),
            establishment=establishment or None,
            mandate=_choice(params, "mandate", Mandate, defaults.mandate),
            mandate_for=_choice(params, "mandate_for", MandateScope, defaults.mandate_for),
            intermediary_kvk=_text(params, "intermediary", defaults.intermediary_kvk),
            intermediary_rsin=intermediary_rsin or None,
            level=_level(params, defaults.level),
            advice=_flag(params, "advice"),
            earlier_sign_in=_flag(params, "earlier"),
            action=_choice(params, "action", Action, defaults.action),
            binding=_binding(params),
            user=_text(params, "user", defaults.user),
            person=_choice(params, "person", PersonRelease, defaults.person),
            **{
                field: _text(params, param, getattr(defaults, field))
                for param, field in PERSON_FIELDS.items()
            },
        )

    def to_params(self) -> dict[str, str]:
        """The parameters `from_params` turns back into this scenario."""
        params = {
            "kvk": self.kvk_number,
            "mandate": self.mandate.value,
            "mandate_for": self.mandate_for.value,
            "intermediary": self.intermediary_kvk,
            "loa": self.level.value,
            "advice": "1" if self.advice else "0",
            "earlier": "1" if self.earlier_sign_in else "0",
            "action": self.action.value,
            "user": self.user,
            "person": self.person.value,
            **{param: getattr(self, field) for param, field in PERSON_FIELDS.items()},
        }
        if self.establishment is not None:
            params["establishment"] = self.establishment
        if self.intermediary_rsin is not None:
            params["intermediary_rsin"] = self.intermediary_rsin
        if self.binding is not None:
            params["binding"] = next(name for name, b in _BINDINGS.items() if b is self.binding)
        return params


def _one_of(choices: Iterable[str]) -> Problem:
    return Problem(N_("must be one of %(choices)s"), {"choices": ", ".join(choices)})


def _check_digits(field: str, value: str, length: int) -> None:
    problem = digits_problem(value, length)
    if problem is not None:
        raise ScenarioError(field, problem)


def _text(params: Mapping[str, str], name: str, default: str) -> str:
    value = params.get(name)
    return default if value is None else value.strip()


def _choice(params: Mapping[str, str], name: str, kind: type[_E], default: _E) -> _E:
    value = _text(params, name, "").lower()
    if not value:
        return default
    try:
        return kind(value)
    except ValueError:
        raise ScenarioError(name, _one_of(m.value for m in kind)) from None


def _level(params: Mapping[str, str], default: Level) -> Level:
    value = _text(params, "loa", "").lower()
    if not value:
        return default
    levels: tuple[Level, ...] = (*LevelOfAssurance, *ObsoleteLevel)
    found = next((level for level in levels if level.value == value), None)
    if found is None:
        raise ScenarioError("loa", _one_of(level.value for level in levels))
    return found


def _flag(params: Mapping[str, str], name: str) -> bool:
    value = _text(params, name, "").lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ScenarioError(name, Problem(N_("must be 1 or 0")))


def _binding(params: Mapping[str, str]) -> Binding | None:
    value = _text(params, "binding", "").lower()
    if not value:
        return None
    if value not in _BINDINGS:
        raise ScenarioError("binding", _POST_OR_ARTIFACT)
    return _BINDINGS[value]
