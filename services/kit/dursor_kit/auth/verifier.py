"""Bearer-token verification shared by every service (defence in depth, not only the edge).

Only asymmetric algorithms, pinned per issuer; issuer, audience, expiry and not-before
checked with a small clock skew; keys from the issuer's JWKS (found through its OIDC
discovery document), cached, with one rate-limited refresh when an unknown `kid` shows
up (key rotation). The local issuer (the auth service) and Entra ID go through the same
path: services tell them apart only by issuer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
import jwt
import structlog

from dursor_kit.auth.verified_tokens import VerifiedToken, VerifiedTokens
from dursor_kit.errors import ProblemError

log = structlog.get_logger(__name__)

ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"})
REFRESH_MIN_INTERVAL_SECONDS = 30.0
JWKS_TTL_SECONDS = 300.0


class Role(StrEnum):
    """What a caller may do: Viewer reads, Developer runs, Admin administers."""

    VIEWER = "viewer"
    DEVELOPER = "developer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Order of privilege: a higher rank includes every lower one."""
        return (Role.VIEWER, Role.DEVELOPER, Role.ADMIN).index(self)

    def allows(self, needed: Role) -> bool:
        """True when this role includes `needed`."""
        return self.rank >= needed.rank


ROLE_NAMES = {"admin": Role.ADMIN, "developer": Role.DEVELOPER, "viewer": Role.VIEWER}


@dataclass(frozen=True)
class Principal:
    """The verified caller of a request."""

    subject: str
    issuer: str
    username: str
    role: Role
    # The `jti` of a personal API token; None for password and Entra tokens.
    api_token_id: str | None = None

    @property
    def owner_key(self) -> str:
        """A stable identifier across issuers (issuer + subject)."""
        return f"{self.issuer}#{self.subject}"


def unauthorized(detail: str) -> ProblemError:
    """401 with the challenge RFC 6750 asks for."""
    return ProblemError(
        401,
        "unauthorized",
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="dursor"'},
    )


def forbidden(needed: Role) -> ProblemError:
    """403 for a verified caller whose role is too low."""
    return ProblemError(403, "forbidden", "Forbidden", f"this needs the {needed.value} role")


@dataclass(frozen=True)
class Binding:
    """What the users table says about an identity now: its role, and whether it may act."""

    role: Role
    disabled: bool = False
    # Set by an Admin (not merely recorded at first sight): caps every token's role.
    pinned: bool = True


# (issuer, subject) -> the identity's binding, or None when it has none.
BindingLookup = Callable[[str, str], Awaitable[Binding | None]]
# API token id -> its owner's binding while the token is live (not revoked, not expired).
ApiTokenLookup = Callable[[str], Awaitable[Binding | None]]
API_TOKEN_USE = "api"  # noqa: S105 - a claim value, not a secret


@dataclass(frozen=True)
class IssuerPolicy:
    """What tokens of one issuer must look like to be accepted."""

    issuer: str
    audience: str
    algorithms: frozenset[str] = frozenset({"RS256"})
    jwks_url: str | None = None
    discovery_url: str | None = None
    # Entra ID: security-group object id -> role, for tenants that use groups.
    group_roles: Mapping[str, Role] = field(default_factory=dict)
    # When set, only tokens whose `token_use` claim equals it (e.g. "api" for personal
    # API tokens of the local issuer when users sign in with Entra ID).
    token_use: str | None = None
    # An unknown `kid` refreshes the JWKS at most this often (key rotation) …
    refresh_interval_seconds: float = REFRESH_MIN_INTERVAL_SECONDS
    # … and known keys are re-read this often, so a removed key stops verifying.
    keys_ttl_seconds: float = JWKS_TTL_SECONDS

    def __post_init__(self) -> None:
        if not self.algorithms or not self.algorithms <= ASYMMETRIC_ALGORITHMS:
            raise ValueError(f"issuer {self.issuer}: only asymmetric algorithms are allowed")


class JwksCache:
    """Signing keys of one issuer: re-read when stale, and on an unknown `kid` at most
    once per refresh interval (so forged kids cannot make us hammer the issuer)."""

    def __init__(self, policy: IssuerPolicy, http: httpx.AsyncClient) -> None:
        self._policy = policy
        self._http = http
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._forced_at = float("-inf")
        self._lock = asyncio.Lock()

    def _stale(self) -> bool:
        return time.monotonic() - self._fetched_at >= self._policy.keys_ttl_seconds

    async def key(self, kid: str) -> jwt.PyJWK:
        """The key with this id, fetching the JWKS when it is unknown or stale."""
        if kid in self._keys and not self._stale():
            return self._keys[kid]
        async with self._lock:
            if self._stale():
                await self._refresh()
            elif kid not in self._keys:
                await self._refresh_for_unknown_kid()
        if kid not in self._keys:
            raise unauthorized("the token is signed with an unknown key")
        return self._keys[kid]

    async def _refresh_for_unknown_kid(self) -> None:
        if time.monotonic() - self._forced_at < self._policy.refresh_interval_seconds:
            return
        self._forced_at = time.monotonic()
        await self._refresh()

    async def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            self._keys = await self._fetch()
        except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWKError) as exc:
            log.warning("jwks fetch failed", issuer=self._policy.issuer, error=repr(exc))

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        url = self._policy.jwks_url or await self._jwks_url_from_discovery()
        response = await self._http.get(url, timeout=5.0)
        response.raise_for_status()
        keys = jwt.PyJWKSet.from_dict(response.json()).keys
        return {k.key_id: k for k in keys if k.key_id}

    async def _jwks_url_from_discovery(self) -> str:
        url = self._policy.discovery_url or (
            f"{self._policy.issuer.rstrip('/')}/.well-known/openid-configuration"
        )
        response = await self._http.get(url, timeout=5.0)
        response.raise_for_status()
        jwks_uri: str = response.json()["jwks_uri"]
        return jwks_uri


class TokenVerifier:
    """Turns a bearer token into a `Principal`, or refuses it with a 401."""

    def __init__(
        self,
        policies: Sequence[IssuerPolicy],
        http: httpx.AsyncClient,
        binding_lookup: BindingLookup | None = None,
        leeway_seconds: int = 30,
        api_token_owner: ApiTokenLookup | None = None,
    ) -> None:
        self._policies = {p.issuer: p for p in policies}
        self._caches = {p.issuer: JwksCache(p, http) for p in policies}
        self._binding_lookup = binding_lookup
        self._leeway = leeway_seconds
        self._api_token_owner = api_token_owner
        self.verified = VerifiedTokens()

    async def verify(self, token: str) -> Principal:
        """Verify signature and claims; the role from claims or binding, capped by the binding."""
        digest = VerifiedTokens.key(token)
        known = self.verified.get(digest)
        if known is None:
            known = await self._verified(token)
            self.verified.remember(digest, known)
        issuer, claims = known.issuer, known.claims
        policy = self._policies[issuer]
        api_token_id, binding = await self._binding(claims, policy)
        return Principal(
            subject=str(claims["sub"]),
            issuer=issuer,
            username=str(claims.get("preferred_username") or claims.get("name") or claims["sub"]),
            role=_capped_role(claims, policy, binding, api_token=api_token_id is not None),
            api_token_id=api_token_id,
        )

    async def _verified(self, token: str) -> VerifiedToken:
        """The full check: trusted issuer, pinned algorithm, known key, signature, claims."""
        header, issuer = _unverified_header_and_issuer(token)
        policy = self._policies.get(issuer)
        if policy is None:
            raise unauthorized("the token's issuer is not trusted")
        algorithm = header.get("alg")
        if algorithm not in policy.algorithms:
            raise unauthorized("the token's algorithm is not allowed for its issuer")
        key = await self._caches[issuer].key(str(header.get("kid", "")))
        claims = self._decode(token, key, algorithm, policy)
        return VerifiedToken(
            issuer=issuer,
            claims=claims,
            expires_at=float(claims["exp"]),
            key_checked_until=time.monotonic() + policy.keys_ttl_seconds,
        )

    async def still_allowed(self, principal: Principal) -> bool:
        """False once the caller's user is disabled, or their API token revoked or expired."""
        try:
            binding = await self._current_binding(
                principal.issuer, principal.subject, principal.api_token_id
            )
        except ProblemError:
            return False
        return binding is None or not binding.disabled

    def _decode(
        self, token: str, key: jwt.PyJWK, algorithm: str, policy: IssuerPolicy
    ) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=policy.audience,
                issuer=policy.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise unauthorized("the token is not valid yet") from exc
        except jwt.InvalidTokenError as exc:
            raise unauthorized(f"the token is invalid: {type(exc).__name__}") from exc
        return claims

    async def _binding(
        self, claims: Mapping[str, Any], policy: IssuerPolicy
    ) -> tuple[str | None, Binding | None]:
        """The API token id (if it is one) and the binding that caps the token's role."""
        use = claims.get("token_use")
        if policy.token_use is not None and use != policy.token_use:
            raise unauthorized("this issuer's tokens are accepted only as API tokens")
        jti = claims.get("jti")
        if use == API_TOKEN_USE and not isinstance(jti, str):
            raise unauthorized("the API token cannot be checked")
        api_token_id = jti if use == API_TOKEN_USE and isinstance(jti, str) else None
        binding = await self._current_binding(policy.issuer, str(claims["sub"]), api_token_id)
        if binding is not None and binding.disabled:
            raise unauthorized("the user is disabled")
        return api_token_id, binding

    async def _current_binding(
        self, issuer: str, subject: str, api_token_id: str | None
    ) -> Binding | None:
        if api_token_id is not None:
            # Asked on every request, so a revocation (or its owner's change) is immediate.
            owner = await self._api_token_owner(api_token_id) if self._api_token_owner else None
            if owner is None:
                raise unauthorized("the API token was revoked or has expired")
            return owner
        if self._binding_lookup is None:
            return None
        return await self._binding_lookup(issuer, subject)


def _capped_role(
    claims: Mapping[str, Any], policy: IssuerPolicy, binding: Binding | None, api_token: bool
) -> Role:
    """The token's role, never above its user's current binding.

    A binding an Admin set caps every token; one recorded at first sight (an Entra user
    who made an API token) caps only that user's API tokens, and names the role of a
    token that carries none.
    """
    granted = roles_from_claims(claims, policy.group_roles)
    if not granted:
        if binding is None:
            raise unauthorized("the token grants no dursor role")
        return binding.role
    claimed = max(granted, key=lambda r: r.rank)
    if binding is not None and (binding.pinned or api_token):
        return min(claimed, binding.role, key=lambda r: r.rank)
    return claimed


def roles_from_claims(claims: Mapping[str, Any], group_roles: Mapping[str, Role]) -> list[Role]:
    """Roles named by the `roles` claim (Entra app roles) or mapped from `groups`."""
    names = claims.get("roles") or []
    roles = [ROLE_NAMES[n.lower()] for n in names if isinstance(n, str) and n.lower() in ROLE_NAMES]
    groups = claims.get("groups") or []
    roles += [group_roles[g] for g in groups if isinstance(g, str) and g in group_roles]
    return roles


def _unverified_header_and_issuer(token: str) -> tuple[dict[str, Any], str]:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise unauthorized("the token is malformed") from exc
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise unauthorized("the token has no issuer")
    return header, issuer


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header, or a 401."""
    if not authorization:
        raise unauthorized("a bearer token is required")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()
