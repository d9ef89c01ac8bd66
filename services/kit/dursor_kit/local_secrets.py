"""Write the local secret-store file (secretstores.local.file): generated once, kept after."""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dursor_kit.local_database import database_secrets
from dursor_kit.secret_file import read_secrets, write_private
from dursor_kit.secret_names import APP_IDS, app_api_token


def new_rsa_pem() -> str:
    """A fresh 2048-bit RSA private key in PKCS#8 PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def new_keyring() -> str:
    """A key ring with one AES-256 key, as the JSON string `EncryptionKeyRing` reads."""
    key_id = f"k{secrets.token_hex(4)}"
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return json.dumps({"primary": key_id, "keys": {key_id: key}})


def new_signing_keys() -> str:
    """The local OIDC issuer's signing keys: the first signs, all verify."""
    return json.dumps([{"kid": f"rs-{secrets.token_hex(4)}", "pem": new_rsa_pem()}])


GENERATORS: dict[str, Callable[[], str]] = {
    "encryption-keys": new_keyring,
    "jwt-signing-keys": new_signing_keys,
    "admin-password": lambda: secrets.token_urlsafe(18),
    "github-webhook-secret": lambda: secrets.token_urlsafe(24),
    **{app_api_token(app): lambda: secrets.token_urlsafe(32) for app in APP_IDS},
}


def ensure_secrets(path: Path, overrides: dict[str, str]) -> dict[str, str]:
    """Fill in missing secrets (never replacing existing ones) and apply overrides."""
    current = read_secrets(path)
    for name, generate in GENERATORS.items():
        current.setdefault(name, generate())
    current.update(overrides)
    write_private(path, json.dumps(current, indent=2))
    return current


def main() -> None:
    """Entry point of the bootstrap: `python -m dursor_kit.local_secrets <file>`.

    With `DURSOR_DATABASE_URL` (the schema owner's URL) the file also gets the owner's
    and every service's connection string (see `dursor_kit.local_database`).
    """
    path = Path(sys.argv[1])
    overrides = {}
    if url := os.environ.get("DURSOR_DATABASE_URL"):
        overrides = database_secrets(url, read_secrets(path), os.environ.get("PGPASSFILE"))
    ensure_secrets(path, overrides)


if __name__ == "__main__":
    main()
