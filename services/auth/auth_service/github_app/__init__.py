"""The GitHub App for other apps: endpoints (Dapr only), service (tokens, permissions), schemas."""
