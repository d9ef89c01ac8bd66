"""Model profiles: endpoints (HTTP), service (sealing keys), repository (SQL), schemas."""
