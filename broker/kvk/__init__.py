"""The KvK Handelsregister API, as far as the broker reads it: a company's establishments and one
establishment's profile. HTTP and JSON in, `RegisteredEstablishment` values or `KvkError` out."""

from broker.kvk.answers import parse_establishments, parse_profile
from broker.kvk.client import KvkClient, KvkReply, KvkTransport, requests_transport
from broker.kvk.errors import KvkError, KvkFailure

__all__ = [
    "KvkClient",
    "KvkError",
    "KvkFailure",
    "KvkReply",
    "KvkTransport",
    "parse_establishments",
    "parse_profile",
    "requests_transport",
]
