"""Workers starting at once on a fresh instance folder all end up with the same generated keys and
secrets: each file is created once, whole, and the later ones read the first one's."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from config import KeyPair
from config.dev_keys import ensure_key_pair, ensure_signing_key
from tests.conftest import broker_environ

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 6
T = TypeVar("T")


def all_at_once(make: Callable[[], T]) -> list[T]:
    """`make()` in WORKERS threads, released together."""
    start = threading.Barrier(WORKERS)

    def run() -> T:
        start.wait()
        return make()

    with ThreadPoolExecutor(WORKERS) as pool:
        return [future.result() for future in [pool.submit(run) for _ in range(WORKERS)]]


def _public_numbers(pair: KeyPair) -> tuple[object, object]:
    key = serialization.load_pem_private_key(pair.key_pem, password=None)
    cert = x509.load_pem_x509_certificate(pair.cert_pem)
    return key.public_key().public_numbers(), cert.public_key().public_numbers()


def test_threads_generating_a_key_pair_into_one_fresh_folder_all_get_the_same(tmp_path: Path) -> None:
    folder = tmp_path / "saml"
    pairs = all_at_once(lambda: ensure_key_pair(folder, "sp", "eh-broker development"))
    assert len({(pair.key_pem, pair.cert_pem) for pair in pairs}) == 1
    first = pairs[0]
    assert (first.key_pem, first.cert_pem) == (
        (folder / "sp-key.pem").read_bytes(),
        (folder / "sp-cert.pem").read_bytes(),
    )
    key_numbers, cert_numbers = _public_numbers(first)
    assert key_numbers == cert_numbers, "the certificate is the key's"
    assert (folder / "sp-key.pem").stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in folder.iterdir()) == ["sp-cert.pem", "sp-key.pem"], (
        "no temporary file is left"
    )


def test_threads_generating_a_signing_key_into_one_fresh_folder_all_get_the_same(tmp_path: Path) -> None:
    for name, alg in (("rs256.pem", "RS256"), ("es256.pem", "ES256")):
        keys = all_at_once(lambda name=name, alg=alg: ensure_signing_key(tmp_path / "oidc" / name, alg))
        assert set(keys) == {(tmp_path / "oidc" / name).read_bytes()}
    assert sorted(p.name for p in (tmp_path / "oidc").iterdir()) == ["es256.pem", "rs256.pem"]


# One worker's start-up: ready once imported, then its settings from the fresh instance folder
# as soon as `go` appears.
WORKER = """
import hashlib, json, sys, time
from pathlib import Path
from config import load_settings

go = Path(sys.argv[1])
Path(sys.argv[2]).touch()
while not go.exists():
    time.sleep(0.002)
settings = load_settings(json.loads(sys.argv[3]))
print(json.dumps({
    "secret": settings.secret_key,
    "salt": settings.oidc.subject_salt.decode(),
    "saml": hashlib.sha256(settings.saml.key.key_pem + settings.saml.key.cert_pem).hexdigest(),
    "oidc": [hashlib.sha256(key.key_pem).hexdigest() for key in settings.oidc.signing_keys],
}))
"""


def test_worker_processes_starting_at_once_on_a_fresh_instance_agree(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    environ = json.dumps(broker_environ(instance, BROKER_ENV="development"))
    go, ready = tmp_path / "go", [tmp_path / f"ready-{n}" for n in range(3)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(go), str(flag), environ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + 30
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    seen = []
    for worker in workers:
        out, errors = worker.communicate(timeout=60)
        assert worker.returncode == 0, errors
        seen.append(json.loads(out))
    assert all(view == seen[0] for view in seen), "every worker has the same keys, secret and salt"
    assert (instance / "secret_key").read_text().strip() == seen[0]["secret"]
