"""The door: target checks, the front-door check, the route table, the proxy, rate limits."""
