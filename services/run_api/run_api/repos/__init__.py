"""Repositories: endpoints (HTTP), service (URL rules), repository (SQL), schemas."""
