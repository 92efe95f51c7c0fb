"""What goes to a client encrypted, when it asks: a signed ID token or userinfo answer as the
payload of a JWE to the key in its `jwks` (a nested JWT, OpenID Connect Core §16.14)."""

from __future__ import annotations

from joserfc import jwe
from joserfc.jwk import JWKRegistry

from config.clients import Client, Encryption, encryption_key


def encrypted_for(client: Client, encryption: Encryption, signed: str) -> str:
    """`signed` (a JWS) encrypted to `client`'s key for `encryption.alg`, checked as the file loaded."""
    assert client.jwks is not None  # the configuration requires keys with encryption
    registered = encryption_key(client.jwks, encryption.alg)
    assert registered is not None
    header = {"alg": encryption.alg, "enc": encryption.enc, "cty": "JWT"}
    if isinstance(registered.get("kid"), str):
        header["kid"] = registered["kid"]
    key = JWKRegistry.import_key(dict(registered))
    return jwe.encrypt_compact(header, signed, key, algorithms=[encryption.alg, encryption.enc])
