"""Git: the shared mirrors and per-run worktrees, and their retention."""
