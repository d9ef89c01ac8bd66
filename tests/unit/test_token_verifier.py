"""The shared verifier's rules, against in-memory issuers (JWKS served by a mock transport)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from dursor_contracts.auth import IssuerPolicy, Role, TokenVerifier
from dursor_contracts.problems import ProblemError

ENTRA = "https://login.microsoftonline.com/tenant-1/v2.0"
LOCAL = "http://auth.local"


class Issuer:
    """A signing key pair and the JWKS that publishes it."""

    def __init__(self, issuer: str, kid: str) -> None:
        self.issuer = issuer
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWKS."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [jwk | {"kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def token(self, **claims: Any) -> str:
        """A signed token with sensible defaults."""
        now = int(time.time())
        body = {"iss": self.issuer, "aud": "dursor", "sub": "u1", "iat": now, "exp": now + 300}
        return jwt.encode(body | claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def transport(issuers: list[Issuer], calls: list[str]) -> httpx.MockTransport:
    """Serves each issuer's JWKS at <issuer>/jwks and counts fetches."""

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        for issuer in issuers:
            if str(request.url) == f"{issuer.issuer}/jwks":
                return httpx.Response(200, json=issuer.jwks())
        return httpx.Response(404)

    return httpx.MockTransport(handle)


def verifier(
    issuers: list[Issuer],
    policies: list[IssuerPolicy],
    calls: list[str],
    bound: dict[str, Role] | None = None,
    live_tokens: set[str] | None = None,
) -> TokenVerifier:
    """A verifier over in-memory issuers, bindings and API-token states."""

    async def role_of(_: str, subject: str) -> Role | None:
        return (bound or {}).get(subject)

    async def active(jti: str) -> bool:
        return jti in (live_tokens or set())

    http = httpx.AsyncClient(transport=transport(issuers, calls))
    return TokenVerifier(policies, http, role_lookup=role_of, api_token_active=active)


def policy(issuer: Issuer, **extra: Any) -> IssuerPolicy:
    """A policy reading the issuer's JWKS directly."""
    return IssuerPolicy(
        issuer=issuer.issuer, audience="dursor", jwks_url=f"{issuer.issuer}/jwks", **extra
    )


async def refused(check: Callable[[], Any]) -> str:
    """The 401 detail of a refused token."""
    with pytest.raises(ProblemError) as caught:
        await check()
    assert caught.value.status == 401
    return caught.value.detail or ""


async def test_entra_app_roles_and_groups_map_to_the_highest_role() -> None:
    entra = Issuer(ENTRA, "e1")
    check = verifier([entra], [policy(entra, group_roles={"g-admins": Role.ADMIN})], [])
    assert (await check.verify(entra.token(roles=["Viewer", "Developer"]))).role is Role.DEVELOPER
    assert (await check.verify(entra.token(roles=["Viewer"], groups=["g-admins"]))).role is (
        Role.ADMIN
    )


async def test_without_a_role_claim_the_binding_decides_and_none_means_401() -> None:
    entra = Issuer(ENTRA, "e1")
    check = verifier([entra], [policy(entra)], [], bound={"bound-user": Role.VIEWER})
    assert (await check.verify(entra.token(sub="bound-user"))).role is Role.VIEWER
    assert "no dursor role" in await refused(lambda: check.verify(entra.token(sub="nobody")))


async def test_a_role_name_the_tenant_does_not_define_grants_nothing() -> None:
    entra = Issuer(ENTRA, "e1")
    check = verifier([entra], [policy(entra)], [], bound={"u1": Role.VIEWER})
    # Unknown role names are ignored; the binding (viewer) stays the role.
    assert (await check.verify(entra.token(roles=["SuperAdmin", "root"]))).role is Role.VIEWER


async def test_with_entra_the_local_issuer_is_trusted_for_api_tokens_only() -> None:
    entra, local = Issuer(ENTRA, "e1"), Issuer(LOCAL, "l1")
    check = verifier(
        [entra, local], [policy(entra), policy(local, token_use="api")], [], live_tokens={"t-live"}
    )
    password_token = local.token(roles=["admin"])
    assert "only as API tokens" in await refused(lambda: check.verify(password_token))
    api = local.token(roles=["developer"], token_use="api", jti="t-live")
    assert (await check.verify(api)).role is Role.DEVELOPER
    revoked = local.token(roles=["developer"], token_use="api", jti="t-revoked")
    assert "revoked" in await refused(lambda: check.verify(revoked))


async def test_an_unknown_kid_refreshes_the_keys_at_most_once_per_interval() -> None:
    entra, calls = Issuer(ENTRA, "e1"), list[str]()
    check = verifier([entra], [policy(entra, refresh_interval_seconds=60)], calls)
    await check.verify(entra.token(roles=["viewer"]))
    rotated = Issuer(ENTRA, "e2")
    for _ in range(5):
        await refused(lambda: check.verify(rotated.token(roles=["viewer"])))
    assert len(calls) == 2  # the first fetch and one refresh for the unknown kid


async def test_only_asymmetric_algorithms_can_be_configured() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        IssuerPolicy(issuer=LOCAL, audience="dursor", algorithms=frozenset({"HS256"}))
