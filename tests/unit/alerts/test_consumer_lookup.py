"""The alert consumer asks the registry for a record's shipment only when the record could
alert anyone: a plain ETA move is finished with at once, an at-risk update waits for it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import cast

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message

from schemas.eta import EtaUpdate
from schemas.shipment import Shipment
from schemas.topics import ETA
from services.alerts.consumer import AlertRecords
from services.alerts.feed import AlertFeed
from services.alerts.intake import AlertIntake
from services.alerts.outbox import AlertOutbox
from services.alerts.policy import PolicyConfig
from services.kafka.consumer_loop import decode
from services.registry.postgres import ShipmentLookup
from tests.unit.alerts.factories import T0


class _Lookup:
    """A registry that knows no shipment, and counts how often it is asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def get(self, shipment_id: str) -> Shipment | None:
        self.asked.append(shipment_id)
        return None


class _Record:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return ETA.name

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 7

    def value(self) -> bytes:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_NOT_AVAILABLE, 0


def _update(kind: str) -> bytes:
    return EtaUpdate.model_validate({
        "id": f"eta-{kind}", "shipment_id": "SHP-2026-0001", "kind": kind, "event_time": T0,
        "eta": T0 + timedelta(hours=30), "deliver_by": T0 + timedelta(hours=24), "phase": "moving",
        "leg_index": 1, "leg_name": "YHZ -> PVG", "legs": [], "remaining_km": 9000.0,
        "viability_used_h": 10.0, "viability_remaining_at_eta_h": 15.0, "at_risk": kind == "at_risk",
        "risk_reasons": ["late"] if kind == "at_risk" else [],
    }).model_dump_json().encode()


def _handle(value: bytes) -> tuple[bool, _Lookup]:
    lookup = _Lookup()
    intake = AlertIntake(cast(AlertOutbox, None), PolicyConfig(), ops=[])
    records = AlertRecords(intake, cast(ShipmentLookup, lookup), cast(AlertFeed, None))
    batch = decode([cast(Message, _Record(value))], records.topics)
    progress = asyncio.run(records.handle(batch))
    return not progress.held, lookup


def test_a_plain_eta_move_is_finished_with_without_asking_the_registry() -> None:
    done, lookup = _handle(_update("eta"))
    assert done and lookup.asked == []


def test_an_at_risk_update_asks_the_registry_and_waits_for_an_unknown_shipment() -> None:
    done, lookup = _handle(_update("at_risk"))
    assert not done and lookup.asked == ["SHP-2026-0001"]


