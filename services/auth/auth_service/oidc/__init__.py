"""The local OIDC issuer: endpoints (discovery, keys, sign-in), service (signing), schemas."""
