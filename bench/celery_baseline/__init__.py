"""The seed's proposal (sections 5-6): FastAPI + Celery on a Redis broker + Redis pub/sub SSE.

Built as the seed sketches it, to be measured against our stack by
`bench/submit_to_running.py`: the API inserts the run as `queued` and enqueues a Celery
task; a worker sets the same row to `running` and PUBLISHes progress on
`run:{id}:events`; the SSE endpoint subscribes, sends the row's status, then relays.
"""
