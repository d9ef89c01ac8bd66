"""Run submissions: tasks and runs asked for by a trusted integration app over pub/sub."""
