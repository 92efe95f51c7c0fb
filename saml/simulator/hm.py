"""The simulator's own identity as an HM: entityID, signing key, endpoints, and its metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree
from lxml.builder import ElementMaker

from config import Binding, KeyPair
from saml import signature
from saml.hm_metadata import source_id
from saml.keys import certificate_base64, key_name
from saml.xml import NS, format_instant, new_id

_MD = ElementMaker(namespace=NS["md"], nsmap={"md": NS["md"], "ds": NS["ds"]})
_DS = ElementMaker(namespace=NS["ds"])
METADATA_VALIDITY = timedelta(days=7)


@dataclass(frozen=True)
class SimulatorHm:
    """The simulated HM. One SSO URL serves HTTP-POST and HTTP-Redirect alike."""

    entity_id: str
    key: KeyPair
    sso_url: str
    ars_url: str

    @property
    def source_id(self) -> bytes:
        return source_id(self.entity_id)

    def metadata(self, now: datetime) -> bytes:
        """Signed IdP metadata: signing key, SSO for POST and Redirect, artifact resolution over SOAP."""
        idp = _MD.IDPSSODescriptor(
            _MD.KeyDescriptor(
                _DS.KeyInfo(
                    _DS.KeyName(key_name(self.key.cert_pem)),
                    _DS.X509Data(_DS.X509Certificate(certificate_base64(self.key.cert_pem))),
                ),
                use="signing",
            ),
            _MD.ArtifactResolutionService(
                Binding=Binding.SOAP, Location=self.ars_url, index="0", isDefault="true"
            ),
            _MD.SingleSignOnService(Binding=Binding.POST, Location=self.sso_url),
            _MD.SingleSignOnService(Binding=Binding.REDIRECT, Location=self.sso_url),
            WantAuthnRequestsSigned="true",
            protocolSupportEnumeration=NS["samlp"],
        )
        entity = _MD.EntityDescriptor(
            idp,
            ID=new_id(),
            entityID=self.entity_id,
            validUntil=format_instant(now + METADATA_VALIDITY),
        )
        signature.sign(entity, self.key)
        return etree.tostring(entity, xml_declaration=True, encoding="UTF-8")
