"""The SAML layer stands on xmlsec, lxml and cryptography: no module of the broker imports python3-saml
(`onelogin`), so it is not among the pinned dependencies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Every module of the project imported in a fresh interpreter that refuses `onelogin`.
IMPORT_ALL = """
import importlib, pkgutil, sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "onelogin":
            raise ImportError(f"{name} is imported")
        return None

sys.meta_path.insert(0, Refuse())
for name in ("config", "saml", "broker"):
    package = importlib.import_module(name)
    for module in pkgutil.walk_packages(package.__path__, f"{name}."):
        importlib.import_module(module.name)
"""


def test_no_module_imports_python3_saml() -> None:
    ran = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=ROOT, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr


def test_python3_saml_is_not_pinned() -> None:
    pinned = (ROOT / "requirements.txt").read_text().lower()
    assert "python3-saml" not in pinned
