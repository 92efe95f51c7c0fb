"""What is wrong with a value, said so that the web layer can say it in the reader's language.

`saml/` speaks no language of its own: a Problem carries an English template with named
%-placeholders (a message id, marked with `N_` so that Babel extracts it) and the values for
them; `str()` gives the English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    template: str
    values: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template % self.values if self.values else self.template


def N_(message: str) -> str:
    """`message`, marked for extraction: translated where it is shown, not here."""
    return message
