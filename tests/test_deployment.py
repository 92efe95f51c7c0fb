"""The container recipe follows README's production steps: the Dockerfile installs the same
requirements file and runs the same gunicorn command, and compose.yaml gives the broker every
setting README's table marks as required in production. (No image is built here: that needs a
registry's base image.)"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(f"\n## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end >= 0 else len(readme)]


def readme_gunicorn_command() -> list[str]:
    """The gunicorn line of the first shell block in "Running in production"."""
    block = re.search(r"```sh\n(.*?)```", readme_section("Running in production"), re.DOTALL)
    assert block is not None, "README's production section has no ```sh block"
    lines = [line for line in block.group(1).splitlines() if line.startswith("gunicorn ")]
    assert len(lines) == 1, f"expected one gunicorn command in the block, found {lines}"
    return shlex.split(lines[0], comments=True)


def readme_required_in_production() -> set[str]:
    """The variables README's settings tables call required (in production, or when not simulating)."""
    required = set()
    for row in readme_section("Settings").splitlines() + readme_section("Running in production").splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if row.startswith("| `") and len(cells) >= 3 and "required" in cells[-1]:
            required.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]))
    return required


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions and their arguments, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_the_image_installs_the_runtime_requirements() -> None:
    steps = dockerfile()
    assert ("COPY", "requirements.txt ./") in steps
    installs = [arguments for word, arguments in steps if word == "RUN" and "pip install" in arguments]
    assert installs == ["pip install -r requirements.txt"]


def test_the_image_runs_readmes_gunicorn_command() -> None:
    (command,) = [json.loads(arguments) for word, arguments in dockerfile() if word == "CMD"]
    assert command == readme_gunicorn_command()
    assert command[:3] == ["gunicorn", "--config", "gunicorn.conf.py"]


def test_the_image_holds_every_package_of_the_broker() -> None:
    """What the command loads: wsgi.py, gunicorn.conf.py, and each top-level package but the tests
    and benchmarks, with the migrations `flask db upgrade` applies."""
    copied = {
        source.rstrip("/")
        for word, arguments in dockerfile()
        if word == "COPY"
        for source in arguments.split()[:-1]
    }
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    wanted = {"wsgi.py", "gunicorn.conf.py", "migrations", *packages}
    assert wanted <= copied, f"the image lacks {sorted(wanted - copied)}"
    allowed = (ROOT / ".dockerignore").read_text().splitlines()
    assert all(f"!{name}/" in allowed or f"!{name}" in allowed for name in wanted)


def test_compose_gives_the_broker_what_production_requires() -> None:
    services = compose()["services"]
    required = readme_required_in_production()
    assert {"BROKER_SECRET_KEY", "BROKER_OIN", "BROKER_SUBJECT_SALT"} <= required
    for name in ("broker", "migrate"):
        environment = services[name]["environment"]
        assert required <= set(environment), f"{name} lacks {sorted(required - set(environment))}"
        assert environment["BROKER_ENV"] == "production"
        assert environment["BROKER_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert environment["BROKER_REDIS_URL"].startswith("redis://redis:")
    assert services["migrate"]["command"] == shlex.split("flask --app wsgi db upgrade")
    assert services["broker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "command" not in services["broker"], "the broker runs the image's CMD: README's command"
