"""How long every service keeps an idle HTTP connection open: longer than its sidecar does.

daprd's app channel is Go's default transport, which drops a connection idle for 90 s.
uvicorn's own default (5 s) closed idle connections first, so a request daprd sent on one
just as uvicorn closed it failed with "connection reset by peer"; Go retries only
idempotent requests, so a submission answered 503. With the app waiting longer than the
client, the client always closes first.
"""

from __future__ import annotations

# Seconds; daprd's app channel closes idle connections at 90 (Go's DefaultTransport).
APP_KEEP_ALIVE_SECONDS = 120
