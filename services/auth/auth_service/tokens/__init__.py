"""API tokens: endpoints (HTTP), repository (SQL), schemas."""
