"""agent-runner metrics the alerts use: queue depth and run duration (OpenTelemetry)."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

_meter = metrics.get_meter("dursor.agent_runner")
_run_duration = _meter.create_histogram(
    "dursor.run.duration", unit="s", description="Wall-clock time of one attempt of a run"
)


class QueueDepth:
    """Queued runs as last counted by the reaper, exported as an observable gauge."""

    def __init__(self) -> None:
        self.value = 0
        _meter.create_observable_gauge(
            "dursor.runs.queued", callbacks=[self._observe], description="Runs waiting for a worker"
        )

    def _observe(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.value)]


def record_run_duration(seconds: float, executor: str, status: str) -> None:
    """One finished attempt."""
    _run_duration.record(seconds, {"executor": executor, "status": status})
