"""Runs: endpoints (HTTP), service (rules and limits), repository (run-api's SQL), schemas."""
