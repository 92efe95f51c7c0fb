"""`flask clients …` and `flask services …`: the file changes, stays valid, keeps its comments."""

from __future__ import annotations

import json
import re
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade

from broker import audit, create_app, models
from broker.models import audit as audit_store
from config import Registry, Service, load_settings
from config.clients import ClientSecret
from tests.clients import CLIENTS, SERVICES
from tests.conftest import broker_environ


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return broker_environ(tmp_path)


@pytest.fixture
def cli_app(environ: dict[str, str]) -> Flask:
    """An app on a migrated database: every change the CLI makes is recorded in the audit trail."""
    app = create_app(load_settings(environ))
    with app.app_context():
        upgrade()
    return app


def config_file(app: Flask) -> Path:
    return app.extensions["broker"].settings.config.path


def invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def reloaded(environ: dict[str, str]) -> Registry:
    """The services and clients start-up would read now (the config file as the CLI left it)."""
    return load_settings(environ).config.read()


def test_add_a_client_prints_its_secret_once_and_keeps_only_its_hash(
    cli_app: Flask, environ: dict[str, str]
) -> None:
    path = config_file(cli_app)
    path.write_text("# portals of the test\n" + path.read_text())
    code, output = invoke(
        cli_app,
        "clients",
        "add",
        "new-portal",
        "--service",
        "omgevingsloket",
        "--redirect-uri",
        "https://new.test/callback",
    )
    assert code == 0, output
    secret = re.search(r"shown once, keep it safe\): (\S+)", output).group(1)
    text = path.read_text()
    assert secret not in text
    assert text.startswith("# portals of the test\n")
    client = reloaded(environ).client("new-portal")
    assert client is not None
    assert client.redirect_uris == ("https://new.test/callback",)
    assert client.secret.matches(secret)


def test_rotate_secret_replaces_the_secret(cli_app: Flask, environ: dict[str, str]) -> None:
    code, output = invoke(cli_app, "clients", "rotate-secret", "olo-post")
    assert code == 0, output
    secret = re.search(r"\): (\S+)", output).group(1)
    client = reloaded(environ).client("olo-post")
    assert client.secret.matches(secret)
    assert "secret:" not in config_file(cli_app).read_text().split("olo-post")[1].split("client_id")[0]


def test_remove_a_client(cli_app: Flask, environ: dict[str, str]) -> None:
    assert invoke(cli_app, "clients", "remove", "olo-jwt")[0] == 0
    assert reloaded(environ).client("olo-jwt") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "x", "--service", "nope", "--redirect-uri", "https://x.test/cb"], "field 'service'"),
        (["add", "x", "--service", "omgevingsloket", "--redirect-uri", "http://x.test/cb"], "redirect_uris"),
        (
            ["add", "ind-portal", "--service", "omgevingsloket", "--redirect-uri", "https://x.test/cb"],
            "exists",
        ),
        (["rotate-secret", "olo-jwt"], "does not authenticate with a secret"),
        (["remove", "nobody"], "no client 'nobody'"),
    ],
)
def test_a_change_that_would_break_the_file_is_refused(cli_app: Flask, args: list[str], message: str) -> None:
    before = config_file(cli_app).read_text()
    code, output = invoke(cli_app, "clients", *args)
    assert code != 0
    assert message in output
    assert config_file(cli_app).read_text() == before


def test_list_clients_and_services(cli_app: Flask) -> None:
    assert "ind-portal\tind-portaal-zakelijk\tclient_secret_basic" in invoke(cli_app, "clients", "list")[1]
    listed = invoke(cli_app, "services", "list")[1]
    assert "omgevingsloket\t2\tloa2plus\tnone\tcustom\t2b7e9d40-5c6a-4e0f-8d3b-7a1f4c9e2b02" in listed
    assert "establishment-required\t4\tloa2plus\trequired\tcustom\t" in listed
    assert invoke(cli_app, "services", "check") == (
        0,
        f"{config_file(cli_app)}: 7 services, 20 clients, valid\n",
    )


def test_services_check_reads_the_file_as_it_is_now(cli_app: Flask) -> None:
    path = config_file(cli_app)
    path.write_text(path.read_text().replace("minimum_loa: loa3", "minimum_loa: loa1", 1))
    code, output = invoke(cli_app, "services", "check")
    assert code != 0
    assert "field 'minimum_loa'" in output


PERMITS_UUID = "5d0c8e3a-1b2f-4c6d-9e7a-8f9b0c1d2e04"


def add_service(slug: str = "permits", uuid: str = PERMITS_UUID, index: str = "7") -> list[str]:
    """The arguments of `flask services add`."""
    return [
        *("services", "add", slug, "--uuid", uuid, "--index", index, "--minimum-loa", "loa3"),
        *("--name-nl", "Vergunningen: aanvragen", "--name-en", "Permits"),
    ]


SPONSORS_FOR_LABOUR = [
    *("--mandate", "own_company", "--mandate", "recognised_sponsor"),
    *("--sponsor-category", "labour", "--sponsor-category", "study"),
]


@pytest.mark.parametrize(
    ("options", "admitted", "establishment", "categories", "profile"),
    [
        (["--mandate", "own_company"], ("own_company",), "none", (), "custom"),
        ([], ("own_company", "representative"), "none", (), "custom"),
        (["--establishment", "required"], ("own_company", "representative"), "required", (), "custom"),
        (SPONSORS_FOR_LABOUR, ("own_company", "recognised_sponsor"), "none", ("labour", "study"), "custom"),
        (["--profile", "ind"], ("own_company", "recognised_sponsor"), "none", (), "ind"),
        (["--profile", "olo"], ("own_company", "representative"), "required", (), "olo"),
    ],
)
def test_add_a_service(
    cli_app: Flask,
    environ: dict[str, str],
    options: list[str],
    admitted: tuple[str, ...],
    establishment: str,
    categories: tuple[str, ...],
    profile: str,
) -> None:
    code, output = invoke(cli_app, *add_service(), *options)
    assert code == 0, output
    assert "Running brokers apply it within 0 seconds (no restart needed)." in output
    assert "saml metadata" in output
    expected = Service(
        "permits",
        PERMITS_UUID,
        7,
        "loa3",
        "Vergunningen: aanvragen",
        "Permits",
        admitted,
        establishment,
        categories,
        profile,
    )
    assert reloaded(environ).service("permits") == expected
    # The running app lists it without a restart.
    assert "permits\t7\tloa3" in invoke(cli_app, "services", "list")[1]


def test_a_profile_sets_the_level_a_service_leaves_out(cli_app: Flask, environ: dict[str, str]) -> None:
    without_level = [arg for arg in add_service() if arg not in ("--minimum-loa", "loa3")]
    code, output = invoke(cli_app, *without_level)
    assert code != 0
    assert "--minimum-loa is needed: profile custom sets no level" in output
    assert invoke(cli_app, *without_level, "--profile", "ind")[0] == 0
    assert reloaded(environ).service("permits").minimum_loa == "loa3"


def test_remove_a_service_no_client_uses(cli_app: Flask, environ: dict[str, str]) -> None:
    assert invoke(cli_app, *add_service())[0] == 0
    code, output = invoke(cli_app, "services", "remove", "permits")
    assert code == 0, output
    assert reloaded(environ).service("permits") is None
    assert "permits" not in invoke(cli_app, "services", "list")[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["services", "remove", "omgevingsloket"], "still used by clients olo-post, olo-jwt, olo-public"),
        (["services", "remove", "nobody"], "no service 'nobody'"),
        (add_service(index="2"), "field 'index' repeats 2"),
        (add_service(index="0"), "field 'index' must be a whole number of at least 1"),
        (add_service(slug="omgevingsloket"), "service 'omgevingsloket' exists already"),
        (add_service(slug="Permits"), "field 'slug' must be lower-case"),
        (add_service(uuid="nope"), "field 'uuid' is not a UUID"),
        ([*add_service(), "--sponsor-category", "labour"], "'sponsor_categories' needs recognised_sponsor"),
        (
            [*add_service(), "--profile", "ind", "--mandate", "own_company", "--mandate", "representative"],
            "field 'mandates' may list only own_company, recognised_sponsor for profile ind",
        ),
        (
            [*add_service(), "--profile", "olo", "--establishment", "none"],
            "field 'establishment' must be required for profile olo (Omgevingsloket OLO)",
        ),
    ],
)
def test_a_service_change_that_would_break_the_file_is_refused(
    cli_app: Flask, args: list[str], message: str
) -> None:
    before = config_file(cli_app).read_text()
    code, output = invoke(cli_app, *args)
    assert code != 0
    assert message in output
    assert config_file(cli_app).read_text() == before


# The comment after a list sits in a different place in ruamel.yaml's model when its last entry
# ends in a block mapping than when it ends in a flow one.
BLOCK_SERVICE = """  - slug: archive
    uuid: 0b6f2d3a-7c1e-4f5a-9d8b-3e2a1c4b5d06
    index: 9
    minimum_loa: loa3
    name:
      nl: Archief
      en: Archive
"""


@pytest.mark.parametrize("last_service", ["", BLOCK_SERVICE], ids=["flow-last", "block-last"])
def test_comments_stay_where_they_were_as_entries_come_and_go(cli_app: Flask, last_service: str) -> None:
    path = config_file(cli_app)
    path.write_text(
        f"# services of the test\n{SERVICES.lstrip()}{last_service}\n# the portals, below\n{CLIENTS.lstrip()}"
    )
    before = path.read_text()
    assert invoke(cli_app, *add_service())[0] == 0
    added = path.read_text()
    assert added.index("slug: permits") < added.index("\n# the portals, below\nclients:")
    assert invoke(cli_app, "services", "remove", "permits")[0] == 0
    assert path.read_text() == before


# --- flask sponsors: the register of recognised sponsors ------------------------------------------


@pytest.fixture
def register_app(cli_app: Flask) -> Flask:
    return cli_app


def listed(app: Flask, *args: str) -> list[list[str]]:
    code, output = invoke(app, "sponsors", "list", *args)
    assert code == 0, output
    return [line.split("\t") for line in output.splitlines()]


def export(tmp_path: Path, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


DUTCH_EXPORT = "KvK-nummer;Organisatie\n12345678;Bakkerij Van Dijk B.V.\n00123456;Stichting Één\n"


def import_dutch_export(app: Flask, tmp_path: Path) -> None:
    assert invoke(app, "sponsors", "import", export(tmp_path, DUTCH_EXPORT), "--category", "labour")[0] == 0


def test_import_an_export_with_a_bom_dutch_headers_and_semicolons(
    register_app: Flask, tmp_path: Path
) -> None:
    code, output = invoke(
        register_app,
        *("sponsors", "import", export(tmp_path, DUTCH_EXPORT, "utf-8-sig"), "--category", "labour"),
        *("--valid-from", "2026-01-01"),
    )
    assert (code, output) == (0, "labour: 2 added, 0 removed, 0 kept\n")
    rows = listed(register_app)
    assert [(r[0], r[1], r[2], r[3], r[4].split()[0], r[5]) for r in rows] == [
        ("00123456", "labour", "2026-01-01", "-", "imported", "Stichting Één"),
        ("12345678", "labour", "2026-01-01", "-", "imported", "Bakkerij Van Dijk B.V."),
    ]


def test_an_import_replaces_its_category_only(register_app: Flask, tmp_path: Path) -> None:
    import_dutch_export(register_app, tmp_path)
    add = ("sponsors", "add", "12345678", "--category", "study", "--name", "Bakkerij")
    assert invoke(register_app, *add)[0] == 0
    comma = 'name,"kvk nummer"\n"Bakkerij Van Dijk, Utrecht",12345678\nNieuw BV,87654321\n'
    code, output = invoke(register_app, "sponsors", "import", export(tmp_path, comma), "--category", "labour")
    assert (code, output) == (0, "labour: 1 added, 1 removed, 1 kept\n")
    assert [(r[0], r[5]) for r in listed(register_app, "--category", "labour")] == [
        ("12345678", "Bakkerij Van Dijk, Utrecht"),
        ("87654321", "Nieuw BV"),
    ]
    assert [(r[0], r[1], r[4].split()[0]) for r in listed(register_app, "--category", "study")] == [
        ("12345678", "study", "added")
    ]


def test_a_file_with_a_bad_line_is_refused_whole(register_app: Flask, tmp_path: Path) -> None:
    import_dutch_export(register_app, tmp_path)
    before = listed(register_app)
    bad = (
        "KVK_NUMBER;Naam\n"
        "87654321;Goed BV\n"
        "1234567;Nul Kwijt BV\n"
        "1234O678;Letter O BV\n"
        "87654321;Twee Keer BV\n"
        "11223344;\n"
    )
    code, output = invoke(register_app, "sponsors", "import", export(tmp_path, bad), "--category", "labour")
    assert code != 0
    assert "refused, nothing written" in output
    for problem in (
        "line 3: KvK number '1234567': must be 8 digits, not 7",
        "line 4: KvK number '1234O678': character 5 is 'O' (LATIN CAPITAL LETTER O), not a digit",
        "line 5: KvK number 87654321 is listed already on line 2",
        "line 6: KvK number 11223344: the organisation's name is empty",
    ):
        assert problem in output
    assert listed(register_app) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Bedrijf;Nummer\nBakkerij;12345678\n", "line 1: no KvK number column"),
        ("KvK-nummer;Plaats\n12345678;Utrecht\n", "line 1: no organisation column"),
        ("KvK-nummer;Organisatie\n", "the file lists no companies"),
        ("KvK-nummer;Organisatie\n12345678\n", "line 2: 1 fields, the header names 2"),
    ],
)
def test_an_export_the_broker_cannot_read_is_refused(
    register_app: Flask, tmp_path: Path, text: str, message: str
) -> None:
    code, output = invoke(register_app, "sponsors", "import", export(tmp_path, text), "--category", "study")
    assert code != 0
    assert message in output
    assert listed(register_app) == []


def test_add_and_remove_a_sponsor(register_app: Flask) -> None:
    code, output = invoke(
        register_app,
        *("sponsors", "add", "12345678", "--category", "research", "--name", "Bakkerij Van Dijk"),
        *("--valid-from", "2026-01-01", "--valid-to", "2026-12-31"),
    )
    assert (code, output) == (0, "added 12345678 for research, from 2026-01-01 to 2026-12-31\n")
    (row,) = listed(register_app)
    assert row[:4] == ["12345678", "research", "2026-01-01", "2026-12-31"]
    assert row[4].startswith("added ")
    assert invoke(register_app, "sponsors", "remove", "12345678", "--category", "study")[0] != 0
    assert invoke(register_app, "sponsors", "remove", "12345678") == (0, "removed 12345678: 1 rows\n")
    assert listed(register_app) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "1234567I", "--category", "labour", "--name", "X"], "character 8 is 'I'"),
        (["add", "12345678", "--category", "arbeid", "--name", "X"], "'arbeid' is not one of"),
        (
            [
                *("add", "12345678", "--category", "labour", "--name", "X"),
                *("--valid-from", "2026-02-01", "--valid-to", "2026-01-31"),
            ],
            "--valid-to 2026-01-31 is before --valid-from 2026-02-01",
        ),
        (["add", "12345678", "--category", "labour", "--name", " "], "--name must be 1 to 255 characters"),
        (["remove", "12345678"], "KvK number 12345678 is not in the register"),
    ],
)
def test_a_bad_sponsor_command_is_refused(register_app: Flask, args: list[str], message: str) -> None:
    code, output = invoke(register_app, "sponsors", *args)
    assert code != 0
    assert message in output
    assert listed(register_app) == []


def test_a_sponsor_is_added_once_per_category(register_app: Flask) -> None:
    add = ["sponsors", "add", "12345678", "--category", "labour", "--name", "X"]
    assert invoke(register_app, *add)[0] == 0
    code, output = invoke(register_app, *add)
    assert code != 0
    assert "registered for labour already" in output


def test_a_sponsor_added_by_another_run_meanwhile_gets_the_same_message(
    register_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    add = ["sponsors", "add", "12345678", "--category", "labour", "--name", "X"]
    assert invoke(register_app, *add)[0] == 0
    # As if the other run's row arrived after this run looked: only the unique key can tell.
    monkeypatch.setattr(models, "registrations", lambda _kvk_number: [])
    code, output = invoke(register_app, *add)
    assert code == 1
    assert "registered for labour already" in output
    assert len(listed(register_app)) == 1


# --- the audit trail: every change through the CLI is recorded -----------------------------------


def changes(app: Flask) -> list[dict[str, Any]]:
    """The audit trail's records, oldest first, as `flask audit export` writes them."""
    with app.app_context(), closing(audit_store.records_up_to(audit_store.chain().seq)) as records:
        return [audit.exported(record) for record in records]


def test_each_client_and_service_change_is_recorded(cli_app: Flask) -> None:
    add_client = [
        "clients",
        "add",
        "new-portal",
        "--service",
        "permits",
        "--redirect-uri",
        "https://new.test/cb",
    ]
    commands = [
        add_service(),
        add_client,
        ["clients", "rotate-secret", "new-portal"],
        ["clients", "remove", "new-portal"],
        ["services", "remove", "permits"],
    ]
    secrets = []
    for command in commands:
        code, output = invoke(cli_app, *command)
        assert code == 0, output
        secrets += re.findall(r"keep it safe\): (\S+)", output)
    records = changes(cli_app)
    assert [(r["what"], r["key"], r["who"]) for r in records] == [
        ("services add", "permits", audit.os_user()),
        ("clients add", "new-portal", audit.os_user()),
        ("clients rotate-secret", "new-portal", audit.os_user()),
        ("clients remove", "new-portal", audit.os_user()),
        ("services remove", "permits", audit.os_user()),
    ]
    service, added, rotated, removed, gone = records
    assert service["before"] is None
    assert (service["after"]["uuid"], service["after"]["index"], service["after"]["mandates"]) == (
        PERMITS_UUID,
        7,
        ["own_company", "representative"],
    )
    assert added["before"] is None
    assert (added["after"]["services"], added["after"]["redirect_uris"]) == (
        ["permits"],
        ["https://new.test/cb"],
    )
    # A secret is kept as the first characters of its hash: enough to tell two apart, no more.
    first, second = (ClientSecret.of(secret).sha256 for secret in secrets)
    assert (added["after"]["secret"], rotated["before"]["secret"], rotated["after"]["secret"]) == (
        first[:12],
        first[:12],
        second[:12],
    )
    assert not any(secret in json.dumps(records) for secret in (*secrets, first, second))
    assert (removed["before"]["client_id"], removed["after"]) == ("new-portal", None)
    assert (gone["before"]["slug"], gone["after"]) == ("permits", None)
    assert invoke(cli_app, "audit", "verify")[0] == 0


def test_a_refused_change_leaves_no_record(cli_app: Flask) -> None:
    code, _ = invoke(cli_app, "services", "remove", "ind-portaal-zakelijk")
    assert code != 0
    assert invoke(cli_app, "clients", "remove", "no-such-portal")[0] != 0
    assert changes(cli_app) == []


def test_each_register_change_is_recorded(register_app: Flask, tmp_path: Path) -> None:
    add = ("sponsors", "add", "12345678", "--name", "Bakkerij Van Dijk", "--valid-from", "2026-01-01")
    assert invoke(register_app, *add, "--category", "study")[0] == 0
    assert invoke(register_app, *add, "--category", "labour", "--valid-to", "2026-03-31")[0] == 0
    relisted = "KvK-nummer;Organisatie\n12345678;Bakkerij Van Dijk B.V.\n87654321;Nieuw BV\n"
    for text in (DUTCH_EXPORT, relisted):
        imported = ("sponsors", "import", export(tmp_path, text), "--category", "labour")
        assert invoke(register_app, *imported, "--valid-from", "2026-06-01")[0] == 0
    assert invoke(register_app, "sponsors", "remove", "12345678", "--category", "study")[0] == 0
    study = {"valid_from": "2026-01-01", "valid_to": None}
    labour = {"valid_from": "2026-01-01", "valid_to": "2026-03-31"}
    assert [(r["what"], r["key"], r["before"], r["after"]) for r in changes(register_app)] == [
        ("sponsors add", "12345678", None, {"study": study}),
        ("sponsors add", "12345678", {"study": study}, {"labour": labour, "study": study}),
        (
            "sponsors import",
            "labour",
            {"companies": 1, "removed": []},
            # Listed again, 12345678 is open-ended once more.
            {"companies": 2, "added": ["00123456"], "valid_from": "2026-06-01", "reopened": ["12345678"]},
        ),
        (
            "sponsors import",
            "labour",
            {"companies": 2, "removed": ["00123456"]},
            {"companies": 2, "added": ["87654321"], "valid_from": "2026-06-01", "reopened": []},
        ),
        (
            "sponsors remove",
            "12345678",
            {"labour": {**labour, "valid_to": None}, "study": study},
            {"labour": {**labour, "valid_to": None}},
        ),
    ]
    # The register's names are not kept: a sole trader's name is a person's.
    assert "Bakkerij" not in json.dumps(changes(register_app))
    assert invoke(register_app, "audit", "verify")[0] == 0


# --- clients of several services ------------------------------------------------------------------


def test_a_client_added_with_several_services_lists_them(cli_app: Flask, environ: dict[str, str]) -> None:
    code, output = invoke(
        cli_app,
        "clients",
        "add",
        "two-forms",
        "--service",
        "omgevingsloket",
        "--service",
        "own-company-only",
        "--redirect-uri",
        "https://new.test/callback",
    )
    assert code == 0, output
    assert reloaded(environ).client("two-forms").services == ("omgevingsloket", "own-company-only")
    assert (
        "  - client_id: two-forms\n    name: two-forms\n    services:\n" in config_file(cli_app).read_text()
    )
    listed = invoke(cli_app, "clients", "list")[1]
    assert (
        "two-forms\tomgevingsloket,own-company-only\tclient_secret_basic\thttps://new.test/callback" in listed
    )
    assert "ind-portal\tind-portaal-zakelijk\tclient_secret_basic" in listed


def test_set_services_changes_a_clients_services_in_the_trail(
    cli_app: Flask, environ: dict[str, str]
) -> None:
    path = config_file(cli_app)
    code, output = invoke(
        cli_app,
        "clients",
        "set-services",
        "olo-post",
        "--service",
        "omgevingsloket",
        "--service",
        "ind-portaal-zakelijk",
    )
    assert code == 0, output
    assert reloaded(environ).client("olo-post").services == ("omgevingsloket", "ind-portaal-zakelijk")
    # In the place `service:` had, which is gone.
    entry = path.read_text().split("client_id: olo-post\n")[1].split("client_id")[0]
    assert entry.startswith(
        "    services:\n      - omgevingsloket\n      - ind-portaal-zakelijk\n    redirect_uris:"
    )
    # Back to one: `service:` again.
    assert invoke(cli_app, "clients", "set-services", "olo-post", "--service", "omgevingsloket")[0] == 0
    assert "client_id: olo-post\n    service: omgevingsloket\n" in path.read_text()
    records = [record for record in changes(cli_app) if record["what"] == "clients set-services"]
    assert [(r["key"], r["before"]["services"], r["after"]["services"]) for r in records] == [
        ("olo-post", ["omgevingsloket"], ["omgevingsloket", "ind-portaal-zakelijk"]),
        ("olo-post", ["omgevingsloket", "ind-portaal-zakelijk"], ["omgevingsloket"]),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set-services", "olo-post", "--service", "nope"], "(olo-post): field 'service' names 'nope'"),
        (
            ["set-services", "olo-post", "--service", "omgevingsloket", "--service", "omgevingsloket"],
            "field 'services' names omgevingsloket more than once",
        ),
        (["set-services", "nobody", "--service", "omgevingsloket"], "no client 'nobody'"),
        (["set-services", "olo-post"], "Missing option '--service'"),
    ],
)
def test_a_bad_set_services_is_refused(cli_app: Flask, args: list[str], message: str) -> None:
    before = config_file(cli_app).read_text()
    code, output = invoke(cli_app, "clients", *args)
    assert code != 0
    assert message in output
    assert config_file(cli_app).read_text() == before


def test_a_service_in_a_clients_list_is_still_in_use(cli_app: Flask) -> None:
    code, output = invoke(cli_app, "services", "remove", "own-company-only")
    assert code != 0
    assert "still used by clients own-only, multi-portal" in output
