"""GitHub webhooks' meaning: endpoints (from the gateway), service, schemas, write access."""
