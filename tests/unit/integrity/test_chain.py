from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta

from services.integrity.chain import ChainedReading, extend, genesis, links, record, verify

T0 = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


def reading(minute: int, temp_c: float | None = 3.4) -> ChainedReading:
    return ChainedReading(T0 + timedelta(minutes=minute), "TRK-1", "SHP-1", minute, temp_c, 90.0, None, None,
                          None, None)


def test_record_follows_the_documented_encoding():
    r = reading(0)
    micros = int(T0.timestamp()) * 1_000_000
    expected = (b"\x01" + struct.pack(">q", micros) + b"\x01" + struct.pack(">i", 5) + b"TRK-1"
                + b"\x01" + struct.pack(">i", 5) + b"SHP-1" + b"\x01" + struct.pack(">q", 0)
                + b"\x01" + struct.pack(">d", 3.4) + b"\x01" + struct.pack(">d", 90.0) + b"\x00" * 4)
    assert record(r) == expected
    assert genesis("TRK-1") == hashlib.sha256(b"coldchain-chain-v1:TRK-1").digest()


def test_every_field_matters_and_null_is_not_zero():
    base = reading(0, temp_c=0.0)
    changed = [base._replace(temp_c=None), base._replace(temp_c=-0.0),
               base._replace(seq=None), base._replace(shipment_id=None),
               base._replace(time=base.time + timedelta(microseconds=1)),
               base._replace(humidity_pct=90.00000000000001)]
    assert len({record(r) for r in [base, *changed]}) == len(changed) + 1


def test_verify_names_the_first_changed_reading():
    readings = [reading(m) for m in range(10)]
    links = list(extend(genesis("TRK-1"), readings))
    stored: list[tuple[ChainedReading, bytes | None]] = list(links)
    assert verify("TRK-1", genesis("TRK-1"), stored).intact
    stored[6] = (readings[6]._replace(temp_c=3.5), stored[6][1])
    verdict = verify("TRK-1", genesis("TRK-1"), stored)
    assert verdict.first_break is not None and verdict.first_break.time == readings[6].time
    assert verdict.checked == 6 and "differs" in verdict.first_break.describe()


def test_verify_names_a_deleted_reading_at_the_next_one_and_an_unlinked_one_where_it_is():
    readings = [reading(m) for m in range(10)]
    stored: list[tuple[ChainedReading, bytes | None]] = list(extend(genesis("TRK-1"), readings))
    deleted = verify("TRK-1", genesis("TRK-1"), stored[:4] + stored[5:])
    assert deleted.first_break is not None and deleted.first_break.time == readings[5].time
    assert deleted.checked == 4 and deleted.head == stored[3][1]
    unlinked = verify("TRK-1", genesis("TRK-1"), [*stored[:3], (reading(3, temp_c=1.0), None)])
    assert unlinked.first_break is not None and unlinked.first_break.reason == "missing-hash"
    assert unlinked.checked == 3


def test_links_of_copy_rows_equal_each_devices_own_chain():
    # The sink links its COPY rows (twelve fields: the chain's ten, then source and received_at),
    # devices one after another, each from its own start.
    ours = [reading(m) for m in range(5)]
    theirs = [reading(m)._replace(device_id="TRK-2", shipment_id=None, temp_c=-1.5) for m in range(3)]
    rows = [(*r, "json", T0) for r in [*ours, *theirs]]
    starts = {"TRK-1": genesis("TRK-1"), "TRK-2": b"\x07" * 32}
    expected = [digest for _, digest in extend(starts["TRK-1"], ours)] + \
               [digest for _, digest in extend(starts["TRK-2"], theirs)]
    assert links(starts, rows) == expected
    assert links(starts, rows)[5] == hashlib.sha256(starts["TRK-2"] + record(theirs[0])).digest()
