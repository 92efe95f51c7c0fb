"""Labels per person for personal-account portals: a client's label (`department`) for one subject.

A portal of the `personal` profile gives every employee an account of their own, keyed on the
`sub` the broker sends it, and shows a department with it. Admins set the label by that pseudonym
after the person's first sign-in (`flask labels set`); later sign-ins release it (scope
`department`). The register is read only for such a client, and only when it asks for the scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, bindparam, delete, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from broker.extensions import db
from broker.models.statements import run
from broker.models.types import UtcDateTime

MAX_LABEL = 100
# A pairwise subject: 32 bytes, base64url without padding.
SUBJECT_LENGTH = 43


class SubjectLabel(db.Model):
    """The label `client_id` shows for the person it knows as `subject`."""

    __tablename__ = "subject_label"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH), primary_key=True)
    label: Mapped[str] = mapped_column(String(MAX_LABEL))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class Label:
    client_id: str
    subject: str
    label: str
    set_at: datetime


_labels = SubjectLabel.__table__
_c = _labels.c
_KEY = (_c.client_id == bindparam("client"), _c.subject == bindparam("who"))
_LABEL = select(_c.label).where(*_KEY)
_ADD = insert(_labels)
_CHANGE = update(_labels).where(*_KEY).values(label=bindparam("new_label"), set_at=bindparam("at"))
_REMOVE = delete(_labels).where(*_KEY)


def label_of(client_id: str, subject: str) -> str | None:
    """The label `client_id` has for `subject`, if any: one read on the primary key."""
    return run(_LABEL, client=client_id, who=subject).scalar()


def labels(client_id: str | None = None) -> list[Label]:
    """The register by client and subject; only `client_id`'s when given."""
    statement = select(_labels).order_by(_c.client_id, _c.subject)
    if client_id is not None:
        statement = statement.where(_c.client_id == client_id)
    return [Label(r.client_id, r.subject, r.label, r.set_at) for r in run(statement)]


def set_label(client_id: str, subject: str, label: str, now: datetime) -> None:
    """Give the subject its label, replacing any it had. The caller commits."""
    if run(_CHANGE, client=client_id, who=subject, new_label=label, at=now).rowcount == 0:
        run(_ADD, client_id=client_id, subject=subject, label=label, set_at=now)


def remove_label(client_id: str, subject: str) -> bool:
    """False when the subject had no label. The caller commits."""
    return run(_REMOVE, client=client_id, who=subject).rowcount == 1
