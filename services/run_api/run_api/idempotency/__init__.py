"""Idempotency keys: the middleware that replays answers, and its SQL."""
