"""The shipment as a GS1 EPCIS 2.0 JSON-LD document: the report model in, a dict out.

What is in it (docs/auditors.md has the full description):

- an ``ObjectEvent`` for each thing the route shows (services/reports/route_events.py):
  ``shipping`` at the origin (disposition ``in_transit``), ``departing`` / ``arriving`` at
  waypoints (``in_transit``), ``receiving`` at the destination (``in_progress``);
- a ``sensor_reporting`` ``ObjectEvent`` per device per segment (each leg, and each stay at
  a stop), whose ``sensorElementList`` holds ``sensorMetadata`` (time span, ``deviceID``,
  ``rawData``: the readings of that span as CSV from the API, ``dataProcessingMethod``)
  and one ``sensorReport`` per measurement: ``Temperature`` (uom ``CEL``) and
  ``RelativeHumidity`` (uom ``A93``), each with ``minValue``, ``maxValue``, ``meanValue``
  computed by services/reports/statistics.py, the same function the PDF's table uses;
- a ``sensor_reporting`` ``ObjectEvent`` per excursion, its report carrying
  ``exception: ALARM_CONDITION`` and the peak (``ERROR_CONDITION`` for a silent sensor).

Measurement types are written as the GS1 JSON-LD context's terms (``Temperature``,
``RelativeHumidity``), which expand to ``gs1:Temperature`` / ``gs1:RelativeHumidity``: that
is the form GS1's JSON Schema enumerates and its examples use.

Identifiers (none of them is a GS1 key: coldchain has no GS1 company prefix to mint
SSCCs, GIAIs or GLNs under, so it uses Web URIs under the deployment's own public URL,
the way EPCIS 2.0 lets a non-GS1 identifier be written):

- the shipment (``epcList``): ``{public_url}/shipments/{id}``, its dashboard page;
- a device (``deviceID``): ``{public_url}/devices/{device_id}``;
- a place (``readPoint``, ``bizLocation``): a ``geo:lat,lon`` URI (RFC 5870) of the stop;
- ``dataProcessingMethod``: ``{public_url}/methods/sensor-statistics-v1`` (plain min, max
  and mean of the span's samples, no interpolation);
- ``eventID``: ``urn:uuid:`` of a name-based UUID (v5) of the shipment and the event, so
  the same event has the same id in every export of the shipment;
- extension fields use the ``coldchain:`` prefix, ``{public_url}/ns/epcis#``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from services.reports.model import DeviceSeries, ExcursionRow, ShipmentReport
from services.reports.route_events import RouteEvent, Segment, route_events, samples_in, segments
from services.reports.statistics import Sample, series_statistics

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
MEDIA_TYPE = "application/ld+json"
METHOD_VERSION = "sensor-statistics-v1"
# EPCIS names a measurement by its GS1 term and a unit by its UN/ECE Rec. 20 code.
TEMPERATURE = ("Temperature", "CEL")
HUMIDITY = ("RelativeHumidity", "A93")
_DISPOSITION = {"shipping": "in_transit", "departing": "in_transit", "arriving": "in_transit",
                "receiving": "in_progress"}


class Identifiers:
    """The URIs a deployment names things by (see the module doc)."""

    def __init__(self, public_url: str) -> None:
        self.base = public_url.rstrip("/")

    def shipment(self, shipment_id: str) -> str:
        return f"{self.base}/shipments/{quote(shipment_id, safe='')}"

    def device(self, device_id: str) -> str:
        return f"{self.base}/devices/{quote(device_id, safe='')}"

    def method(self) -> str:
        return f"{self.base}/methods/{METHOD_VERSION}"

    def namespace(self) -> str:
        return f"{self.base}/ns/epcis#"

    def readings(self, shipment_id: str, device_id: str, start: datetime | None, end: datetime | None) -> str:
        """The API's CSV of those readings (``to`` is exclusive, as the API reads it)."""
        query = {"device": device_id, **({"from": iso(start)} if start else {}), **({"to": iso(end)} if end else {}),
                 "format": "csv"}
        return f"{self.base}/api/v1/shipments/{quote(shipment_id, safe='')}/readings?{urlencode(query)}"

    def event(self, shipment_id: str, *key: str) -> str:
        return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "\x1f".join((self.shipment(shipment_id), *key))))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def geo(lat: float, lon: float) -> str:
    return f"geo:{_decimal(lat)},{_decimal(lon)}"


def _decimal(value: float) -> str:
    # Fixed-point: RFC 5870 has no exponent form (repr(0.00001) is "1e-05").
    return f"{value:.6f}".rstrip("0").rstrip(".")


def epcis_document(report: ShipmentReport, public_url: str) -> dict[str, Any]:
    if report.generated_at is None:
        raise ValueError("the report has no generation time (creationDate)")
    ids = Identifiers(public_url)
    events = [*(_route_event(report, ids, e) for e in route_events(report)),
              *_sensor_events(report, ids),
              *(_excursion_event(report, ids, x) for x in report.excursions)]
    return {
        "@context": [EPCIS_CONTEXT, {"coldchain": ids.namespace()}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso(report.generated_at),
        "epcisBody": {"eventList": sorted(events, key=_order)},
    }


def _order(event: dict[str, Any]) -> tuple[datetime, str]:
    # By time, not by the text: "...:00Z" sorts after "...:00.5Z" as a string.
    return datetime.fromisoformat(event["eventTime"]), event["eventID"]


def _base_event(report: ShipmentReport, ids: Identifiers, time: datetime, biz_step: str, *key: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": ids.event(report.shipment_id, *key),
        "eventTime": iso(time),
        # Times are written in UTC; a stop's local offset is not in the report model.
        "eventTimeZoneOffset": "+00:00",
        "epcList": [ids.shipment(report.shipment_id)],
        "action": "OBSERVE",
        "bizStep": biz_step,
    }


def _route_event(report: ShipmentReport, ids: Identifiers, event: RouteEvent) -> dict[str, Any]:
    body = _base_event(report, ids, event.time, event.step, event.step, str(event.stop_index))
    body["disposition"] = _DISPOSITION[event.step]
    if event.place is not None:
        where = {"id": geo(event.place.lat, event.place.lon)}
        body["readPoint"] = where
        if event.step in ("arriving", "receiving"):
            body["bizLocation"] = dict(where)  # where the shipment now is
    body["coldchain:stop"] = event.stop_name
    return body


def _sensor_events(report: ShipmentReport, ids: Identifiers) -> Iterable[dict[str, Any]]:
    spans = segments(report)
    for device in report.devices:
        for span in spans:
            event = _span_event(report, ids, device, span)
            if event is not None:
                yield event


def _span_event(report: ShipmentReport, ids: Identifiers, device: DeviceSeries,
                span: Segment) -> dict[str, Any] | None:
    temperature = samples_in(device.temperature, span)
    humidity = samples_in(device.humidity, span)
    if not temperature and not humidity:
        return None
    times = [s.time for s in (*temperature, *humidity)]
    first, last = min(times), max(times)
    reports = [r for r in (_statistics_report(temperature, TEMPERATURE), _statistics_report(humidity, HUMIDITY)) if r]
    # The last span is open-ended: its link ends just after its last reading.
    end = span.end or last + timedelta(seconds=1)
    body = _base_event(report, ids, last, "sensor_reporting", "sensor", device.device_id, iso(first))
    if span.place is not None:
        body["readPoint"] = {"id": geo(span.place.lat, span.place.lon)}
    body["sensorElementList"] = [{
        "sensorMetadata": {
            "time": iso(last), "startTime": iso(first), "endTime": iso(last),
            "deviceID": ids.device(device.device_id),
            "rawData": ids.readings(report.shipment_id, device.device_id, span.start or first, end),
            "dataProcessingMethod": ids.method(),
        },
        "sensorReport": reports,
    }]
    body["coldchain:segment"] = span.label
    return body


def _statistics_report(samples: tuple[Sample, ...], measurement: tuple[str, str]) -> dict[str, Any] | None:
    if not samples:
        return None
    # Limits do not change min, max or mean: the PDF's function, without them.
    stats = series_statistics(samples, None, None)
    kind, uom = measurement
    return {"type": kind, "minValue": stats.minimum, "maxValue": stats.maximum, "meanValue": stats.mean,
            "uom": uom, "coldchain:sampleCount": stats.count}


def _excursion_event(report: ShipmentReport, ids: Identifiers, excursion: ExcursionRow) -> dict[str, Any]:
    body = _base_event(report, ids, excursion.started_at, "sensor_reporting", "excursion", excursion.device_id,
                       excursion.kind, iso(excursion.started_at))
    metadata: dict[str, Any] = {
        "time": iso(excursion.started_at), "startTime": iso(excursion.started_at),
        "deviceID": ids.device(excursion.device_id),
        "rawData": ids.readings(report.shipment_id, excursion.device_id, excursion.started_at,
                                excursion.ended_at),
        "dataProcessingMethod": ids.method(),
    }
    if excursion.ended_at is not None:
        metadata["endTime"] = iso(excursion.ended_at)
    body["sensorElementList"] = [{"sensorMetadata": metadata, "sensorReport": [_alarm_report(excursion)]}]
    return body


def _alarm_report(excursion: ExcursionRow) -> dict[str, Any]:
    extra: dict[str, Any] = {"coldchain:kind": excursion.kind, "coldchain:severity": excursion.severity,
                             "coldchain:status": excursion.status}
    if excursion.degree_minutes is not None:
        extra["coldchain:degreeMinutes"] = excursion.degree_minutes
    if excursion.duration_min is not None:
        extra["coldchain:durationMinutes"] = excursion.duration_min
    time = iso(excursion.started_at)
    if excursion.kind == "sensor_silent":
        # No reading to judge: the device's silence is an error, not a measured alarm.
        return {"type": TEMPERATURE[0], "exception": "ERROR_CONDITION", "time": time, **extra}
    if excursion.kind == "humidity_low":
        return {"type": HUMIDITY[0], "exception": "ALARM_CONDITION", "time": time, "uom": HUMIDITY[1],
                **({"minValue": excursion.peak_humidity_pct} if excursion.peak_humidity_pct is not None else {}),
                **extra}
    peak_field = "maxValue" if excursion.kind == "temp_high" else "minValue"
    return {"type": TEMPERATURE[0], "exception": "ALARM_CONDITION", "time": time, "uom": TEMPERATURE[1],
            **({peak_field: excursion.peak_c} if excursion.peak_c is not None else {}), **extra}
