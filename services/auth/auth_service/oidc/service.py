"""The local OIDC issuer: signing keys from the secret store, JWKS, and token minting.

The first key of `jwt-signing-keys` signs; every listed key is published in the JWKS,
so rotation is: prepend a new key (new tokens use it, old ones still verify), later
remove the old one (its tokens are refused). Keys are re-read without a restart.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from dursor_kit.auth.verifier import API_TOKEN_USE, Role


@dataclass(frozen=True)
class SigningKey:
    """One RSA key with its id."""

    kid: str
    private_key: RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK."""
        jwk: dict[str, Any] = json.loads(
            jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key())
        )
        return jwk | {"kid": self.kid, "use": "sig", "alg": "RS256"}


def parse_signing_keys(document: str) -> list[SigningKey]:
    """Parse the secret's JSON list of `{kid, pem}`."""
    keys = []
    for entry in json.loads(document):
        private = serialization.load_pem_private_key(entry["pem"].encode(), password=None)
        if not isinstance(private, RSAPrivateKey):
            raise ValueError(f"signing key {entry['kid']} is not RSA")
        keys.append(SigningKey(entry["kid"], private))
    if not keys:
        raise ValueError("no signing keys")
    return keys


class LocalIssuer:
    """Mints RS256 tokens and publishes the keys that verify them."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        load_keys: Callable[[], Awaitable[str]],
        refresh_seconds: float,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self._audience = audience
        self._ttl = ttl_seconds
        self._load_keys = load_keys
        self._refresh_seconds = refresh_seconds
        self._keys: list[SigningKey] = []
        self._loaded_at = float("-inf")

    async def keys(self) -> list[SigningKey]:
        """Current keys, re-read from the secret store at most every `refresh_seconds`."""
        if time.monotonic() - self._loaded_at >= self._refresh_seconds or not self._keys:
            self._keys = parse_signing_keys(await self._load_keys())
            self._loaded_at = time.monotonic()
        return self._keys

    async def jwks(self) -> dict[str, Any]:
        """The JWKS document."""
        return {"keys": [k.public_jwk() for k in await self.keys()]}

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider metadata document."""
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "token_endpoint": f"{self.issuer}/v1/auth/token",
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        }

    async def mint(self, subject: str, username: str, role: Role) -> tuple[str, int]:
        """A signed access token and its lifetime in seconds."""
        token = await self._sign(subject, username, role, self._ttl, uuid.uuid4().hex, {})
        return token, self._ttl

    async def mint_api_token(
        self, subject: str, username: str, role: Role, token_id: str, lifetime_seconds: int
    ) -> str:
        """A personal API token: a JWT whose `jti` every service checks for revocation."""
        return await self._sign(
            subject, username, role, lifetime_seconds, token_id, {"token_use": API_TOKEN_USE}
        )

    async def _sign(
        self,
        subject: str,
        username: str,
        role: Role,
        lifetime: int,
        jti: str,
        extra: dict[str, Any],
    ) -> str:
        key = (await self.keys())[0]
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self._audience,
            "sub": subject,
            "preferred_username": username,
            "roles": [role.value],
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": jti,
            **extra,
        }
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
