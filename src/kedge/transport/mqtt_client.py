"""The edge's MQTT 3.1.1 client: one asyncio.Protocol over the sans-IO session in kedge.proto.mqtt.

Not paho (+3.7 MB resident, CPU-bound at ~20k msg/s) and not amqtt's client (+6.4 MB)
(reference/edge-measurements.md A5, B1). No thread and no task per connection: the keepalive is a loop
timer, reads arrive in data_received. TCP_NODELAY is set explicitly: without it a QoS 0 stream waits on
Nagle for 4-12 ms per message (edge-measurements B3).

Bounded both ways. Publishing waits while max_inflight QoS 1 messages are unacked or while the socket's
write buffer is over its high-water mark. Receiving without an `on_message` callback fills a queue of at
most `max_queue` messages; when it is full the client stops reading, so the broker and the kernel hold
the backlog (TCP back-pressure), not this process. Bytes already read (at most one socket read, plus a
partial packet) wait undecoded in the parser and refill the queue as the consumer takes messages; the
socket is read again once they are used up and the queue has room. A QoS 1 message is acknowledged when
it enters the queue. While reading is paused on purpose the keepalive does not expire the connection:
the broker's packets are waiting unread, and pings still go out.

Reconnecting is the caller's policy (kedge.aio backoff): after the connection drops, `connect()` again;
the session then re-subscribes and resends unacked QoS 1 publishes with DUP set.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl as _ssl
from collections import deque
from collections.abc import Callable, Iterable
from typing import cast

from kedge.proto import mqtt

__all__ = ["MqttClient", "MqttConnectRefused", "MqttError"]

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes, int], object]


class MqttError(ConnectionError):
    """The MQTT connection failed or is not open; the message says why."""


class MqttConnectRefused(MqttError):
    """The broker answered CONNECT with a non-zero return code."""

    def __init__(self, rc: int, host: str, port: int) -> None:
        super().__init__(
            "MQTT broker %s:%d refused the connection: return code %d (%s)"
            % (host, port, rc, mqtt.connack_reason(rc))
        )
        self.rc = rc


class MqttClient(asyncio.Protocol):
    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        keepalive: int = 30,
        ssl: _ssl.SSLContext | None = None,
        on_message: OnMessage | None = None,
        max_queue: int = 1000,
        clean_session: bool = True,
        username: str | None = None,
        password: bytes | None = None,
        max_inflight: int = 64,
        max_packet: int = mqtt.DEFAULT_MAX_PACKET,
        connect_timeout: float = 10.0,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1, not %r" % max_queue)
        self.host = host
        self.port = port
        self.ssl = ssl
        self.on_message = on_message
        self.max_queue = max_queue
        self.connect_timeout = connect_timeout
        self.session = mqtt.ClientSession(
            client_id, keepalive, clean_session, username, password, max_inflight, max_packet
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.Transport | None = None
        self._ever_connected = False
        self._connack: asyncio.Future[mqtt.Connected] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._write_paused = False
        self._read_paused = False
        self._room: asyncio.Future[None] | None = None  # publish waiters: inflight or write buffer
        self._idle: asyncio.Future[None] | None = None  # drain(): all QoS 1 acked
        self._queue: deque[tuple[str, bytes, int]] = deque()
        self._queue_waiter: asyncio.Future[None] | None = None
        self._acks: dict[int, asyncio.Future[tuple[int, ...]]] = {}
        self._error: Exception | None = None

    # -- public API --

    @property
    def connected(self) -> bool:
        return self._transport is not None and self.session.connected

    @property
    def queued(self) -> int:
        """Messages waiting in the receive queue (never more than max_queue)."""
        return len(self._queue)

    async def connect(self) -> bool:
        """Open the connection and wait for CONNACK; returns the broker's session-present flag.

        Raises MqttConnectRefused (with the return code's meaning) or MqttError/OSError."""
        if self._transport is not None:
            raise MqttError("already connected to %s:%d" % (self.host, self.port))
        loop = self._loop = asyncio.get_running_loop()
        self._connack = loop.create_future()
        self._closed = loop.create_future()
        self._error = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                await loop.create_connection(
                    lambda: self,
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl is not None else None,
                )
                connected = await self._connack
        except TimeoutError:
            self._abort()
            raise MqttError(
                "no CONNACK from MQTT broker %s:%d within %.1f s"
                % (self.host, self.port, self.connect_timeout)
            ) from None
        except BaseException:
            self._abort()
            raise
        if connected.rc != 0:
            await self._close_transport()
            raise MqttConnectRefused(connected.rc, self.host, self.port)
        self._ever_connected = True
        return connected.session_present

    async def subscribe(self, filters: Iterable[tuple[str, int]]) -> tuple[int, ...]:
        """Subscribe and wait for SUBACK; returns the granted QoS per filter. A refused filter raises."""
        filters = list(filters)
        transport = self._require_open()
        pid, data = self.session.subscribe(filters, self._now())
        fut = self._acks[pid] = self._loop_().create_future()
        transport.write(data)
        granted = await fut
        refused = [f for (f, _), g in zip(filters, granted, strict=True) if g == mqtt.SUBACK_FAILURE]
        if refused:
            raise MqttError(
                "MQTT broker %s:%d refused the subscription to %s" % (self.host, self.port, refused)
            )
        return granted

    async def unsubscribe(self, filters: Iterable[str]) -> None:
        transport = self._require_open()
        pid, data = self.session.unsubscribe(filters, self._now())
        fut = self._acks[pid] = self._loop_().create_future()
        transport.write(data)
        await fut

    async def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> None:
        """Send one message. Returns once it is written (QoS 1: before its PUBACK; see drain()); waits while
        the inflight window or the socket write buffer is full."""
        while True:
            transport = self._require_open()
            if not self._write_paused:
                data = self.session.publish(topic, payload, qos, retain, self._now())
                if data is not None:
                    transport.write(data)
                    return
            if self._room is None:
                self._room = self._loop_().create_future()
            await asyncio.shield(self._room)

    async def drain(self) -> None:
        """Wait until every QoS 1 message published so far is acknowledged."""
        while self.session.inflight:
            self._require_open()
            if self._idle is None:
                self._idle = self._loop_().create_future()
            await asyncio.shield(self._idle)

    async def get_message(self) -> tuple[str, bytes, int]:
        """Next (topic, payload, qos) from the receive queue (used when there is no on_message callback)."""
        while not self._queue:
            if self._closed is None or self._closed.done():
                raise MqttError("MQTT connection to %s:%d is closed" % (self.host, self.port))
            if self._queue_waiter is None:
                self._queue_waiter = self._loop_().create_future()
            await asyncio.shield(self._queue_waiter)
        item = self._queue.popleft()
        if self._read_paused:
            self._refill()
        return item

    async def wait_closed(self) -> None:
        if self._closed is not None:
            await asyncio.shield(self._closed)

    async def close(self) -> None:
        """Send DISCONNECT and close the connection."""
        transport = self._transport
        if transport is not None and not transport.is_closing() and self.session.connected:
            transport.write(self.session.disconnect())
        await self._close_transport()

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check here
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._write_paused = False
        self._read_paused = False
        now = self._now()
        transport.write(self.session.resume(now) if self._ever_connected else self.session.connect(now))
        self._schedule_tick()

    def data_received(self, data: bytes) -> None:
        self._receive(data)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_room()

    def eof_received(self) -> bool | None:
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.session.connected = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        err = (
            self._error
            or exc
            or MqttError("MQTT broker %s:%d closed the connection" % (self.host, self.port))
        )
        if exc is not None or self._error is not None:
            log.info("MQTT connection to %s:%d lost: %s", self.host, self.port, err)
        failure = err if isinstance(err, MqttError) else MqttError("MQTT connection lost: %s" % err)
        for fut in (self._connack, self._room, self._idle, *self._acks.values()):
            if fut is not None and not fut.done():
                fut.set_exception(failure)
                fut.exception()  # retrieved here: a waiter may not exist
        self._acks.clear()
        self._room = self._idle = None
        self._wake_queue()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    # -- internals --

    def _loop_(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _now(self) -> float:
        return self._loop_().time()

    def _require_open(self) -> asyncio.Transport:
        t = self._transport
        if t is None or t.is_closing():
            raise MqttError("MQTT connection to %s:%d is not open" % (self.host, self.port))
        return t

    def _receive(self, data: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        queue_mode = self.on_message is None
        try:
            while True:
                if queue_mode:
                    # decode no more packets than the queue has room for; the rest waits in the parser
                    room = self.max_queue - len(self._queue)
                    events = self.session.receive(data, self._now(), limit=max(room, 0))
                else:
                    events = self.session.receive(data, self._now())
                data = b""
                if not events:
                    break
                self._handle(events)
                if not queue_mode:
                    break
        except mqtt.MqttProtocolError as e:
            log.warning("MQTT broker %s:%d sent bad data: %s", self.host, self.port, e)
            self._error = MqttError("protocol error from MQTT broker %s:%d: %s" % (self.host, self.port, e))
            transport.abort()
            return
        if queue_mode and len(self._queue) >= self.max_queue:
            self._pause_reading()
        out = self.session.pending_output()
        if out and not transport.is_closing():
            transport.write(out)

    def _handle(self, events: list[mqtt.Event]) -> None:
        for ev in events:
            t = type(ev)
            if t is mqtt.Message:
                self._deliver(ev)  # type: ignore[arg-type]
            elif t is mqtt.PublishAcked:
                self._wake_room()
                if not self.session.inflight and self._idle is not None:
                    if not self._idle.done():
                        self._idle.set_result(None)
                    self._idle = None
            elif t is mqtt.Subscribed or t is mqtt.Unsubscribed:
                fut = self._acks.pop(ev.packet_id, None)  # type: ignore[union-attr]
                if fut is not None and not fut.done():
                    fut.set_result(getattr(ev, "granted", ()))
            elif t is mqtt.Connected and self._connack is not None and not self._connack.done():
                self._connack.set_result(ev)  # type: ignore[arg-type]

    def _deliver(self, msg: mqtt.Message) -> None:
        cb = self.on_message
        if cb is None:
            self._queue.append((msg.topic, msg.payload, msg.qos))
            self._wake_queue()
            return
        try:
            cb(msg.topic, msg.payload, msg.qos)
        except Exception:
            log.exception("MQTT on_message callback failed for topic %s", msg.topic)

    def _wake_queue(self) -> None:
        self._queue_waiter = _resolve(self._queue_waiter)

    def _wake_room(self) -> None:
        self._room = _resolve(self._room)

    def _pause_reading(self) -> None:
        if not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    def _refill(self) -> None:
        """The consumer made room: decode what the parser holds, then read the socket again if the
        queue still has room (so a stalled consumer finds the queue full, not stuck half-way)."""
        if self.session.buffered:
            self._receive(b"")
        transport = self._transport
        if self._read_paused and transport is not None and len(self._queue) < self.max_queue:
            self._read_paused = False
            transport.resume_reading()

    def _schedule_tick(self) -> None:
        loop = self._loop_()
        self._timer = loop.call_later(self.session.next_tick(loop.time()), self._tick)

    def _tick(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is None:
            return
        now = self._now()
        if self._read_paused:
            self.session.heard(now)  # its packets wait unread behind the full queue
        data = self.session.tick(now)
        if self.session.expired:
            log.warning(
                "MQTT broker %s:%d silent for 1.5 x keepalive (%d s); dropping the connection",
                self.host,
                self.port,
                self.session.keepalive,
            )
            self._error = MqttError(
                "MQTT broker %s:%d stopped answering (keepalive expired)" % (self.host, self.port)
            )
            transport.abort()
            return
        if data:
            transport.write(data)
        self._schedule_tick()

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def _close_transport(self) -> None:
        transport = self._transport
        if transport is None:
            return
        transport.close()
        if self._closed is not None:
            await asyncio.shield(self._closed)


def _resolve(fut: asyncio.Future[None] | None) -> None:
    """Wake whoever waits on `fut`; returns None to clear the attribute that held it."""
    if fut is not None and not fut.done():
        fut.set_result(None)
