"""The reason → page table: every reason renders, and placeholders are ones the errors supply."""

from __future__ import annotations

import string

import pytest
from flask import Flask

from broker.web.errors import EXPLANATIONS, explanation_for, refusal_page
from saml.errors import Reason, SamlError

# The values raising code puts in SamlError.shown, per reason.
SUPPLIED = {Reason.LOA_TOO_LOW: {"level"}}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("reason", list(EXPLANATIONS))
def test_placeholders_are_supplied(reason: Reason) -> None:
    explanation = EXPLANATIONS[reason]
    used = _placeholders(explanation.advice_nl) | _placeholders(explanation.advice_en)
    assert used <= SUPPLIED.get(reason, set())


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_renders_a_bilingual_page(app: Flask, reason: Reason) -> None:
    shown = {name: "EH3" for name in SUPPLIED.get(reason, set())}
    with app.test_request_context():
        html, status = refusal_page(SamlError(reason, "detail for the log only", shown))
    # Bad input is the sender's fault (4xx); an HM that does not answer is a bad gateway.
    assert status == 502 if reason is Reason.ARTIFACT_RESOLUTION_FAILED else 400 <= status < 500
    assert explanation_for(reason).title_nl in html
    assert explanation_for(reason).title_en in html
    assert "detail for the log only" not in html
