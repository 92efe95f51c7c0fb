"""The statuses the simulated HM answers with (saml-core-2.0-os §3.2.2.2)."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from lxml.builder import ElementMaker

from saml.response import SUCCESS as SUCCESS_CODE
from saml.simulator.scenario import Action, Mandate, Scenario
from saml.xml import NS

_SAMLP = ElementMaker(namespace=NS["samlp"])
_STATUS = "urn:oasis:names:tc:SAML:2.0:status:"


@dataclass(frozen=True)
class Status:
    """Status codes, top-level first then nested, and an optional StatusMessage."""

    codes: tuple[str, ...]
    message: str | None = None

    @property
    def is_success(self) -> bool:
        return self.codes[0] == SUCCESS_CODE

    def element(self) -> etree._Element:
        """The `samlp:Status` element, nested StatusCodes inside one another."""
        code = _SAMLP.StatusCode(Value=self.codes[-1])
        for value in reversed(self.codes[:-1]):
            code = _SAMLP.StatusCode(code, Value=value)
        status = _SAMLP.Status(code)
        if self.message is not None:
            status.append(_SAMLP.StatusMessage(self.message))
        return status


SUCCESS = Status((SUCCESS_CODE,))
CANCELLED = Status((f"{_STATUS}Responder", f"{_STATUS}AuthnFailed"), "Authentication cancelled by the user")
NO_MANDATE = Status(
    (f"{_STATUS}Responder", f"{_STATUS}RequestDenied"), "There is no mandate for this service"
)


def status_for(scenario: Scenario) -> Status:
    """The status a sign-in under `scenario` ends with."""
    if scenario.action is Action.CANCEL:
        return CANCELLED
    if scenario.mandate is Mandate.NONE:
        return NO_MANDATE
    return SUCCESS
