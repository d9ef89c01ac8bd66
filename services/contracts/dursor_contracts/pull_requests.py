"""The vocabulary of a run's pull request: its state, its CI status and its feedback loop."""

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


class PrWork(StrEnum):
    """What a `pr-requested` message asks of agent-runner."""

    PUBLISH = "publish"  # push the branch, open or update the pull request
    LOOP = "loop"  # advance the feedback loop: send a waiting trigger, post due replies


class LoopTriggerKind(StrEnum):
    """What GitHub told that may become one turn of the feedback loop."""

    CI = "ci"  # the head commit's checks failed
    REVIEW = "review"  # a review asks for changes or mentions the bot
    COMMENT = "comment"  # a conversation comment mentions the bot


class LoopTriggerState(StrEnum):
    """Where one trigger of the feedback loop stands."""

    PENDING = "pending"  # waiting for the run's current turn (or the runner) to be free
    SENT = "sent"  # its turn was queued with what was gathered for the agent
    DONE = "done"  # its turn ended (and replies were posted where there were threads)
    CANCELLED = "cancelled"  # a green re-run, a newer head or a closed PR made it moot
    EXHAUSTED = "exhausted"  # CI still red after the last allowed round: a notice is due
    STOPPED = "stopped"  # the loop's stop was said on the pull request
