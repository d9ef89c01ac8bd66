"""Payload contracts: what services and other teams exchange (pydantic models only)."""
