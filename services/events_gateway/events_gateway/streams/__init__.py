"""Streams: SSE with exact resume, the in-process hub, catch-up, tickets, the group janitor."""
