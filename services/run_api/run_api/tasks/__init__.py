"""Tasks: endpoints (HTTP), repository (SQL), schemas."""
