"""GitHub webhooks: the intake endpoint, signatures and deduplication of deliveries."""
