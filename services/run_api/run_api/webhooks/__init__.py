"""Outgoing webhooks: Admins' endpoints, their signed deliveries and the delivery log."""
