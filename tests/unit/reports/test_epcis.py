from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.reports.epcis import EPCIS_CONTEXT, epcis_document
from services.reports.model import ExcursionRow
from services.reports.statistics import Sample
from tests.unit.reports.factories import PACKED, PEAK_C, three_day_report
from tests.unit.reports.gs1_schema import epcis_validator

BASE = "https://coldchain.example"


def _events(doc: dict[str, Any], biz_step: str) -> list[dict[str, Any]]:
    return [e for e in doc["epcisBody"]["eventList"] if e["bizStep"] == biz_step]


def _span_reports(doc: dict[str, Any], kind: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(metadata, report) of every non-alarm sensor report of that measurement."""
    return [(el["sensorMetadata"], r) for e in _events(doc, "sensor_reporting") for el in e["sensorElementList"]
            for r in el["sensorReport"] if r["type"] == kind and "exception" not in r]


def test_document_validates_against_gs1_epcis_schema() -> None:
    validator = epcis_validator()
    doc = epcis_document(three_day_report(), BASE)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("epcisBody", "eventList", 0, "bizStep"), 42),
        (("epcisBody", "eventList", 0, "eventTimeZoneOffset"), "UTC"),
        (("epcisBody", "eventList", 0, "eventTime"), "yesterday"),
        (("schemaVersion",), "two"),
    ],
)
def test_gs1_schema_catches_a_broken_document(path: tuple[Any, ...], value: object) -> None:
    # The validation above means something only if the schema refuses what is wrong.
    validator = epcis_validator()
    doc = copy.deepcopy(epcis_document(three_day_report(), BASE))
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert list(validator.iter_errors(doc))


def test_excursion_report_type_outside_the_vocabulary_is_refused() -> None:
    validator = epcis_validator()
    doc = epcis_document(three_day_report(), BASE)
    [alarm] = [e for e in _events(doc, "sensor_reporting") if "exception" in str(e)]
    alarm["sensorElementList"][0]["sensorReport"][0]["type"] = "Warmth"
    assert list(validator.iter_errors(doc))


def test_header_and_context() -> None:
    report = three_day_report()
    doc = epcis_document(report, BASE)
    assert doc["@context"][0] == EPCIS_CONTEXT
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    assert datetime.fromisoformat(doc["creationDate"]) == report.generated_at


def test_sensor_figures_match_the_pdf_statistics() -> None:
    report = three_day_report()
    doc = epcis_document(report, BASE)
    for kind, stats in (("Temperature", report.temperature_statistics()["TRK-0001"]),
                        ("RelativeHumidity", report.humidity_statistics()["TRK-0001"])):
        spans = [r for _, r in _span_reports(doc, kind)]
        assert len(spans) == 5  # at YHZ, the flight, at PVG, the road leg, at the warehouse
        assert sum(r["coldchain:sampleCount"] for r in spans) == stats.count
        assert min(r["minValue"] for r in spans) == stats.minimum
        assert max(r["maxValue"] for r in spans) == stats.maximum
        weighted = sum(r["meanValue"] * r["coldchain:sampleCount"] for r in spans) / stats.count
        assert weighted == pytest.approx(stats.mean, abs=1e-9)
    assert max(r["maxValue"] for _, r in _span_reports(doc, "Temperature")) == PEAK_C


def test_units_are_un_ece_codes() -> None:
    doc = epcis_document(three_day_report(), BASE)
    assert {r["uom"] for _, r in _span_reports(doc, "Temperature")} == {"CEL"}
    assert {r["uom"] for _, r in _span_reports(doc, "RelativeHumidity")} == {"A93"}


def test_raw_data_links_cover_each_span_without_overlap() -> None:
    report = three_day_report()
    doc = epcis_document(report, BASE)
    windows = []
    for metadata, _ in _span_reports(doc, "Temperature"):
        link = urlsplit(metadata["rawData"])
        assert link.path == "/api/v1/shipments/SHP-2026-0042/readings"
        query = {k: v[0] for k, v in parse_qs(link.query).items()}
        assert (query["device"], query["format"]) == ("TRK-0001", "csv")
        start, end = datetime.fromisoformat(query["from"]), datetime.fromisoformat(query["to"])
        assert start <= datetime.fromisoformat(metadata["startTime"]) <= datetime.fromisoformat(
            metadata["endTime"]) < end
        windows.append((start, end))
    windows.sort()
    assert all(a_end == b_start for (_, a_end), (b_start, _) in zip(windows, windows[1:], strict=False))
    samples = report.devices[0].temperature
    assert windows[0][0] == samples[0].time and windows[-1][1] > samples[-1].time


def test_shipping_and_receiving_where_the_route_shows_them() -> None:
    report = three_day_report()
    doc = epcis_document(report, BASE)
    [shipping] = _events(doc, "shipping")
    [receiving] = _events(doc, "receiving")
    assert (shipping["disposition"], receiving["disposition"]) == ("in_transit", "in_progress")
    assert datetime.fromisoformat(shipping["eventTime"]) == report.legs[0].departed_at
    assert datetime.fromisoformat(receiving["eventTime"]) == report.legs[1].arrived_at
    assert shipping["readPoint"] == {"id": "geo:44.8808,-63.5086"}
    assert receiving["readPoint"] == receiving["bizLocation"] == {"id": "geo:30.2741,120.1551"}
    assert [e["disposition"] for e in _events(doc, "arriving") + _events(doc, "departing")] == ["in_transit"] * 2
    for event in doc["epcisBody"]["eventList"]:
        assert event["epcList"] == [f"{BASE}/shipments/SHP-2026-0042"]


def test_a_route_not_travelled_yet_has_no_shipping_events() -> None:
    planned = tuple(replace(leg, state="planned", departed_at=None, arrived_at=None)
                    for leg in three_day_report().legs)
    report = replace(three_day_report(), legs=planned, actual_arrival=None)
    doc = epcis_document(report, BASE)
    steps = {e["bizStep"] for e in doc["epcisBody"]["eventList"]}
    assert steps == {"sensor_reporting"}
    [(metadata, temperature)] = _span_reports(doc, "Temperature")
    assert temperature["coldchain:sampleCount"] == len(report.devices[0].temperature)


def test_excursions_are_alarm_conditions() -> None:
    report = three_day_report()
    cold = ExcursionRow("TRK-0001", "temp_low", "warning", "open", PACKED + timedelta(hours=50), None, None,
                        -0.8, 4.0)
    dry = ExcursionRow("TRK-0001", "humidity_low", "warning", "closed", PACKED + timedelta(hours=40),
                       PACKED + timedelta(hours=41), 60.0, None, None, peak_humidity_pct=65.5)
    doc = epcis_document(replace(report, excursions=(*report.excursions, cold, dry)), BASE)
    alarms = {r["coldchain:kind"]: (el["sensorMetadata"], r) for e in _events(doc, "sensor_reporting")
              for el in e["sensorElementList"] for r in el["sensorReport"] if "exception" in r}
    assert {r["exception"] for _, r in alarms.values()} == {"ALARM_CONDITION"}
    hot_meta, hot = alarms["temp_high"]
    assert (hot["type"], hot["maxValue"], hot["uom"], hot["coldchain:degreeMinutes"]) == (
        "Temperature", PEAK_C, "CEL", 171.5)
    assert datetime.fromisoformat(hot_meta["endTime"]) == report.excursions[0].ended_at
    cold_meta, low = alarms["temp_low"]
    assert (low["minValue"], "endTime" in cold_meta) == (-0.8, False)
    assert "to=" not in cold_meta["rawData"]  # still open: its readings so far
    assert (alarms["humidity_low"][1]["type"], alarms["humidity_low"][1]["minValue"]) == ("RelativeHumidity", 65.5)


def test_event_ids_are_stable_across_exports() -> None:
    report = three_day_report()
    first = epcis_document(report, BASE)
    later = epcis_document(replace(report, generated_at=PACKED + timedelta(days=9)), BASE)
    assert [e["eventID"] for e in first["epcisBody"]["eventList"]] == [
        e["eventID"] for e in later["epcisBody"]["eventList"]]
    ids = [e["eventID"] for e in first["epcisBody"]["eventList"]]
    assert len(set(ids)) == len(ids)


def test_events_are_in_time_order_with_sub_second_times() -> None:
    report = three_day_report()
    device = report.devices[0]
    odd = (Sample(PACKED + timedelta(hours=3, milliseconds=500), 3.1),)
    leg0 = replace(report.legs[0], departed_at=PACKED + timedelta(hours=3))
    report = replace(report, legs=(leg0, *report.legs[1:]),
                     devices=(replace(device, temperature=tuple(sorted(device.temperature + odd,
                                                                       key=lambda s: s.time))),))
    times = [datetime.fromisoformat(e["eventTime"]) for e in epcis_document(report, BASE)["epcisBody"]["eventList"]]
    assert times == sorted(times)


def test_without_coordinates_there_is_no_read_point() -> None:
    doc = epcis_document(replace(three_day_report(), places=()), BASE)
    assert all("readPoint" not in e for e in doc["epcisBody"]["eventList"])


def test_an_unmarked_last_leg_is_received_at_the_actual_arrival() -> None:
    report = three_day_report()
    last = replace(report.legs[1], arrived_at=None)
    doc = epcis_document(replace(report, legs=(report.legs[0], last)), BASE)
    [receiving] = _events(doc, "receiving")
    assert datetime.fromisoformat(receiving["eventTime"]) == report.actual_arrival


def test_needs_a_generation_time() -> None:
    with pytest.raises(ValueError, match="creationDate"):
        epcis_document(replace(three_day_report(), generated_at=None), BASE)

