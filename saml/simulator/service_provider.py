"""Our SP as the simulator knows it, as an HM knows a DV from its metadata and the service catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from config import SamlSettings, Service
from saml.simulator.encryption import Recipient


@dataclass(frozen=True)
class ServiceProvider:
    """The SP's entityID, OIN, ACS, services and certificates (the first is encrypted for)."""

    entity_id: str
    oin: str
    acs_url: str
    certificates: tuple[bytes, ...]
    services: tuple[Service, ...]

    @classmethod
    def from_settings(
        cls, settings: SamlSettings, services: tuple[Service, ...], now: datetime
    ) -> ServiceProvider:
        """The SP our settings describe, offering `services`, with the certificates published at `now`."""
        return cls(
            entity_id=settings.entity_id,
            oin=settings.oin,
            acs_url=settings.acs_url,
            certificates=tuple(pair.cert_pem for pair in settings.keys_at(now)),
            services=services,
        )

    @property
    def recipient(self) -> Recipient:
        """Whom encrypted values are addressed to: the SP's current certificate."""
        return Recipient(self.entity_id, self.certificates[0])

    def service(self, index: int) -> Service | None:
        """The service with this AttributeConsumingServiceIndex, if the SP has one."""
        return next((s for s in self.services if s.index == index), None)

    def service_id(self, service: Service) -> str:
        """The ServiceID of `service`: `urn:etoegang:DV:<OIN>:services:<index>`."""
        return f"urn:etoegang:DV:{self.oin}:services:{service.index}"
