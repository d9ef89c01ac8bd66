"""dursor: the command-line client of dursor cloud (the gateway's REST + SSE API only)."""
