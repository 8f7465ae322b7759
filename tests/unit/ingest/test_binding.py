"""Which shipment a reading belongs to, and when it may belong to none (pure binding table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.registry.bindings import Binding, BindingTable

T0 = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


def table(sealed_first: bool = False) -> BindingTable:
    bindings = BindingTable()
    bindings.replace([("TRK-1", T0, "SHP-A", T0 + timedelta(days=5) if sealed_first else None),
                      ("TRK-1", T0 + timedelta(days=10), "SHP-B", None)])
    return bindings


def test_a_reused_tracker_binds_each_reading_to_the_latest_shipment_packed_before_it() -> None:
    bindings = table()
    assert bindings.bind("TRK-1", T0 + timedelta(hours=3)) == Binding(shipment_id="SHP-A")
    assert bindings.bind("TRK-1", T0 + timedelta(days=11)) == Binding(shipment_id="SHP-B")
    assert bindings.bind("TRK-OTHER", T0) == Binding()  # unbound: kept, belonging to no shipment


def test_a_reading_into_a_sealed_shipment_is_refused_with_the_reason() -> None:
    refused = table(sealed_first=True).bind("TRK-1", T0 + timedelta(hours=3))
    assert refused.shipment_id is None and refused.rule == "shipment_sealed"
    assert refused.refusal is not None and "SHP-A" in refused.refusal and "sealed" in refused.refusal
    assert table(sealed_first=True).bind("TRK-1", T0 + timedelta(days=11)).shipment_id == "SHP-B"


def test_a_reading_taken_before_the_first_packing_belongs_to_it_unless_a_sealed_history_follows() -> None:
    assert table().bind("TRK-1", T0 - timedelta(minutes=1)) == Binding(shipment_id="SHP-A")  # pre-cooling
    refused = table(sealed_first=True).bind("TRK-1", T0 - timedelta(minutes=1))
    assert refused.shipment_id is None and refused.rule == "shipment_sealed"


def test_a_reading_older_than_a_sealed_shipment_is_refused_though_it_falls_before_it() -> None:
    bindings = BindingTable()
    bindings.replace([("TRK-1", T0, "SHP-A", None),
                      ("TRK-1", T0 + timedelta(days=10), "SHP-B", T0 + timedelta(days=15)),
                      ("TRK-1", T0 + timedelta(days=20), "SHP-C", None)])
    assert bindings.bind("TRK-1", T0 + timedelta(days=1)).rule == "shipment_sealed"  # would change SHP-B's chain
    assert bindings.bind("TRK-1", T0 + timedelta(days=21)) == Binding(shipment_id="SHP-C")


def test_a_device_registered_or_released_later_binds_accordingly_and_leaves_the_others_alone() -> None:
    bindings = table()
    bindings.set_device("TRK-2", [(T0, "SHP-C", None)])
    assert bindings.bind("TRK-2", T0 - timedelta(days=1)) == Binding(shipment_id="SHP-C")  # pre-cooling
    assert bindings.bind("TRK-2", T0 + timedelta(days=30)) == Binding(shipment_id="SHP-C")
    assert bindings.bind("TRK-1", T0 + timedelta(days=11)) == Binding(shipment_id="SHP-B")

    bindings.set_device("TRK-2", [])  # its shipment deleted
    assert bindings.bind("TRK-2", T0) == Binding()
    bindings.set_device("TRK-1", [(T0, "SHP-A", T0 + timedelta(days=5))])  # SHP-B deleted, SHP-A sealed
    assert bindings.bind("TRK-1", T0 + timedelta(days=11)).rule == "shipment_sealed"
