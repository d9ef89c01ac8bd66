"""Usage and cost: per run, per task, per repository and per user."""
