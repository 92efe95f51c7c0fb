"""The configuration the registers' tests sign in with: the tests' services and clients, and a few
that consult the registers kept beside eHerkenning."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

from flask import Flask

from broker import audit, models
from broker.extensions import db
from broker.models import audit as audit_store
from tests.clients import CLIENTS, SECRET, SERVICES, write_config
from tests.conftest import MovableClock, migrated_app

LOCAL_REQUIRED_UUID = "3c5e7a9b-1d2f-4a6b-8c0d-2e4f6a8b0c08"

REGISTER_SERVICES = f"""
  - slug: local-required
    uuid: {LOCAL_REQUIRED_UUID}
    index: 7
    minimum_loa: loa3
    local_mandate: required
    name: {{nl: Alleen met lokale machtiging, en: Local mandate required}}
  - slug: local-narrow
    uuid: 5e7a9c1d-3f4b-4c6d-8e0f-4a6b8c0d2e09
    index: 8
    minimum_loa: loa3
    local_mandate: narrow
    name: {{nl: Lokale machtiging beperkt, en: Local mandate narrows}}
  - slug: local-narrow-establishment
    uuid: 7a9c1e3f-5b6d-4e8f-8a2b-6c8d0e2f4a10
    index: 9
    minimum_loa: loa3
    local_mandate: narrow
    establishment: required
    name: {{nl: Lokale machtiging en vestiging, en: Local mandate and establishment}}
  - slug: hr-viewer
    uuid: 9c1e3a5b-7d8f-4a0b-8c4d-8e0f2a4b6c11
    index: 10
    minimum_loa: loa2plus
    profile: personal
    name: {{nl: Handelsregister-viewer, en: Trade register viewer}}
"""

REGISTER_CLIENTS = f"""
  - client_id: local-required
    service: local-required
    redirect_uris: [https://portal.test/callback]
    secret: {SECRET}
  - client_id: local-narrow
    service: local-narrow
    redirect_uris: [https://portal.test/callback]
    secret: {SECRET}
  - client_id: local-establishment
    service: local-narrow-establishment
    redirect_uris: [https://portal.test/callback]
    secret: {SECRET}
  - client_id: hr-viewer
    service: hr-viewer
    redirect_uris: [https://portal.test/callback]
    secret: {SECRET}
  - client_id: hr-viewer-2
    service: hr-viewer
    redirect_uris: [https://portal.test/callback]
    secret: {SECRET}
  - client_id: viewer-and-desk
    services: [hr-viewer, omgevingsloket]
    redirect_uris: [https://portal.test/callback]
    secret: {SECRET}
"""


def register_config(folder: Path) -> Path:
    """The tests' configuration file with the registers' services and clients added."""
    path = write_config(folder)
    path.write_text(SERVICES + REGISTER_SERVICES + CLIENTS + REGISTER_CLIENTS)
    return path


def register_app(instance: Path, clock: MovableClock) -> Flask:
    """A migrated app of its own on that configuration."""
    return migrated_app(instance, clock, BROKER_CONFIG=str(register_config(instance / "registers-config")))


def empty_registers(app: Flask) -> int:
    """Every register kept beside eHerkenning emptied; the audit trail's last seq so far."""
    with app.app_context():
        for table in (
            models.LocalMandateRow,
            models.OrganisationGroupMember,
            models.OrganisationGroupRow,
            models.SubjectLabel,
        ):
            db.session.execute(table.__table__.delete())
        db.session.commit()
        return audit_store.chain().seq


def changes_since(app: Flask, seq: int) -> list[dict[str, Any]]:
    """The audit trail's records after `seq`, oldest first, as `flask audit export` writes them."""
    with app.app_context(), closing(audit_store.records_up_to(audit_store.chain().seq)) as records:
        return [audit.exported(record) for record in records if record.seq > seq]
