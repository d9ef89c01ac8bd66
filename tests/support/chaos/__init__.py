"""Chaos and soak machinery: a platform on private backing servers, load, faults, a ledger."""
