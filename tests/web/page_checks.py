"""What every page of the broker must be, read from its HTML as a browser and a screen reader would:
its language, one main heading and landmark, a label for every field, descriptions that exist, no
attribute given twice (a browser keeps only the first), and no text left in the other language."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.pofile import read_po

CATALOGUE = Path(__file__).parents[2] / "broker/translations/nl/LC_MESSAGES/messages.po"
FIELDS = {"input", "select", "textarea"}
NOT_FIELDS = {"hidden", "submit", "button", "reset", "image"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class _Page(HTMLParser):
    html_lang: str | None = None
    h1: int = 0
    main: int = 0
    ids: set[str] = field(default_factory=set)
    labelled: set[str] = field(default_factory=set)
    fields: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    # Text shown in the page's own language, outside <script>, <code> and parts marked in another.
    texts: list[str] = field(default_factory=list)
    _open: list[tuple[str, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = [name for name, _ in attrs]
        self.repeated += [f"<{tag}> {name}" for name in set(names) if names.count(name) > 1]
        values = {name: value or "" for name, value in attrs}
        if tag == "html":
            self.html_lang = values.get("lang")
        self.h1 += tag == "h1"
        self.main += tag == "main"
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "label" and "for" in values:
            self.labelled.add(values["for"])
        if tag in FIELDS and values.get("type") not in NOT_FIELDS:
            self.fields.append(values.get("id", f"<{tag} name={values.get('name')}> without an id"))
        for name in ("aria-describedby", "aria-labelledby"):
            self.references += values.get(name, "").split()
        if tag in VOID:
            return
        foreign = tag in {"script", "code", "style"} or (
            "lang" in values and tag != "html" and values["lang"] != self.html_lang
        )
        self._open.append((tag, foreign or self._foreign()))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._foreign():
            self.texts.append(" ".join(data.split()))

    def _foreign(self) -> bool:
        return bool(self._open) and self._open[-1][1]


@cache
def _translations() -> dict[str, str]:
    """English message id → its Dutch text, for the messages whose Dutch differs."""
    with CATALOGUE.open("rb") as file:
        catalogue = read_po(file)
    return {
        m.id: m.string for m in catalogue if isinstance(m.id, str) and m.id and m.string and m.string != m.id
    }


def check_page(html: str, lang: str) -> None:
    page = _Page()
    page.feed(html)
    assert page.html_lang == lang
    assert page.h1 == 1, f"{page.h1} main headings"
    assert page.main == 1
    assert not page.repeated, f"attributes given twice: {page.repeated}"
    unlabelled = [name for name in page.fields if name not in page.labelled]
    assert not unlabelled, f"fields without a label: {unlabelled}"
    missing = [name for name in page.references if name not in page.ids]
    assert not missing, f"described by elements that are not there: {missing}"
    # A whole text of the other language, where the page's own is expected.
    others = set(_translations()) if lang == "nl" else set(_translations().values())
    left = [text for text in page.texts if text in others]
    assert not left, f"text in the other language on a {lang} page: {left}"
