"""Plain-data views of a planned fleet: the truth file and the dry-run rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from devtools.simulate.fleet import ExpectedExcursion, PublicationTally, SimShipment


def route_text(shipment: SimShipment) -> str:
    codes = [shipment.itinerary.segments[0].origin.code]
    for segment in shipment.itinerary.segments:
        if segment.kind != "hold" and segment.to.code != codes[-1]:
            codes.append(segment.to.code)
    return ">".join(codes)


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def excursion_record(expected: ExpectedExcursion) -> dict[str, Any]:
    return {
        "device_id": expected.device_id,
        "kind": expected.kind,
        "severity": expected.severity,
        "start": _time(expected.start),
        "end": _time(expected.end),
        "tolerance_s": expected.tolerance.total_seconds(),
        "peak_c": expected.peak_c,
        "cause": expected.cause,
    }


def truth_record(shipment: SimShipment, tally: PublicationTally | None = None) -> dict[str, Any]:
    """One shipment as JSON-ready data: registration, devices, truth, itinerary, counts."""
    truth = shipment.truth
    record: dict[str, Any] = {
        "id": shipment.id,
        "scenario": shipment.scenario,
        "route": route_text(shipment),
        "registration": shipment.registration.model_dump(mode="json", exclude_none=True),
        "devices": [
            {
                "device_id": t.device_id,
                "topic": t.topic,
                "format": t.payload_format,
                "interval_s": t.interval.total_seconds(),
                "clock_skew_s": round(t.clock_skew_s, 1),
            }
            for t in shipment.trackers
        ],
        "truth": {
            "arrived_at": _time(truth.arrived_at),
            "deliver_by": _time(truth.deliver_by),
            "late": truth.late,
            "at_risk": truth.at_risk,
            "viability_used_h": truth.viability_used_h,
            "box_min_c": truth.box_min_c,
            "box_max_c": truth.box_max_c,
            "excursions": [excursion_record(e) for e in truth.excursions],
        },
        "itinerary": [
            {
                "label": s.label,
                "kind": s.kind,
                "start": _time(s.start),
                "end": _time(s.end),
                "ambient_c": round(s.ambient_c, 1),
            }
            for s in shipment.itinerary.segments
        ],
    }
    if tally is not None:
        record["publications"] = {
            "messages": tally.messages,
            "malformed": tally.malformed,
            "duplicates": tally.duplicates,
            "repeated_samples": tally.repeated_samples,
            "batches": tally.batches,
            "readings": tally.readings,
        }
    return record
