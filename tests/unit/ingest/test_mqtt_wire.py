"""MQTT 5 framing and packets (services/ingest/mqtt_wire.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest import mqtt_wire as wire
from services.ingest.mqtt_wire import ConnAck, FrameReader, ProtocolError, Publish, decode, varint


def _publish(topic: bytes, payload: bytes, qos: int, packet_id: int = 0, properties: bytes = b"",
             dup: bool = False) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (packet_id.to_bytes(2, "big") if qos else b"")
    body += varint(len(properties)) + properties + payload
    return bytes((wire.PUBLISH << 4 | (0x08 if dup else 0) | qos << 1,)) + varint(len(body)) + body


def _frames(stream: bytes, cuts: list[int]) -> list[tuple[int, int, bytes]]:
    reader, frames, at = FrameReader(), [], 0
    for cut in sorted(set(cuts)) + [len(stream)]:
        frames += reader.feed(stream[at:cut])
        at = cut
    return frames


STREAM = (b"\x20\x03\x00\x00\x00"  # CONNACK, no properties
          + b"\x90\x04\x00\x01\x00\x01"  # SUBACK: granted QoS 1
          + _publish(b"coldchain/v1/devices/T-1/telemetry", b'{"temp_c": 3}', 1, 7, b"\x01\x01")  # a property
          + _publish(b"coldchain/v1/devices/T-2/telemetry", b"x" * 300, 0)  # a two-byte length
          + _publish(b"coldchain/v1/devices/T-3/telemetry", b"y" * 20_000, 1, 65535, dup=True)  # three bytes
          + b"\xd0\x00")  # PINGRESP


@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_a_stream_cut_anywhere_gives_the_same_packets(cuts):
    packets = [decode(*frame) for frame in _frames(STREAM, cuts)]
    assert packets == [
        ConnAck(session_present=False, reason_code=0),
        wire.SubAck(packet_id=1, reason_codes=(1,)),
        Publish("coldchain/v1/devices/T-1/telemetry", b'{"temp_c": 3}', 1, 7, False),
        Publish("coldchain/v1/devices/T-2/telemetry", b"x" * 300, 0, 0, False),
        Publish("coldchain/v1/devices/T-3/telemetry", b"y" * 20_000, 1, 65535, True),
        wire.PingResp(),
    ]


@given(st.integers(0, wire.MAX_REMAINING_LENGTH))
def test_a_variable_byte_integer_reads_back(value):
    encoded = varint(value)
    assert 1 <= len(encoded) <= 4
    frame = bytes((0xD0,)) + encoded
    reader = FrameReader()
    assert reader.feed(frame) == ([] if value else [(13, 0, b"")])  # a body still to come, or none


def test_what_mqtt_forbids_drops_the_connection():
    with pytest.raises(ValueError):
        varint(wire.MAX_REMAINING_LENGTH + 1)
    with pytest.raises(ProtocolError, match="longer than four bytes"):
        FrameReader().feed(b"\x30\xff\xff\xff\xff\x01")
    with pytest.raises(ProtocolError, match="QoS 3"):
        decode(*FrameReader().feed(b"\x36\x05\x00\x01a\x00\x00")[0])
    with pytest.raises(ProtocolError, match="property block"):
        decode(*FrameReader().feed(_publish(b"a", b"", 1, 1, b"")[:-1] + b"\x09")[0])  # a block of 9 in 0 bytes
    with pytest.raises(ProtocolError, match="a client's packet"):
        decode(1, 0, b"")


def test_a_topic_that_is_not_utf8_is_still_read_for_ingest_to_refuse():
    (frame,) = FrameReader().feed(_publish(b"coldchain/\xff", b"{}", 1, 3))
    publish = decode(*frame)
    assert isinstance(publish, Publish) and publish.topic == "coldchain/\ufffd" and publish.packet_id == 3


def test_the_broker_ending_the_connection_names_its_reason():
    assert decode(14, 0, b"\x8e\x00") == wire.Disconnect(0x8E)
    assert decode(14, 0, b"") == wire.Disconnect(0)


def test_connect_asks_for_a_persistent_session_and_a_window():
    packet = wire.connect_packet("ingest-1", username="ingest", password="pw", keepalive_s=30, clean_start=False,
                            session_expiry_s=604800, receive_maximum=1000)
    assert packet[0] == 0x10 and packet[1] == len(packet) - 2
    body = packet[2:]
    assert body[:7] == b"\x00\x04MQTT\x05"
    assert body[7] == 0xC0  # user name and password, no clean start
    assert body[8:10] == (30).to_bytes(2, "big")
    assert body[10:18] == b"\x08\x11" + (604800).to_bytes(4, "big") + b"\x21\x03"  # properties: 8 bytes
    assert body[18] == 0xE8  # 1000
    assert body[19:] == b"\x00\x08ingest-1\x00\x06ingest\x00\x02pw"
    anonymous = wire.connect_packet("x", username=None, password=None, keepalive_s=30, clean_start=True,
                               session_expiry_s=0, receive_maximum=1)
    assert anonymous[2 + 7] == 0x02


def test_subscribe_and_acknowledgements():
    assert wire.subscribe_packet(1, "a/+") == b"\x82\x09\x00\x01\x00\x00\x03a/+\x01"
    assert wire.puback_packets([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"
    assert wire.puback_packets([]) == b""
