"""Agents: the executors, their processes and jail (sandbox), homes, and provider credentials."""
