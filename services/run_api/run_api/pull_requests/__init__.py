"""Pull-request requests: endpoints (HTTP), service (rules), schemas; the table is the store's."""
