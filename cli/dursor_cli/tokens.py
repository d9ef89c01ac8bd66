"""What the CLI reads from a bearer token without verifying it (its expiry, for display)."""

from __future__ import annotations

import base64
import json


def expiry_of(token: str) -> float | None:
    """The `exp` claim of a JWT, or None when the token is opaque or has none."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None
