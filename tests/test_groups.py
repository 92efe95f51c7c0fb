"""`flask groups add|list|remove|add-member|remove-member`: organisation groups, every change audited."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from broker import models
from tests.conftest import MovableClock
from tests.registers import changes_since, empty_registers, register_app


@pytest.fixture(scope="module")
def registers(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Flask:
    return register_app(tmp_path_factory.mktemp("groups"), clock)


@pytest.fixture
def app(registers: Flask) -> Flask:
    registers.config["AUDIT_FROM"] = empty_registers(registers)
    return registers


def invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["groups", *args])
    return result.exit_code, result.output


def changes(app: Flask) -> list[tuple[str, str, Any, Any]]:
    return [
        (r["what"], r["key"], r["before"], r["after"]) for r in changes_since(app, app.config["AUDIT_FROM"])
    ]


def test_a_group_gathers_kvk_numbers(app: Flask) -> None:
    assert invoke(app, "add", "van-dijk", "--name", "Van Dijk Groep") == (
        0,
        "added group van-dijk (Van Dijk Groep)\n",
    )
    assert invoke(app, "add-member", "van-dijk", "12345678") == (0, "added 12345678 to group van-dijk\n")
    assert invoke(app, "add-member", "van-dijk", "24444001")[0] == 0
    assert invoke(app, "add", "jansen", "--name", "Jansen")[0] == 0
    assert invoke(app, "list") == (0, "jansen\tJansen\t-\nvan-dijk\tVan Dijk Groep\t12345678 24444001\n")
    with app.app_context():
        assert models.group_of("24444001") == models.OrganisationGroup("van-dijk", "Van Dijk Groep")
        assert models.group_of("11112222") is None


def test_a_kvk_number_is_in_one_group_at_most(app: Flask) -> None:
    invoke(app, "add", "van-dijk", "--name", "Van Dijk Groep")
    invoke(app, "add", "jansen", "--name", "Jansen")
    invoke(app, "add-member", "van-dijk", "12345678")
    assert invoke(app, "add-member", "jansen", "12345678") == (
        1,
        "Error: KvK number 12345678 is in group van-dijk already\n",
    )
    assert invoke(app, "add-member", "van-dijk", "12345678")[0] == 1


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("add", "Van Dijk", "--name", "x"), "must be 1 to 64 lower-case letters, digits and dashes"),
        (("add", "x_y", "--name", "x"), "lower-case letters"),
        (("add", "x" * 65, "--name", "x"), "lower-case letters"),
        (("add", "x", "--name", "  "), "--name must be 1 to 255 printable characters"),
        (("add-member", "nope", "12345678"), "there is no group 'nope'"),
        (("add-member", "van-dijk", "1234567"), "KvK number '1234567'"),
        (("remove-member", "van-dijk", "11112222"), "KvK number 11112222 is not in group van-dijk"),
        (("remove", "nope"), "there is no group 'nope'"),
        (("add", "van-dijk", "--name", "again"), "group van-dijk exists already"),
    ],
    ids=[
        "spaces",
        "underscore",
        "long",
        "empty-name",
        "unknown-group",
        "short-kvk",
        "not-a-member",
        "remove-unknown",
        "twice",
    ],
)
def test_what_cannot_be_right_is_refused_and_not_recorded(
    app: Flask, args: tuple[str, ...], error: str
) -> None:
    invoke(app, "add", "van-dijk", "--name", "Van Dijk Groep")
    before = changes(app)
    code, output = invoke(app, *args)
    assert code != 0
    assert error in output
    assert changes(app) == before


def test_removing_members_and_groups(app: Flask) -> None:
    invoke(app, "add", "van-dijk", "--name", "Van Dijk Groep")
    invoke(app, "add-member", "van-dijk", "12345678")
    invoke(app, "add-member", "van-dijk", "24444001")
    assert invoke(app, "remove-member", "van-dijk", "12345678") == (
        0,
        "removed 12345678 from group van-dijk\n",
    )
    assert invoke(app, "remove", "van-dijk") == (0, "removed group van-dijk\n")
    assert invoke(app, "list") == (0, "")
    with app.app_context():
        assert models.group_of("24444001") is None
    # Its numbers are free for another group.
    invoke(app, "add", "jansen", "--name", "Jansen")
    assert invoke(app, "add-member", "jansen", "24444001")[0] == 0


def test_every_change_is_recorded(app: Flask) -> None:
    invoke(app, "add", "van-dijk", "--name", "Van Dijk Groep")
    invoke(app, "add-member", "van-dijk", "12345678")
    invoke(app, "add-member", "van-dijk", "24444001")
    invoke(app, "remove-member", "van-dijk", "12345678")
    invoke(app, "remove", "van-dijk")
    empty = {"name": "Van Dijk Groep", "members": []}
    one = {"name": "Van Dijk Groep", "members": ["12345678"]}
    two = {"name": "Van Dijk Groep", "members": ["12345678", "24444001"]}
    other = {"name": "Van Dijk Groep", "members": ["24444001"]}
    assert changes(app) == [
        ("groups add", "van-dijk", None, empty),
        ("groups add-member", "van-dijk", empty, one),
        ("groups add-member", "van-dijk", one, two),
        ("groups remove-member", "van-dijk", two, other),
        ("groups remove", "van-dijk", other, None),
    ]
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
