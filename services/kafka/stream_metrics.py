"""The stream processors' Prometheus metrics (``coldchain_excursions_*``, ``coldchain_eta_*``):
what each worker took in, what it published and what it had to skip. One registry per process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge
from structlog.contextvars import bound_contextvars

from schemas.reading_wire import ReadingLike
from schemas.topics import READINGS
from services.logs import ids_of_key

# Why a record was not processed: it did not parse; its readings are bound to no shipment;
# the processor could make nothing of it (lost history, an unknown product).
SKIP_REASONS = ("unreadable", "unbound", "not_processed")


@dataclass
class StreamMetrics:
    service: str  # "excursions": the metrics are coldchain_excursions_*
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        prefix = f"coldchain_{self.service}"
        self.records = Counter(f"{prefix}_records_processed", "Kafka records taken in, by topic", ["topic"],
                               registry=self.registry)
        self.readings = Counter(f"{prefix}_readings_processed", "Readings taken in", registry=self.registry)
        self.emitted = Counter(f"{prefix}_events_emitted", "Events published, by topic", ["topic"],
                               registry=self.registry)
        self.skipped = Counter(f"{prefix}_records_skipped", "Records not processed, by reason", ["reason"],
                               registry=self.registry)
        for reason in SKIP_REASONS:
            self.skipped.labels(reason)

    def skip(self, reason: str) -> None:
        self.skipped.labels(reason).inc()


@dataclass
class HoldingStreamMetrics(StreamMetrics):
    """A processor that holds readings until their shipment's record arrives (ETA)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        prefix = f"coldchain_{self.service}"
        self.held = Gauge(f"{prefix}_readings_held", "Readings held until their shipment is known",
                          registry=self.registry)
        self.dropped = Counter(f"{prefix}_readings_dropped", "Held readings dropped (the hold is bounded)",
                               registry=self.registry)


def counted_readings(decode: Callable[[bytes], Sequence[ReadingLike]], raw: bytes, key: str | None,
                     counts: StreamMetrics) -> Sequence[ReadingLike]:
    """A ``coldchain.readings`` record's readings, counted; none (counted as skipped) when it
    does not parse or is bound to no shipment. A decoder's warning names the record's key
    (its shipment, or ``device:ID``)."""
    counts.records.labels(READINGS.name).inc()
    with bound_contextvars(**ids_of_key(key)):
        readings = decode(raw)
    if not readings:
        counts.skip("unreadable")
        return []
    if readings[0].shipment_id is None:
        counts.skip("unbound")
        return []
    counts.readings.inc(len(readings))
    return readings
