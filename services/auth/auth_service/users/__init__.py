"""Users and their roles: endpoints (Admin only), service (rules), repository (SQL), schemas."""
