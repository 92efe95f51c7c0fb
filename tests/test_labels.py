"""`flask labels set|list|remove`: a personal-account portal's label per person, every change audited;
and the `personal` profile in the configuration."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from broker import models
from config import ConfigError, Service
from config.services import load_services, read_document
from tests.clients import SERVICES
from tests.conftest import MovableClock
from tests.registers import changes_since, empty_registers, register_app

ANNA = "4vF7SgCXKZn1AEbCCSO2dKpqYU7O_m2xdnbv81yayL0"
BERT = "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8L9z0X1c"


@pytest.fixture(scope="module")
def registers(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Flask:
    return register_app(tmp_path_factory.mktemp("labels"), clock)


@pytest.fixture
def app(registers: Flask, clock: MovableClock) -> Flask:
    clock.moment = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    registers.config["AUDIT_FROM"] = empty_registers(registers)
    return registers


def invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["labels", *args])
    return result.exit_code, result.output


def changes(app: Flask) -> list[tuple[str, str, Any, Any]]:
    return [
        (r["what"], r["key"], r["before"], r["after"]) for r in changes_since(app, app.config["AUDIT_FROM"])
    ]


def test_set_replace_list_and_remove(app: Flask) -> None:
    assert invoke(app, "set", "hr-viewer", ANNA, "Burgerzaken") == (
        0,
        f"hr-viewer: {ANNA} is labelled 'Burgerzaken' from the next sign-in\n",
    )
    assert invoke(app, "set", "hr-viewer", ANNA, " Vergunningen ")[0] == 0
    assert invoke(app, "set", "hr-viewer-2", BERT, "Handhaving")[0] == 0
    assert invoke(app, "list") == (
        0,
        f"hr-viewer\t{ANNA}\t2026-03-01T09:00Z\tVergunningen\nhr-viewer-2\t{BERT}\t2026-03-01T09:00Z\tHandhaving\n",
    )
    assert invoke(app, "list", "--client", "hr-viewer-2")[1].count("\n") == 1
    with app.app_context():
        assert models.label_of("hr-viewer", ANNA) == "Vergunningen"
        # Per client: the other portal's subject of the same name has none.
        assert models.label_of("hr-viewer-2", ANNA) is None
    assert invoke(app, "remove", "hr-viewer", ANNA) == (0, f"removed the label of {ANNA} at hr-viewer\n")
    assert invoke(app, "remove", "hr-viewer", ANNA) == (1, f"Error: hr-viewer has no label for {ANNA}\n")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("set", "nope", ANNA, "x"), "there is no client 'nope'"),
        (
            ("set", "ind-portal", ANNA, "x"),
            "client ind-portal signs in for service ind-portaal-zakelijk (profile custom), which releases no"
            " labels: only services of profile personal do",
        ),
        (
            ("set", "multi-portal", ANNA, "x"),
            "client multi-portal signs in for services omgevingsloket (profile custom),"
            " establishment-required (profile custom), ind-portaal-zakelijk (profile custom),"
            " own-company-only (profile custom), which release no labels",
        ),
        (("set", "hr-viewer", "short", "x"), "subject 'short' is not a subject the broker sends"),
        (("set", "hr-viewer", ANNA[:-1] + "=", "x"), "is not a subject the broker sends"),
        (("set", "hr-viewer", ANNA, ""), "LABEL must be 1 to 100 printable characters"),
        (("set", "hr-viewer", ANNA, "a\nb"), "printable"),
        (("set", "hr-viewer", ANNA, "x" * 101), "LABEL must be 1 to 100"),
    ],
    ids=[
        "unknown-client",
        "not-personal",
        "none-personal",
        "short-subject",
        "odd-subject",
        "empty",
        "newline",
        "long",
    ],
)
def test_what_cannot_be_right_is_refused_and_not_recorded(
    app: Flask, args: tuple[str, ...], error: str
) -> None:
    code, output = invoke(app, *args)
    assert code != 0
    assert error in output
    assert changes(app) == []


def test_every_change_is_recorded(app: Flask) -> None:
    invoke(app, "set", "hr-viewer", ANNA, "Burgerzaken")
    invoke(app, "set", "hr-viewer", ANNA, "Vergunningen")
    invoke(app, "remove", "hr-viewer", ANNA)
    key = f"hr-viewer {ANNA}"
    assert changes(app) == [
        ("labels set", key, None, {"label": "Burgerzaken"}),
        ("labels set", key, {"label": "Burgerzaken"}, {"label": "Vergunningen"}),
        ("labels remove", key, {"label": "Vergunningen"}, None),
    ]


# --- the personal profile and the new service field, as the file loads ---------------------------------


def services_with(tmp_path: Path, entry: str) -> tuple[Service, ...]:
    """The services of the tests' configuration with `entry` added, as the file loads."""
    path = tmp_path / "broker.yaml"
    path.write_text(SERVICES + entry)
    return load_services(path, read_document(path))


PERSONAL = """
  - slug: viewer
    uuid: 9c1e3a5b-7d8f-4a0b-8c4d-8e0f2a4b6c11
    index: 20
    minimum_loa: loa2plus
    profile: personal
    name: {nl: Viewer, en: Viewer}
"""


def test_the_personal_profile_admits_own_company_only(tmp_path: Path) -> None:
    service = services_with(tmp_path, PERSONAL)[-1]
    assert (service.profile, service.mandates, service.local_mandate) == (
        "personal",
        ("own_company",),
        "none",
    )
    with pytest.raises(ConfigError, match=r"field 'mandates' may list only own_company for profile personal"):
        services_with(tmp_path, PERSONAL + "    mandates: [own_company, representative]\n")


@pytest.mark.parametrize(
    ("field", "error"),
    [
        ("local_mandate: sometimes", "field 'local_mandate' must be one of none, narrow, required"),
        (
            "local_mandate: required\n    mandates: [own_company]",
            "needs representative or recognised_sponsor",
        ),
    ],
    ids=["unknown", "nobody-to-narrow"],
)
def test_local_mandate_is_checked_as_the_file_loads(tmp_path: Path, field: str, error: str) -> None:
    entry = f"""
  - slug: other
    uuid: 1c1e3a5b-7d8f-4a0b-8c4d-8e0f2a4b6c12
    index: 21
    minimum_loa: loa3
    {field}
    name: {{nl: Ander, en: Other}}
"""
    with pytest.raises(ConfigError, match=error):
        services_with(tmp_path, entry)
