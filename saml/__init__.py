"""eh-broker's SAML 2.0 service provider for eHerkenning.

Takes bytes and settings, returns values or raises `SamlError`; nothing here knows Flask or
the database.
"""

from saml.errors import Reason, SamlError, StatusError
from saml.identifiers import IdentifierType
from saml.identity import EherkenningIdentity, Identifier
from saml.loa import LevelOfAssurance

__all__ = [
    "EherkenningIdentity",
    "Identifier",
    "IdentifierType",
    "LevelOfAssurance",
    "Reason",
    "SamlError",
    "StatusError",
]
