"""Pull requests: Dapr deliveries, pushing and opening (publisher), CI status, PR text, GitHub."""
