"""The MQTT 5 packets of a QoS 1 subscriber, and the framing of a byte stream into packets
(OASIS MQTT Version 5.0, sections 2 and 3). Pure: no I/O.

Only what ingest sends and reads: CONNECT, SUBSCRIBE, PUBACK, PINGREQ and DISCONNECT out;
CONNACK, SUBACK, PUBLISH (QoS 0 and 1), PINGRESP and DISCONNECT in. Ingest sends no Topic
Alias Maximum, so the broker may not replace a topic by an alias (3.1.2.11.5), and asks for
at most QoS 1, so the broker never starts a QoS 2 exchange.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
PROTOCOL_LEVEL = 5
MAX_REMAINING_LENGTH = 268_435_455  # four bytes of variable byte integer (1.5.5)

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # normal disconnection: the session stays for its expiry interval

# The reason codes a broker gives for a refused connection, subscription or a disconnection
# (2.4), by the name the operator will search for.
REASONS = {
    0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error",
    0x83: "implementation specific error", 0x84: "unsupported protocol version",
    0x85: "client identifier not valid", 0x86: "bad user name or password", 0x87: "not authorized",
    0x88: "server unavailable", 0x89: "server busy", 0x8A: "banned", 0x8B: "server shutting down",
    0x8D: "keep alive timeout", 0x8E: "session taken over", 0x8F: "topic filter invalid",
    0x93: "receive maximum exceeded", 0x95: "packet too large", 0x97: "quota exceeded",
    0x9C: "use another server", 0x9D: "server moved", 0x9F: "connection rate exceeded",
}


def reason_name(code: int) -> str:
    return f"{REASONS.get(code, 'reason')} (0x{code:02X})"


class ProtocolError(Exception):
    """The broker sent what MQTT 5 does not allow: the connection is dropped and made again."""


def varint(value: int) -> bytes:
    """A variable byte integer (1.5.5)."""
    if not 0 <= value <= MAX_REMAINING_LENGTH:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise ValueError("an MQTT string is at most 65,535 bytes")
    return len(value).to_bytes(2, "big") + value


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + varint(len(body)) + body


def connect_packet(client_id: str, *, username: str | None, password: str | None, keepalive_s: int,
                   clean_start: bool, session_expiry_s: int, receive_maximum: int) -> bytes:
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0) | (0x02 if clean_start else 0)
    properties = (b"\x11" + session_expiry_s.to_bytes(4, "big")  # Session Expiry Interval
                  + b"\x21" + receive_maximum.to_bytes(2, "big"))  # Receive Maximum: our in-flight window
    body = (_string(b"MQTT") + bytes((PROTOCOL_LEVEL, flags)) + keepalive_s.to_bytes(2, "big")
            + varint(len(properties)) + properties + _string(client_id.encode()))
    if username is not None:
        body += _string(username.encode())
    if password is not None:
        body += _string(password.encode())
    return _packet(CONNECT << 4, body)


def subscribe_packet(packet_id: int, topic_filter: str, qos: int = 1) -> bytes:
    # no properties; options: the maximum QoS, no other option set
    return _packet(SUBSCRIBE << 4 | 0x02, packet_id.to_bytes(2, "big") + b"\x00" + _string(topic_filter.encode())
                   + bytes((qos,)))


def puback_packets(packet_ids: Iterable[int]) -> bytes:
    """PUBACKs with reason Success, which MQTT 5 lets a packet leave out (3.4.2.1): four bytes each."""
    return b"".join(b"\x40\x02" + packet_id.to_bytes(2, "big") for packet_id in packet_ids)


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    packet_id: int  # 0 for QoS 0, which has none
    dup: bool


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool
    reason_code: int


@dataclass(frozen=True, slots=True)
class SubAck:
    packet_id: int
    reason_codes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Disconnect:
    reason_code: int


@dataclass(frozen=True, slots=True)
class PingResp:
    pass


Packet = Publish | ConnAck | SubAck | Disconnect | PingResp


def _skip_properties(body: bytes, at: int) -> int:
    """The index after the property block (a variable byte integer length, then the properties)."""
    length, at = _read_varint(body, at)
    if at + length > len(body):
        raise ProtocolError("a property block runs past its packet")
    return at + length


def _read_varint(data: bytes | bytearray, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    for index in range(at, min(at + 4, len(data))):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    raise ProtocolError("a variable byte integer is longer than four bytes or cut short")


def decode_publish(flags: int, body: bytes) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("a PUBLISH with QoS 3")
    if len(body) < 2:
        raise ProtocolError("a PUBLISH too short for its topic")
    topic_end = 2 + int.from_bytes(body[:2], "big")
    at = topic_end
    packet_id = 0
    if qos:
        packet_id = int.from_bytes(body[at:at + 2], "big")
        at += 2
    if at > len(body):
        raise ProtocolError("a PUBLISH too short for its topic and packet id")
    at = _skip_properties(body, at)
    # A broker validates topic names, but a topic that is not UTF-8 is still read: ingest then
    # refuses the message with its reason (an unknown topic) and acknowledges it.
    topic = body[2:topic_end].decode("utf-8", "replace")
    return Publish(topic, body[at:], qos, packet_id, bool(flags & 0x08))


def decode(kind: int, flags: int, body: bytes) -> Packet | None:
    """The packet of one frame; None for a packet a subscriber may ignore."""
    if kind == PUBLISH:
        return decode_publish(flags, body)
    if kind == CONNACK:
        if len(body) < 2:
            raise ProtocolError("a CONNACK too short")
        return ConnAck(bool(body[0] & 0x01), body[1])
    if kind == SUBACK:
        if len(body) < 3:
            raise ProtocolError("a SUBACK too short")
        at = _skip_properties(body, 2)
        return SubAck(int.from_bytes(body[:2], "big"), tuple(body[at:]))
    if kind == DISCONNECT:
        return Disconnect(body[0] if body else 0)
    if kind == PINGRESP:
        return PingResp()
    if kind in (CONNECT, SUBSCRIBE, PINGREQ):
        raise ProtocolError(f"the broker sent a client's packet (type {kind})")
    return None  # AUTH, or acknowledgements of what this client never sends


class FrameReader:
    """Splits a byte stream into MQTT frames: ``feed`` what arrived, get back every frame it
    completed as (packet type, flags, body); a partial frame waits for the next ``feed``."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        buffer = self._buffer
        buffer += data
        frames: list[tuple[int, int, bytes]] = []
        at, end = 0, len(buffer)
        while end - at >= 2:
            first = buffer[at]
            if buffer[at + 1] < 0x80:  # the usual case: a body under 128 bytes
                length, start = buffer[at + 1], at + 2
            else:
                try:
                    length, start = _read_varint(buffer, at + 1)
                except ProtocolError:
                    if end - at - 1 >= 4:
                        raise
                    break  # the length itself is not all here yet
            if start + length > end:
                break
            frames.append((first >> 4, first & 0x0F, bytes(buffer[start:start + length])))
            at = start + length
        del buffer[:at]
        return frames
