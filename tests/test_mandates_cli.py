"""`flask mandates add|list|revoke|import`: the register of local mandates, every change audited,
an import refused whole for any bad line (each named)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from broker import models
from tests.conftest import MovableClock
from tests.registers import changes_since, empty_registers, register_app

ADD = ("mandates", "add", "12345678", "87654321", "--service", "local-required")


@pytest.fixture(scope="module")
def registers(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Flask:
    return register_app(tmp_path_factory.mktemp("mandates"), clock)


@pytest.fixture
def app(registers: Flask, clock: MovableClock) -> Flask:
    """The app with an empty register (ids from 1 again) on 1 March 2026."""
    clock.moment = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    registers.config["AUDIT_FROM"] = empty_registers(registers)
    return registers


def invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def listed(app: Flask, *args: str) -> list[list[str]]:
    code, output = invoke(app, "mandates", "list", *args)
    assert code == 0, output
    return [line.split("\t") for line in output.splitlines()]


def changes(app: Flask) -> list[dict[str, Any]]:
    """The audit trail's records made in this test."""
    return changes_since(app, app.config["AUDIT_FROM"])


def csv_file(tmp_path: Path, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / "mandates.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_add_list_and_revoke(app: Flask, clock: MovableClock) -> None:
    code, output = invoke(app, *ADD, "--establishment", "000052460102", "--why", "contract 2026-17")
    assert (code, output) == (
        0,
        "added local mandate 1: 87654321 for 12345678 at local-required, establishment 000052460102,"
        " from 2026-03-01, open-ended\n",
    )
    assert listed(app) == [
        [
            "1",
            "12345678",
            "87654321",
            "local-required",
            "000052460102",
            "2026-03-01",
            "-",
            "-",
            "added 2026-03-01T09:00Z",
            "contract 2026-17",
        ]
    ]
    clock.advance(timedelta(days=10))
    assert invoke(app, "mandates", "revoke", "1")[0] == 0
    assert listed(app)[0][7] == "2026-03-11T09:00Z"
    assert invoke(app, "mandates", "revoke", "1") == (1, "Error: local mandate 1 is revoked already\n")
    assert invoke(app, "mandates", "revoke", "7") == (1, "Error: there is no local mandate 7\n")


def test_list_filters_by_service_and_either_kvk_number(app: Flask) -> None:
    invoke(app, *ADD, "--why", "one")
    invoke(app, "mandates", "add", "11112222", "12345678", "--service", "local-narrow", "--why", "two")
    assert [row[0] for row in listed(app, "--service", "local-narrow")] == ["2"]
    assert [row[0] for row in listed(app, "--kvk", "12345678")] == ["1", "2"]
    assert [row[0] for row in listed(app, "--kvk", "87654321")] == ["1"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("mandates", "add", "1234567", "87654321", "--service", "local-required", "--why", "x"),
            "KvK number",
        ),
        (
            ("mandates", "add", "12345678", "12345678", "--service", "local-required", "--why", "x"),
            "is the represented",
        ),
        (
            ("mandates", "add", "12345678", "87654321", "--service", "nope", "--why", "x"),
            "not in the configuration",
        ),
        ((*ADD, "--why", "x", "--establishment", "52460102"), "--establishment"),
        (
            (*ADD, "--why", "x", "--valid-from", "2026-05-01", "--valid-to", "2026-04-30"),
            "before --valid-from",
        ),
        ((*ADD, "--why", "   "), "--why must be"),
    ],
    ids=["short-kvk", "same-company", "unknown-service", "short-establishment", "period", "empty-why"],
)
def test_add_refuses_what_cannot_be_right_and_records_nothing(
    app: Flask, args: tuple[str, ...], error: str
) -> None:
    code, output = invoke(app, *args)
    assert code != 0
    assert error in output
    assert listed(app) == []
    assert changes(app) == []


def test_one_standing_local_mandate_per_pair_and_service_at_a_time(app: Flask) -> None:
    invoke(app, *ADD, "--why", "first", "--valid-to", "2026-06-30")
    code, output = invoke(app, *ADD, "--why", "second", "--valid-from", "2026-06-30")
    assert code != 0
    assert (
        "local mandate 1 holds for this pair at local-required already (from 2026-03-01 to 2026-06-30)"
        in output
    )
    # The day after, another pair, another service, or once the first is revoked: fine.
    assert invoke(app, *ADD, "--why", "second", "--valid-from", "2026-07-01")[0] == 0
    assert (
        invoke(app, "mandates", "add", "12345678", "11112222", "--service", "local-required", "--why", "x")[0]
        == 0
    )
    assert (
        invoke(app, "mandates", "add", "12345678", "87654321", "--service", "local-narrow", "--why", "x")[0]
        == 0
    )
    assert invoke(app, "mandates", "revoke", "1")[0] == 0
    assert invoke(app, *ADD, "--why", "again", "--valid-to", "2026-06-30")[0] == 0


def test_a_service_that_does_not_consult_them_is_named(app: Flask) -> None:
    code, output = invoke(
        app, "mandates", "add", "12345678", "87654321", "--service", "omgevingsloket", "--why", "x"
    )
    assert code == 0
    assert output.endswith(
        "note: service omgevingsloket does not consult local mandates (local_mandate: none)\n"
    )


GOOD = (
    "represented_kvk_number;representative_kvk_number;service;establishment;valid_from;valid_to;why\n"
    "12345678;87654321;local-required;;2026-01-01;;contract 1\n"
    "24444001;87654321;local-narrow;000061830201;2026-01-01;2026-12-31;contract 2\n"
)


def test_import_adds_every_line(app: Flask, tmp_path: Path) -> None:
    code, output = invoke(app, "mandates", "import", csv_file(tmp_path, GOOD, "utf-8-sig"))
    assert (code, output) == (0, f"{tmp_path / 'mandates.csv'}: 2 local mandates added\n")
    rows = listed(app)
    assert [(r[1], r[2], r[3], r[4], r[5], r[6], r[8].split()[0], r[9]) for r in rows] == [
        ("12345678", "87654321", "local-required", "-", "2026-01-01", "-", "imported", "contract 1"),
        (
            "24444001",
            "87654321",
            "local-narrow",
            "000061830201",
            "2026-01-01",
            "2026-12-31",
            "imported",
            "contract 2",
        ),
    ]


def test_import_with_commas_and_without_the_optional_columns(app: Flask, tmp_path: Path) -> None:
    text = (
        "why,service,valid_from,representative_kvk_number,represented_kvk_number\n"
        "x,local-required,2026-01-01,87654321,12345678\n"
    )
    assert invoke(app, "mandates", "import", csv_file(tmp_path, text))[0] == 0
    assert listed(app)[0][1:7] == ["12345678", "87654321", "local-required", "-", "2026-01-01", "-"]


def test_import_names_every_bad_line_and_writes_nothing(app: Flask, tmp_path: Path) -> None:
    bad = (
        "represented_kvk_number;representative_kvk_number;service;establishment;valid_from;valid_to;why\n"
        "12345678;87654321;local-required;;2026-01-01;;ok\n"
        "1234567;87654321;local-required;;2026-01-01;;short\n"
        "12345678;12345678;local-required;;2026-01-01;;same\n"
        "12345678;87654321;nope;;2026-01-01;;unknown\n"
        "12345678;87654321;local-narrow;5246010;2026-01-01;;establishment\n"
        "12345678;87654321;local-narrow;;1-1-2026;;date\n"
        "12345678;87654321;local-narrow;;2026-02-30;;no such day\n"
        "12345678;87654321;local-narrow;;2026-02-01;2026-01-31;backwards\n"
        "12345678;87654321;local-narrow;;2026-02-01;;\n"
        "12345678;87654321;local-required;;2026-06-01;;overlaps line 2\n"
        "12345678;87654321\n"
    )
    code, output = invoke(app, "mandates", "import", csv_file(tmp_path, bad))
    assert code != 0
    assert output.splitlines()[1:] == [
        "line 3: represented KvK number '1234567': must be 8 digits, not 7",
        "line 4: the representative's KvK number is the represented company's",
        "line 5: service 'nope' is not in the configuration",
        "line 6: establishment '5246010': must be 12 digits, not 7",
        "line 7: valid_from '1-1-2026' is not a date (YYYY-MM-DD)",
        "line 8: valid_from '2026-02-30' is not a date (YYYY-MM-DD)",
        "line 9: valid_to 2026-01-31 is before valid_from 2026-02-01",
        "line 10: why must be 1 to 255 characters",
        "line 11: overlaps the local mandate on line 2",
        "line 12: 2 fields, the header names 7",
    ]
    assert "refused, nothing written" in output.splitlines()[0]
    assert listed(app) == []
    assert changes(app) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the file is empty"),
        ("represented_kvk_number;service\n", "line 1: no column representative_kvk_number, valid_from, why"),
        (
            "represented_kvk_number;representative_kvk_number;service;valid_from;why\n",
            "the file lists no local mandates",
        ),
    ],
    ids=["empty", "columns", "no-lines"],
)
def test_import_refuses_a_file_without_mandates(app: Flask, tmp_path: Path, text: str, problem: str) -> None:
    code, output = invoke(app, "mandates", "import", csv_file(tmp_path, text))
    assert code != 0
    assert problem in output


def test_import_refuses_a_file_not_in_utf8(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(GOOD.replace("contract 1", "contrat été").encode("latin-1"))
    code, output = invoke(app, "mandates", "import", str(path))
    assert code != 0
    assert "not UTF-8" in output


def test_import_refuses_a_line_overlapping_the_register(app: Flask, tmp_path: Path) -> None:
    invoke(app, *ADD, "--why", "standing", "--valid-from", "2026-01-01")
    code, output = invoke(app, "mandates", "import", csv_file(tmp_path, GOOD))
    assert code != 0
    assert output.splitlines()[1:] == ["line 2: overlaps local mandate 1 (from 2026-01-01, open-ended)"]
    assert len(listed(app)) == 1


def test_every_change_is_recorded(app: Flask, tmp_path: Path) -> None:
    invoke(app, *ADD, "--why", "contract 2026-17", "--valid-to", "2026-12-31")
    invoke(app, "mandates", "revoke", "1")
    invoke(
        app,
        "mandates",
        "import",
        csv_file(tmp_path, GOOD.replace("2026-01-01;;contract 1", "2027-01-01;;contract 1")),
    )
    entry = {
        "represented_kvk": "12345678",
        "representative_kvk": "87654321",
        "service": "local-required",
        "establishment": None,
        "valid_from": "2026-03-01",
        "valid_to": "2026-12-31",
        "revoked_at": None,
        "why": "contract 2026-17",
    }
    recorded = [(r["what"], r["key"], r["before"], r["after"]) for r in changes(app)]
    assert recorded[:2] == [
        ("mandates add", "1", None, entry),
        ("mandates revoke", "1", entry, {**entry, "revoked_at": "2026-03-01T09:00:00+00:00"}),
    ]
    assert [(what, key, before, after["why"]) for what, key, before, after in recorded[2:]] == [
        ("mandates import", "2", None, "contract 1"),
        ("mandates import", "3", None, "contract 2"),
    ]
    assert all(r["who"] for r in changes(app))
    assert invoke(app, "audit", "verify")[0] == 0


def test_the_register_serves_a_sign_in_one_pair_at_one_service(app: Flask) -> None:
    invoke(app, *ADD, "--why", "x", "--establishment", "000052460102")
    invoke(app, "mandates", "add", "12345678", "87654321", "--service", "local-narrow", "--why", "y")
    invoke(app, "mandates", "revoke", "2")
    with app.app_context():
        found = models.local_mandates("12345678", "87654321", "local-required")
        assert [(m.establishment, m.revoked_at) for m in found] == [("000052460102", None)]
        assert len(models.local_mandates("12345678", "87654321", "local-narrow")) == 1
        assert models.local_mandates("87654321", "12345678", "local-required") == ()
