"""Runtime plumbing every service shares: web app, sidecar, database, settings, telemetry."""
