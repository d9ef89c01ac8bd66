"""The vocabulary of a run's pull request: its state and its CI status."""

from __future__ import annotations

from enum import StrEnum


class PullRequestState(StrEnum):
    """Where a run's pull request stands: requested here, then as GitHub reports it."""

    REQUESTED = "requested"
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"
    FAILED = "failed"


class CiStatus(StrEnum):
    """The combined CI outcome of a pull request's head commit."""

    UNKNOWN = "unknown"
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
