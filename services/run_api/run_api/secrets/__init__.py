"""Repository secrets: write-only, sealed, injected where each says."""
