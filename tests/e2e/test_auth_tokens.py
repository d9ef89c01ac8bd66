"""Tokens through the gateway: local users and roles, API tokens, forged tokens, key rotation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dursor_kit.local_secrets import new_signing_keys
from dursor_kit.secret_names import ADMIN_PASSWORD, JWT_SIGNING_KEYS
from tests.conftest import PlatformFactory
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

FAST_KEYS = {
    "DURSOR_KEY_REFRESH_SECONDS": "1",
    "DURSOR_AUTH_JWKS_REFRESH_SECONDS": "1",
    "DURSOR_AUTH_JWKS_TTL_SECONDS": "2",
}


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, username: str, password: str) -> str:
    """A password token from the local issuer."""
    response = await client.post(
        "/v1/auth/token", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_admin_manages_users_and_roles_take_effect(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        admin = bearer(await platform.token())
        created = await client.post(
            "/v1/users",
            headers=admin,
            json={"username": "ada", "password": "a long enough password", "role": "developer"},
        )
        assert created.status_code == 201, created.text
        assert "password" not in created.text
        ada = bearer(await login(client, "ada", "a long enough password"))
        me = (await client.get("/v1/me", headers=ada)).json()
        forbidden = await client.post(
            "/v1/users",
            headers=ada,
            json={"username": "eve", "password": "a long enough password", "role": "admin"},
        )
        demoted = await client.put(
            f"/v1/users/{created.json()['id']}/role", headers=admin, json={"role": "viewer"}
        )
        after = (
            await client.get(
                "/v1/me", headers=bearer(await login(client, "ada", "a long enough password"))
            )
        ).json()
        listed = (await client.get("/v1/users", headers=admin)).json()["items"]
        wrong = await client.post(
            "/v1/auth/token", json={"username": "ada", "password": "not it at all"}
        )

    assert me["role"] == "developer"
    assert forbidden.status_code == 403
    assert demoted.json()["role"] == "viewer"
    assert after["role"] == "viewer"
    assert {u["username"] for u in listed} >= {"admin", "ada"}
    assert wrong.status_code == 401


async def test_api_tokens_are_scoped_and_revocation_is_immediate(platform: Platform) -> None:
    developer = bearer(platform.mint_token("developer", subject="dev-tokens"))
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        higher = await client.post(
            "/v1/tokens", headers=developer, json={"name": "too much", "role": "admin"}
        )
        created = await client.post(
            "/v1/tokens",
            headers=developer,
            json={"name": "ci", "role": "viewer", "expires_in_days": 7},
        )
        token = bearer(created.json()["token"])
        read = await client.get("/v1/repos", headers=token)
        write = await client.post("/v1/repos", headers=token, json={"url": "file:///tmp/x"})
        listed = (await client.get("/v1/tokens", headers=developer)).json()
        revoked = await client.delete(f"/v1/tokens/{created.json()['id']}", headers=developer)
        after = await client.get("/v1/repos", headers=token)

    assert higher.status_code == 403
    assert created.status_code == 201
    assert (read.status_code, write.status_code) == (200, 403)
    assert [t["name"] for t in listed] == ["ci"]
    assert "token" not in listed[0]
    assert revoked.status_code == 204
    assert after.status_code == 401
    assert "revoked" in after.json()["detail"]


def _foreign_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """A token MACed with the public key as the secret (the classic key-confusion attack)."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def attacks(platform: Platform) -> dict[str, str]:
    """Every forged or invalid token the suite must refuse."""
    key = json.loads(platform.secrets[JWT_SIGNING_KEYS])[0]
    issuer = f"http://127.0.0.1:{platform.auth_port}"
    now = int(time.time())
    good = {
        "iss": issuer,
        "aud": "dursor",
        "sub": "mallory",
        "roles": ["admin"],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    public_pem = (
        serialization.load_pem_private_key(key["pem"].encode(), None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    valid = platform.mint_token("viewer", subject="mallory")
    head, body, sig = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(good)}.",
        "HS256 with the public key": _hs256(good, public_pem, key["kid"]),
        "expired": platform.mint_token("admin", ttl=-600),
        "not yet valid": jwt.encode(
            good | {"nbf": now + 600, "iat": now + 600},
            key["pem"],
            algorithm="RS256",
            headers={"kid": key["kid"]},
        ),
        "wrong issuer": jwt.encode(
            good | {"iss": "https://evil.example"},
            key["pem"],
            algorithm="RS256",
            headers={"kid": key["kid"]},
        ),
        "wrong audience": jwt.encode(
            good | {"aud": "other"}, key["pem"], algorithm="RS256", headers={"kid": key["kid"]}
        ),
        "unknown kid, foreign key": jwt.encode(
            good, _foreign_key_pem(), algorithm="RS256", headers={"kid": "rs-foreign"}
        ),
        "tampered payload": f"{head}.{_b64(claims | {'roles': ['admin']})}.{sig}",
        "second local issuer": jwt.encode(
            good, _foreign_key_pem(), algorithm="RS256", headers={"kid": key["kid"]}
        ),
    }


async def test_every_forged_or_invalid_token_is_refused_with_401(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        answers = {
            name: await client.get("/v1/me", headers=bearer(token))
            for name, token in attacks(platform).items()
        }
        direct = {
            name: await client.get(
                f"{platform.replica('run-api').url}/v1/repos", headers=bearer(token)
            )
            for name, token in attacks(platform).items()
        }
    assert {n: r.status_code for n, r in answers.items()} == dict.fromkeys(answers, 401)
    # Every service verifies again: calling run-api directly fails the same way.
    assert {n: r.status_code for n, r in direct.items()} == dict.fromkeys(direct, 401)
    assert all(r.headers["content-type"] == "application/problem+json" for r in answers.values())


async def test_signing_key_rotation_needs_no_restart(
    make_platform: PlatformFactory,
) -> None:
    platform = await make_platform(env=FAST_KEYS)
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        old_token = await platform.token()
        old = json.loads(platform.secrets[JWT_SIGNING_KEYS])
        new = json.loads(new_signing_keys())
        await rotate(platform, new + old)
        new_token = await wait_for_kid(platform, new[0]["kid"])
        both = [
            (await client.get("/v1/me", headers=bearer(t))).status_code
            for t in (new_token, old_token)
        ]
        await rotate(platform, new)
        await asyncio.sleep(3)  # the services' key cache lives 2 s here
        after = [
            (await client.get("/v1/me", headers=bearer(t))).status_code
            for t in (new_token, old_token)
        ]
    assert both == [200, 200]
    assert after == [200, 401]


async def rotate(platform: Platform, keys: list[dict[str, str]]) -> None:
    """Write the key list to the secret store and let the sidecars reload it.

    The local file store reads its file when it starts; a sidecar reloads on SIGHUP
    (its app keeps running). Key Vault, in Azure, is read on every request.
    """
    platform.add_secrets({JWT_SIGNING_KEYS: json.dumps(keys)})
    platform.reload_sidecars()


async def wait_for_kid(platform: Platform, kid: str) -> str:
    """Log in until the issuer signs with `kid`; returns that token."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            token = await platform.token()
        except httpx.HTTPStatusError:  # a sidecar reloading its secret store answers 503
            await asyncio.sleep(0.5)
            continue
        if jwt.get_unverified_header(token)["kid"] == kid:
            return token
        await asyncio.sleep(0.5)
    raise AssertionError("the issuer never started signing with the new key")


async def test_no_password_token_or_private_key_reaches_logs_or_responses(
    platform: Platform,
) -> None:
    secrets = [
        platform.secrets[ADMIN_PASSWORD],
        "another long password",
        "sk-model-key-never-shown",
    ]
    secrets += [k["pem"].splitlines()[2] for k in json.loads(platform.secrets[JWT_SIGNING_KEYS])]
    bodies: list[str] = []
    async with httpx.AsyncClient(base_url=platform.gateway.url, timeout=30) as client:
        admin_token = await platform.token()
        admin = bearer(admin_token)
        user = await client.post(
            "/v1/users",
            headers=admin,
            json={"username": "leaky", "password": "another long password", "role": "developer"},
        )
        token = await login(client, "leaky", "another long password")
        api = await client.post("/v1/tokens", headers=bearer(token), json={"name": "scan"})
        profile = await client.post(
            "/v1/model-profiles",
            headers=admin,
            json={
                "name": "scan",
                "provider": "openai",
                "model": "m",
                "api_key": "sk-model-key-never-shown",
            },
        )
        listed = await client.get("/v1/model-profiles", headers=admin)
        bad = await client.post(
            "/v1/auth/token", json={"username": "leaky", "password": "another long password!"}
        )
        bodies += [user.text, profile.text, listed.text, bad.text]
    tokens = [admin_token, token, api.json()["token"]]
    logs = "".join(r.logs() + r.daprd_log.read_text(errors="replace") for r in platform.replicas)
    assert [s for s in secrets + tokens if s in logs] == []
    assert [s for s in secrets + tokens if any(s in body for body in bodies)] == []
