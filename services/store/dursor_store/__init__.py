"""The shared tables and their lifecycles: schema, runs, pull requests, outbox, event log."""
