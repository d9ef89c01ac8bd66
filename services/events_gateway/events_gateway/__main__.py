"""`python -m events_gateway`: the gateway's server."""

from events_gateway.server import main

main()
