"""The shared verifier's rules, against in-memory issuers (JWKS served by a mock transport)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from dursor_kit.auth.bindings import BindingCache
from dursor_kit.auth.verifier import Binding, IssuerPolicy, Role, TokenVerifier
from dursor_kit.errors import ProblemError

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
    bound: dict[str, Role | Binding] | None = None,
    live_tokens: dict[str, Binding] | set[str] | None = None,
    leeway: int = 30,
) -> TokenVerifier:
    """A verifier over in-memory issuers, bindings and API-token states (owner: admin)."""

    async def binding_of(_: str, subject: str) -> Binding | None:
        found = (bound or {}).get(subject)
        return Binding(found) if isinstance(found, Role) else found

    async def owner(jti: str) -> Binding | None:
        if isinstance(live_tokens, dict):
            return live_tokens.get(jti)
        return Binding(Role.ADMIN) if jti in (live_tokens or set()) else None

    http = httpx.AsyncClient(transport=transport(issuers, calls))
    return TokenVerifier(
        policies, http, binding_lookup=binding_of, api_token_owner=owner, leeway_seconds=leeway
    )


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
    check = verifier([entra], [policy(entra)], [], bound={"u1": Binding(Role.VIEWER, pinned=False)})
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


async def test_an_admin_binding_caps_the_role_a_token_claims() -> None:
    local = Issuer(LOCAL, "l1")
    check = verifier(
        [local],
        [policy(local)],
        [],
        bound={
            "demoted": Role.VIEWER,
            "promoted": Role.ADMIN,
            "seen": Binding(Role.VIEWER, pinned=False),
        },
    )
    assert (await check.verify(local.token(sub="demoted", roles=["developer"]))).role is Role.VIEWER
    # A binding never raises a role above what the token itself grants.
    assert (await check.verify(local.token(sub="promoted", roles=["viewer"]))).role is Role.VIEWER
    # A row recorded at first sight (no Admin set it) leaves the issuer's role in charge.
    assert (await check.verify(local.token(sub="seen", roles=["developer"]))).role is (
        Role.DEVELOPER
    )
    # No row at all: the token's own role stands (tokens of other issuers, tests' tokens).
    assert (await check.verify(local.token(sub="nobody", roles=["developer"]))).role is (
        Role.DEVELOPER
    )


async def test_a_disabled_user_is_refused_with_every_kind_of_token() -> None:
    local = Issuer(LOCAL, "l1")
    disabled = Binding(Role.ADMIN, disabled=True)
    check = verifier(
        [local], [policy(local)], [], bound={"gone": disabled}, live_tokens={"t-gone": disabled}
    )
    assert "disabled" in await refused(
        lambda: check.verify(local.token(sub="gone", roles=["admin"]))
    )
    api = local.token(sub="gone", roles=["viewer"], token_use="api", jti="t-gone")
    assert "disabled" in await refused(lambda: check.verify(api))


async def test_an_api_token_is_capped_by_its_owner_even_when_no_admin_pinned_the_role() -> None:
    local = Issuer(LOCAL, "l1")
    owners = {"t-1": Binding(Role.VIEWER, pinned=False)}
    check = verifier([local], [policy(local)], [], live_tokens=owners)
    principal = await check.verify(
        local.token(sub="e-user", roles=["developer"], token_use="api", jti="t-1")
    )
    assert (principal.role, principal.api_token_id) == (Role.VIEWER, "t-1")
    assert await check.still_allowed(principal)
    owners["t-1"] = Binding(Role.VIEWER, disabled=True)
    assert not await check.still_allowed(principal)
    del owners["t-1"]
    assert not await check.still_allowed(principal)


async def test_the_binding_cache_asks_once_per_identity_and_period() -> None:
    asked: list[str] = []
    bindings = {"u1": Binding(Role.DEVELOPER)}

    async def lookup(_: str, subject: str) -> Binding | None:
        asked.append(subject)
        await asyncio.sleep(0.05)
        return bindings.get(subject)

    cache = BindingCache(lookup, ttl_seconds=0.3)
    first = await asyncio.gather(*(cache(LOCAL, "u1") for _ in range(20)))
    assert first == [Binding(Role.DEVELOPER)] * 20
    assert await cache(LOCAL, "nobody") is None
    assert await cache(LOCAL, "nobody") is None
    assert asked == ["u1", "nobody"]
    bindings["u1"] = Binding(Role.VIEWER)
    assert await cache(LOCAL, "u1") == Binding(Role.DEVELOPER)  # still within the period
    await asyncio.sleep(0.35)
    assert await cache(LOCAL, "u1") == Binding(Role.VIEWER)
    assert asked == ["u1", "nobody", "u1"]


async def test_a_caller_that_goes_away_does_not_fail_the_others_waiting_for_the_same_lookup() -> (
    None
):
    release = asyncio.Event()

    async def lookup(_: str, __: str) -> Binding | None:
        await release.wait()
        return Binding(Role.VIEWER)

    cache = BindingCache(lookup, ttl_seconds=10)
    leader = asyncio.create_task(cache(LOCAL, "u1"))
    await asyncio.sleep(0)
    follower = asyncio.create_task(cache(LOCAL, "u1"))
    await asyncio.sleep(0)
    leader.cancel()
    release.set()
    assert await follower == Binding(Role.VIEWER)


async def test_with_entra_an_admin_binding_caps_the_app_role_and_a_recorded_row_does_not() -> None:
    entra = Issuer(ENTRA, "e1")
    bound: dict[str, Role | Binding] = {
        "capped": Role.VIEWER,
        "recorded": Binding(Role.VIEWER, pinned=False),
    }
    check = verifier([entra], [policy(entra)], [], bound=bound)
    capped = await check.verify(entra.token(sub="capped", roles=["Admin"]))
    recorded = await check.verify(entra.token(sub="recorded", roles=["Admin"]))
    assert (capped.role, recorded.role) == (Role.VIEWER, Role.ADMIN)


def _decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts every full signature check the verifiers make."""
    calls: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        if (kwargs.get("options") or {}).get("verify_signature", True):
            calls.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return calls


async def test_a_verified_token_is_served_from_the_cache_until_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local = Issuer(LOCAL, "k1")
    check = verifier([local], [policy(local)], [], leeway=0)
    decodes = _decodes(monkeypatch)
    expires = int(time.time()) + 2
    token = local.token(roles=["developer"], exp=expires)
    for _ in range(5):
        assert (await check.verify(token)).role is Role.DEVELOPER
    assert len(decodes) == 1
    await asyncio.sleep(expires - time.time() + 0.05)
    # Past `exp` the entry is gone, and the full check refuses the token.
    assert "expired" in await refused(lambda: check.verify(token))
    assert len(decodes) == 2
    assert len(check.verified) == 0


async def test_a_cached_api_token_stops_working_at_once_when_revoked() -> None:
    local = Issuer(LOCAL, "k1")
    live = {"t-1": Binding(Role.DEVELOPER)}
    check = verifier([local], [policy(local)], [], live_tokens=live)
    token = local.token(roles=["developer"], token_use="api", jti="t-1")
    assert (await check.verify(token)).role is Role.DEVELOPER
    assert len(check.verified) == 1
    live["t-1"] = Binding(Role.VIEWER)  # its owner demoted: the cap applies on the next call
    assert (await check.verify(token)).role is Role.VIEWER
    del live["t-1"]  # revoked
    assert "revoked" in await refused(lambda: check.verify(token))


async def test_a_cached_token_still_follows_its_users_binding_within_its_period() -> None:
    local = Issuer(LOCAL, "k1")
    bound: dict[str, Role | Binding] = {"u1": Role.ADMIN}
    check = verifier([local], [policy(local)], [], bound=bound)
    token = local.token(roles=["admin"])
    assert (await check.verify(token)).role is Role.ADMIN
    bound["u1"] = Binding(Role.ADMIN, disabled=True)
    assert "disabled" in await refused(lambda: check.verify(token))


async def test_a_tampered_token_is_never_served_from_the_cache() -> None:
    local = Issuer(LOCAL, "k1")
    check = verifier([local], [policy(local)], [])
    token = local.token(roles=["viewer"])
    assert (await check.verify(token)).role is Role.VIEWER
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    forged = jwt.utils.base64url_encode(json.dumps(claims | {"roles": ["admin"]}).encode())
    for tampered in (
        f"{header}.{forged.decode()}.{signature}",
        f"{header}.{payload}.{signature[:-4]}AAAA",
        f"{header}.{payload}.",
    ):
        assert "invalid" in await refused(lambda t=tampered: check.verify(t))  # type: ignore[misc]
    assert len(check.verified) == 1  # refused tokens are never remembered


async def test_an_entry_lives_no_longer_than_the_keys_it_was_checked_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local = Issuer(LOCAL, "k1")
    calls: list[str] = []
    check = verifier([local], [policy(local, keys_ttl_seconds=1.0)], calls)
    token = local.token(roles=["viewer"], exp=int(time.time()) + 3600)
    assert (await check.verify(token)).role is Role.VIEWER
    real = time.monotonic
    local.kid = "k2"  # the issuer rotated: k1 is no longer in its JWKS
    monkeypatch.setattr(time, "monotonic", lambda: real() + 2)
    assert "unknown key" in await refused(lambda: check.verify(token))
    assert len(calls) == 2
