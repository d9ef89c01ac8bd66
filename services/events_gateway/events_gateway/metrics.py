"""Gateway metrics: open streams, events delivered, replay sizes, dropped slow clients.

Kept as plain counters (cheap on the hot path) and exported through OpenTelemetry
observable instruments, so Azure Monitor or OTLP receive them like any other metric.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation


@dataclass
class Counter:
    """A monotonically increasing count."""

    value: int = 0

    def add(self, amount: int) -> None:
        """Increase by `amount`."""
        self.value += amount


@dataclass
class GatewayMetrics:
    """Counters of one gateway replica."""

    open_streams: Counter = field(default_factory=Counter)
    closed_streams: Counter = field(default_factory=Counter)
    events_delivered: Counter = field(default_factory=Counter)
    events_replayed: Counter = field(default_factory=Counter)
    replays: Counter = field(default_factory=Counter)
    dropped_slow_clients: Counter = field(default_factory=Counter)
    live_messages: Counter = field(default_factory=Counter)
    gaps_filled: Counter = field(default_factory=Counter)

    def snapshot(self) -> dict[str, int]:
        """Every counter by name; `open_streams` is the number open now."""
        values = {name: getattr(self, name).value for name in self.__dataclass_fields__}
        values["open_streams"] -= values.pop("closed_streams")
        return values

    def export(self) -> None:
        """Register observable instruments that read these counters."""
        meter = metrics.get_meter("dursor.events_gateway")
        meter.create_observable_gauge(
            "dursor.sse.open_streams", callbacks=[self._observe("open_streams")]
        )
        for name in (
            "events_delivered",
            "events_replayed",
            "dropped_slow_clients",
            "live_messages",
            "gaps_filled",
            "replays",
        ):
            meter.create_observable_counter(f"dursor.sse.{name}", callbacks=[self._observe(name)])

    def _observe(self, name: str):  # type: ignore[no-untyped-def]
        def callback(_: CallbackOptions) -> Iterable[Observation]:
            return [Observation(self.snapshot()[name])]

        return callback
