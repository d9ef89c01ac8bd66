"""Benchmarks: each prints ours against a baseline measured in the same run."""
