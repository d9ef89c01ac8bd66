"""Runs: Dapr deliveries (endpoints), claims and leases, the dispatcher, one attempt, the reaper."""
