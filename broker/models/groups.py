"""Organisation groups: several KvK numbers of one organisation, kept together by admins.

An organisation may hold its eHerkenning under more than one KvK number (a holding and its
companies); a portal that keys accounts on the KvK number then shows their staff different
cases. A group (a stable id, chosen once, and a name) joins those numbers; each number is in at
most one group. Kept by admins (`flask groups`); a sign-in reads the group of the company acted
for only when the client asks for it (scope `organisation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, String, bindparam, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from broker.extensions import db
from broker.models.statements import run
from broker.models.types import UtcDateTime

MAX_GROUP_ID = 64
MAX_GROUP_NAME = 255


class OrganisationGroupRow(db.Model):
    """A group: its id never changes, its name is what people read."""

    __tablename__ = "organisation_group"

    id: Mapped[str] = mapped_column(String(MAX_GROUP_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_GROUP_NAME))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OrganisationGroupMember(db.Model):
    """A KvK number in a group; the primary key keeps it in one group at most, and serves a
    sign-in's lookup."""

    __tablename__ = "organisation_group_member"

    kvk_number: Mapped[str] = mapped_column(String(8), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("organisation_group.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class OrganisationGroup:
    """A group as a sign-in releases it (claim `organisation_group`)."""

    id: str
    name: str

    def claim(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True)
class Group:
    """A group with its members, for admins."""

    id: str
    name: str
    members: tuple[str, ...]

    def entry(self) -> dict[str, object]:
        """The group as the audit trail keeps it."""
        return {"name": self.name, "members": list(self.members)}


_groups = OrganisationGroupRow.__table__
_members = OrganisationGroupMember.__table__
_g, _m = _groups.c, _members.c
_OF_COMPANY = (
    select(_g.id, _g.name).join(_members, _m.group_id == _g.id).where(_m.kvk_number == bindparam("kvk"))
)
_GROUP_OF_MEMBER = select(_m.group_id).where(_m.kvk_number == bindparam("kvk"))
_ADD_GROUP = insert(_groups)
_REMOVE_GROUP = delete(_groups).where(_g.id == bindparam("group"))
_ADD_MEMBER = insert(_members)
_REMOVE_MEMBER = delete(_members).where(_m.kvk_number == bindparam("kvk"), _m.group_id == bindparam("group"))
_REMOVE_MEMBERS = delete(_members).where(_m.group_id == bindparam("group"))


def group_of(kvk_number: str) -> OrganisationGroup | None:
    """The group `kvk_number` is in, if any: one read on the members' primary key."""
    row = run(_OF_COMPANY, kvk=kvk_number).first()
    return None if row is None else OrganisationGroup(row.id, row.name)


def member_of(kvk_number: str) -> str | None:
    """The id of the group `kvk_number` is in, if any."""
    return run(_GROUP_OF_MEMBER, kvk=kvk_number).scalar()


def groups() -> list[Group]:
    """Every group by id, its members by KvK number."""
    members: dict[str, list[str]] = {}
    for row in run(select(_m.group_id, _m.kvk_number).order_by(_m.kvk_number)):
        members.setdefault(row.group_id, []).append(row.kvk_number)
    return [
        Group(row.id, row.name, tuple(members.get(row.id, ())))
        for row in run(select(_g.id, _g.name).order_by(_g.id))
    ]


def group(group_id: str) -> Group | None:
    return next((g for g in groups() if g.id == group_id), None)


def add_group(group_id: str, name: str, now: datetime) -> None:
    """Add an empty group; an id taken already raises IntegrityError. The caller commits."""
    run(_ADD_GROUP, id=group_id, name=name, created_at=now)


def remove_group(group_id: str) -> bool:
    """Remove a group and its members; False when there is none by that id. The caller commits."""
    run(_REMOVE_MEMBERS, group=group_id)
    return run(_REMOVE_GROUP, group=group_id).rowcount == 1


def add_member(group_id: str, kvk_number: str, now: datetime) -> None:
    """Put `kvk_number` in the group; a number in a group already raises IntegrityError. The caller
    commits."""
    run(_ADD_MEMBER, kvk_number=kvk_number, group_id=group_id, added_at=now)


def remove_member(group_id: str, kvk_number: str) -> bool:
    """Take `kvk_number` out of the group; False when it was not in it. The caller commits."""
    return run(_REMOVE_MEMBER, group=group_id, kvk=kvk_number).rowcount == 1
