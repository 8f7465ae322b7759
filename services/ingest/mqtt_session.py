"""Ingest's MQTT connection: one MQTT 5 persistent session with one QoS 1 subscription, kept
up (reconnecting with a backoff), whose messages are acknowledged only when told to.

Why not paho or gmqtt: a QoS 1 subscriber acknowledging every single-sample message cost
71-78 µs of CPU a message with paho 2.2 (a ``select`` and three ``recv`` calls a packet, a
``send`` a PUBACK) and 30-34 µs with gmqtt 0.8 (a task a message for a deferred PUBACK),
against 10-12 µs here (bench/HISTORY.md, session 14): this reads whatever arrived in one
``read``, frames every packet in it, and writes every PUBACK that came due since the last
write at once. On the 2-core landing machine that difference is a third of a core.

Threads: ``run`` is a coroutine on the loop of the thread that runs it; ``on_publish`` is
called on that loop, in arrival order; ``ack`` and ``stop`` may be called from any thread.
A packet id is only valid on the connection that delivered it: ``ack`` names the connection
(``on_publish`` gets its number), and an acknowledgement for an earlier connection is
dropped (after a reconnect the broker sends every unacknowledged message again, and may
reuse an old id for a new one).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.connections import MqttEndpoint
from services.ingest.mqtt_wire import (
    DISCONNECT_PACKET,
    PINGREQ_PACKET,
    ConnAck,
    Disconnect,
    FrameReader,
    ProtocolError,
    Publish,
    SubAck,
    connect_packet,
    decode,
    puback_packets,
    reason_name,
    subscribe_packet,
)

log = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
CONNECT_TIMEOUT_S = 10.0
SUBSCRIBE_PACKET_ID = 1


@dataclass(frozen=True)
class SessionOptions:
    client_id: str
    topic_filter: str
    session_expiry_s: int
    receive_maximum: int  # the broker's in-flight window towards us (Receive Maximum)
    keepalive_s: int = 30
    min_backoff_s: float = 1.0
    max_backoff_s: float = 10.0


class Refused(Exception):
    """The broker refused the connection or the subscription (its reason is the message)."""


class MqttSubscriber:
    def __init__(self, endpoint: MqttEndpoint, options: SessionOptions,
                 on_publish: Callable[[Publish, int], None]) -> None:
        self._endpoint = endpoint
        self._options = options
        self._on_publish = on_publish
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._stop_requested = False
        self._writer: asyncio.StreamWriter | None = None
        self._connection = 0  # counts CONNACKs: the number on_publish and ack name
        self._subscribed = False
        self._lock = threading.Lock()
        self._acks: list[tuple[int, int]] = []
        self._flush_scheduled = False
        self._last_read = self._last_write = 0.0
        self._reader: asyncio.StreamReader | None = None
        self._frames = FrameReader()
        self._pending_frames: list[tuple[int, int, bytes]] = []

    def subscribed(self) -> bool:
        """Connected, with the subscription granted (for /readyz)."""
        return self._subscribed and self._writer is not None

    # -- any thread ------------------------------------------------------------------------
    def ack(self, connection: int, packet_id: int) -> None:
        """Acknowledge a QoS 1 message: its PUBACK goes with the next write of due PUBACKs."""
        with self._lock:
            self._acks.append((connection, packet_id))
            if self._flush_scheduled or self._loop is None:
                return
            self._flush_scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._flush_acks)
        except RuntimeError:
            # The session has ended (ingest is stopping) and Kafka confirmed a record late:
            # there is no connection to acknowledge on; the broker sends that message again.
            log.debug("acknowledgement of %d after the session ended: the broker will send it again", packet_id)

    def stop(self) -> None:
        """Sends the due PUBACKs and a DISCONNECT (the session stays for its expiry), then
        ``run`` returns."""
        self._stop_requested = True
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)

    # -- the loop's thread -----------------------------------------------------------------
    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if self._stop_requested:
            return
        backoff = self._options.min_backoff_s
        while not self._stopping.is_set():
            try:
                await self._connect()
                backoff = self._options.min_backoff_s
                await self._serve()
            except (TimeoutError, OSError, EOFError, asyncio.IncompleteReadError, ProtocolError, Refused) as exc:
                log.warning("MQTT connection to %s:%d %s; connecting again in %.0f s", self._endpoint.host,
                            self._endpoint.port, _described(exc), backoff)
            finally:
                self._close()
            if not self._stopping.is_set():
                try:
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, self._options.max_backoff_s)

    async def _connect(self) -> None:
        endpoint, options = self._endpoint, self._options
        self._reader, self._writer, self._frames, connack, self._pending_frames = await _handshake(
            endpoint, options.client_id, clean_start=False, session_expiry_s=options.session_expiry_s,
            receive_maximum=options.receive_maximum, keepalive_s=options.keepalive_s)
        with self._lock:
            self._connection += 1
            self._acks.clear()  # ids of the connection before: the broker sends those messages again
        log.info("connected to MQTT %s:%d (%s session)", endpoint.host, endpoint.port,
                 "resumed" if connack.session_present else "new")
        self._write(subscribe_packet(SUBSCRIBE_PACKET_ID, options.topic_filter))

    async def _serve(self) -> None:
        assert self._stopping is not None
        pinger = asyncio.ensure_future(self._keep_alive())
        reading = asyncio.ensure_future(self._read_all())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            done, _ = await asyncio.wait([pinger, reading, stopping], return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopping}:
                task.result()  # raises why the connection ended
            if stopping in done:
                self._flush_acks()
                self._write(DISCONNECT_PACKET)
                if self._writer is not None:
                    await asyncio.wait_for(self._writer.drain(), 2)
        finally:
            for task in (pinger, reading, stopping):
                task.cancel()

    async def _read_all(self) -> None:
        self._last_read = time.monotonic()
        frames, self._pending_frames = self._pending_frames, []
        connection = self._connection
        while True:
            for kind, flags, body in frames:
                packet = decode(kind, flags, body)
                if isinstance(packet, Publish):
                    self._on_publish(packet, connection)
                elif isinstance(packet, SubAck):
                    self._subscription_answered(packet)
                elif isinstance(packet, Disconnect):
                    raise Refused(f"was ended by the broker: {reason_name(packet.reason_code)}")
            data = await _read(self._reader)
            self._last_read = time.monotonic()
            frames = self._frames.feed(data)

    def _subscription_answered(self, suback: SubAck) -> None:
        refused = [code for code in suback.reason_codes if code >= 0x80]
        if refused:
            raise Refused(f"refused the subscription to {self._options.topic_filter}: {reason_name(refused[0])}")
        self._subscribed = True
        log.info("subscribed to %s", self._options.topic_filter)

    async def _keep_alive(self) -> None:
        # MQTT 3.1.2.10: the client sends a packet at least every keep-alive interval (PUBACKs
        # count); a broker silent for 1.5 intervals after a PINGREQ is taken for gone.
        interval = self._options.keepalive_s
        while True:
            await asyncio.sleep(interval / 4)
            now = time.monotonic()
            if now - self._last_read > interval * 1.5:
                raise TimeoutError(f"no packet from the broker for {interval * 1.5:.0f} s")
            if now - self._last_write > interval / 2:
                self._write(PINGREQ_PACKET)

    def _flush_acks(self) -> None:
        with self._lock:
            acks, self._acks = self._acks, []
            self._flush_scheduled = False
            current = self._connection
        due = [packet_id for connection, packet_id in acks if connection == current]
        if due and self._writer is not None and not self._writer.is_closing():
            self._write(puback_packets(due))

    def _write(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        self._last_write = time.monotonic()

    def _close(self) -> None:
        self._subscribed = False
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()


async def _read(reader: asyncio.StreamReader | None) -> bytes:
    assert reader is not None
    data = await reader.read(READ_SIZE)
    if not data:
        raise EOFError("closed by the broker")
    return data


def _described(exc: BaseException) -> str:
    if isinstance(exc, Refused):
        return str(exc)
    return f"was lost ({type(exc).__name__}: {exc})" if str(exc) else f"was lost ({type(exc).__name__})"


async def _handshake(endpoint: MqttEndpoint, client_id: str, *, clean_start: bool, session_expiry_s: int,
                     receive_maximum: int, keepalive_s: int = 30,
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, FrameReader, ConnAck,
                                list[tuple[int, int, bytes]]]:
    """A connection the broker accepted: its streams, its framing, the CONNACK and the frames
    that came in the same read (a resumed session's messages may follow CONNACK at once)."""
    context = ssl.create_default_context() if endpoint.tls else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(endpoint.host, endpoint.port, ssl=context, limit=READ_SIZE), CONNECT_TIMEOUT_S)
    try:
        writer.write(connect_packet(client_id, username=endpoint.username, password=endpoint.password,
                                    keepalive_s=keepalive_s, clean_start=clean_start,
                                    session_expiry_s=session_expiry_s, receive_maximum=receive_maximum))
        frames = FrameReader()
        while not (got := frames.feed(await asyncio.wait_for(_read(reader), CONNECT_TIMEOUT_S))):
            pass
        connack = decode(*got[0])  # a broker sends nothing before CONNACK
        if not isinstance(connack, ConnAck):
            raise ProtocolError(f"the broker answered CONNECT with {type(connack).__name__}")
        if connack.reason_code >= 0x80:
            raise Refused(f"was refused: {reason_name(connack.reason_code)}")
    except BaseException:
        writer.close()
        raise
    return reader, writer, frames, connack, got[1:]


async def end_session(endpoint: MqttEndpoint, client_id: str) -> None:
    """Ends ``client_id``'s persistent session at once: a clean start with no expiry, then a
    normal DISCONNECT (an instance removed for good would otherwise keep its share of a shared
    subscription queued until the session expires)."""
    _, writer, *_ = await _handshake(endpoint, client_id, clean_start=True, session_expiry_s=0, receive_maximum=1)
    try:
        writer.write(DISCONNECT_PACKET)
        await writer.drain()
    finally:
        writer.close()
