"""Dead letters: the endpoint Dapr delivers them to, and their SQL."""
