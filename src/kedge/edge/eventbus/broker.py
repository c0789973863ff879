"""The embedded MQTT broker of EventBus's internal mode: amqtt 0.12.1 (pinned) in edgecore's process.

For small setups that have no system broker. mosquitto stays the better broker: amqtt costs ~30x its CPU
per message, ~53 KB per client, and collapses under many publishers (reference/edge-measurements.md).
Two changes make amqtt usable here, each the narrowest override found, both tied to amqtt 0.12.1:

1. KubeEdge's device topics. amqtt 0.12.1 refuses a client PUBLISH whose topic starts with '$'
   ([MQTT-4.7.2-1], `Broker._handle_message_delivery`) and then ends that client's message loop, but
   mappers publish to `$hw/events/...` (KubeEdge's own broker accepts them). `_KubeEdgeBroker` takes the
   `$hw/` and `$ke/` publishes out of that method and broadcasts them itself through the same broker
   internals amqtt uses (`_topic_filtering`, `_broadcast_message`, `retain_message`); everything else,
   `$SYS/...` included, still goes through amqtt's checks. amqtt's MESSAGE_RECEIVED/MESSAGE_BROADCAST
   plugin events are not fired for these topics: kedge loads no plugin that listens to them.
2. Back-pressure. amqtt reads every client as fast as it can and parks each PUBLISH in an unbounded
   broadcast queue plus one delivery task per subscriber; ten flooding publishers grew it by 60-70 MB in
   10 s (edge-measurements B.4). Each client's stream is read through `_GatedReader`, which holds back
   the next PUBLISH (never PUBACK, PINGREQ...) while `max_backlog` messages wait in amqtt's broadcast
   queue and delivery tasks (`_broadcast_queue`, `_tasks_queue`), so a flooding publisher's bytes wait in
   its socket: TCP back-pressure to that publisher, bounded memory here. A QoS 0 PUBLISH arriving then is
   read and dropped instead (mosquitto, too, drops what exceeds its queues): a QoS 0 flood held back would
   keep its own PINGREQs unread until the client gives up on the broker. EventBus's own publisher is never
   held back (`ungated`): its results are what drains the backlog.

`check_amqtt()` verifies, before start, that the amqtt in use still has what these overrides call;
a test runs it and the `$hw` delivery end to end, so an amqtt upgrade that breaks them fails the suite.
Only the anonymous-auth plugin is loaded: no $SYS publisher, no packet or event logger (they cost
memory and CPU per message).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import amqtt
from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action

log = logging.getLogger(__name__)

AMQTT_VERSION = "0.12.1"
#: Topic prefixes whose client publishes the embedded broker accepts although they start with '$'.
KUBEEDGE_PREFIXES = ("$hw/", "$ke/")
#: Messages waiting in amqtt's broadcast queue and delivery tasks before publishers are held back.
DEFAULT_MAX_BACKLOG = 1000
_BACKLOG_POLL = 0.005  # seconds between checks of a held-back publisher

# What the overrides call, by name and parameters (amqtt 0.12.1's broker.py).
_RELIED_ON = {
    "_handle_message_delivery": ("self", "client_session", "handler", "wait_deliver"),
    "_topic_filtering": ("self", "session", "topic", "action"),
    "_broadcast_message": ("self", "session", "topic", "data", "force_qos"),
    "retain_message": ("self", "source_session", "topic_name", "data", "qos"),
    "stream_connected": ("self", "reader", "writer", "listener_name"),
    "external_connected": ("self", "reader", "writer", "listener_name"),
}
# ... and the two containers the back-pressure reads (set in Broker.__init__).
_RELIED_ON_STATE = {"_broadcast_queue": asyncio.Queue, "_tasks_queue": deque}


class BrokerError(RuntimeError):
    """The embedded broker cannot run; the message says why."""


def check_amqtt(broker: Broker | None = None) -> None:
    """Raise BrokerError unless amqtt (and `broker`, a constructed one) still has the internals the
    overrides below rely on."""
    missing = []
    for name, params in _RELIED_ON.items():
        fn = getattr(Broker, name, None)
        if fn is None or tuple(inspect.signature(fn).parameters) != params:
            missing.append("Broker.%s%s" % (name, params))
    if broker is not None:
        for attr, kind in _RELIED_ON_STATE.items():
            if not isinstance(getattr(broker, attr, None), kind):
                missing.append("Broker.%s (%s)" % (attr, kind.__name__))
    if missing:
        raise BrokerError(
            "amqtt %s is not the amqtt %s kedge's embedded broker was written for: %s changed; "
            "pin amqtt==%s or use an external broker (mqttMode 2)"
            % (getattr(amqtt, "__version__", "?"), AMQTT_VERSION, ", ".join(missing), AMQTT_VERSION)
        )


def _kubeedge_topic(topic: object) -> bool:
    """A valid topic name under KUBEEDGE_PREFIXES (wildcards are left for amqtt to refuse)."""
    return (
        isinstance(topic, str)
        and topic.startswith(KUBEEDGE_PREFIXES)
        and "+" not in topic
        and "#" not in topic
    )


def _connect_client_id(packet: bytes) -> str | None:
    """The client id of an MQTT 3.1/3.1.1 CONNECT packet held in `packet` (None: incomplete or not one)."""
    if not packet or packet[0] >> 4 != 1:
        return ""  # not a CONNECT: no client id to find, gate as usual
    i, length, shift = 1, 0, 0
    while True:
        if i >= len(packet) or i > 4:
            return None
        b = packet[i]
        i += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    name_len = int.from_bytes(packet[i : i + 2], "big")
    pos = i + 2 + name_len + 4  # protocol name, level, flags, keepalive
    if len(packet) < pos + 2:
        return None
    cid_len = int.from_bytes(packet[pos : pos + 2], "big")
    if len(packet) < pos + 2 + cid_len:
        return None
    return packet[pos + 2 : pos + 2 + cid_len].decode("utf-8", "replace")


class _KubeEdgeBroker(Broker):
    """amqtt's Broker with KubeEdge's `$hw/`/`$ke/` publishes accepted and publishers held back under load."""

    max_backlog = DEFAULT_MAX_BACKLOG
    ungated: frozenset[str] = frozenset()
    dropped = 0  # QoS 0 publishes dropped under overload
    _backlog_at = -1.0
    _backlog = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[asyncio.StreamWriter] = set()

    async def _handle_message_delivery(  # amqtt 0.12.1 private API, see the module docstring
        self, client_session: Any, handler: Any, wait_deliver: asyncio.Future[Any]
    ) -> bool:
        message = wait_deliver.result()
        topic = getattr(message, "topic", None)
        if not _kubeedge_topic(topic):
            return await super()._handle_message_delivery(client_session, handler, wait_deliver)
        if await self._topic_filtering(client_session, topic=topic, action=Action.PUBLISH):
            await self._broadcast_message(client_session, topic, message.data)
            packet = message.publish_packet
            if packet is not None and packet.retain_flag:
                await self.retain_message(client_session, topic, message.data, message.qos)
        return True  # True: amqtt keeps serving this client

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        self.connections.add(writer)
        try:
            await self.external_connected(
                _GatedReader(reader, self), StreamWriterAdapter(writer), listener_name
            )
        finally:
            self.connections.discard(writer)

    def abort_connections(self) -> None:
        """Drop every client connection before shutdown. amqtt's shutdown cancels each client's reader
        and waits for it to end; on Python 3.11 wait_for can swallow that cancellation when data arrives
        at the same moment, and shutdown then hangs while the client keeps sending. A reader at EOF ends."""
        for writer in list(self.connections):
            writer.transport.abort()

    def backlog(self) -> int:
        """Messages amqtt holds for delivery: its broadcast queue plus unfinished delivery tasks. Counted
        at most once per poll interval (the task deque is walked)."""
        now = asyncio.get_running_loop().time()
        if now - self._backlog_at >= _BACKLOG_POLL:
            self._backlog_at = now
            undone = 0
            for task in self._tasks_queue:  # amqtt pops finished tasks only when the next message comes
                if not task.done():
                    undone += 1
            self._backlog = self._broadcast_queue.qsize() + undone
        return self._backlog

    async def room(self) -> None:
        while self.backlog() >= self.max_backlog:
            await asyncio.sleep(_BACKLOG_POLL)

    def note_dropped(self) -> None:
        """One QoS 0 publish dropped under overload (logged at the first and every 10,000th)."""
        self.dropped += 1
        if self.dropped % 10_000 == 1:
            log.warning(
                "embedded MQTT broker overloaded (%d messages waiting): dropping QoS 0 publishes (%d so far)",
                self.backlog(),
                self.dropped,
            )


_FIRST, _LENGTH, _BODY = 0, 1, 2
_PUBLISH = 3
_QOS_BITS = 0x06


class _GatedReader(StreamReaderAdapter):
    """One client's stream as amqtt reads it, following MQTT packet boundaries over whatever read sizes
    amqtt asks for; a read that starts a PUBLISH returns only when the broker has room."""

    def __init__(self, reader: asyncio.StreamReader, broker: _KubeEdgeBroker) -> None:
        super().__init__(reader)
        self._broker = broker
        self._state = _FIRST
        self._left = 0  # bytes of the current packet's body not read yet
        self._length = 0
        self._shift = 0
        self._held = b""  # a PUBLISH's first read, kept while its wait for room was cancelled
        self._connect: bytearray | None = bytearray()  # the CONNECT packet, until its client id is known
        self._gated = True
        self._drop_left: int | None = None  # bytes of a dropped PUBLISH still to skip (-1: length unread)
        self._drop_length = 0
        self._drop_shift = 0

    def _watch_connect(self, data: bytes) -> None:
        """Read the client id from the CONNECT packet: EventBus's own publisher is never held back. It
        publishes DeviceTwin's results, which is what drains the backlog: holding it back would wait on
        itself (the twin subscriber stops reading while DeviceTwin waits for EventBus to publish)."""
        buf = self._connect
        assert buf is not None
        buf += data
        cid = _connect_client_id(bytes(buf))
        if cid is None:
            if len(buf) > 1024:  # no client id in the first KB: a malformed CONNECT, amqtt refuses it
                self._connect = None
            return
        self._connect = None
        if cid in self._broker.ungated:
            self._gated = False

    async def read(self, n: int = -1) -> bytes:
        # amqtt reads the fixed header under wait_for(keepalive) and, on timeout, just reads a new fixed
        # header (read(1)). A publisher held back longer than its keepalive has its wait cancelled after
        # the PUBLISH's first byte was taken from the stream: that byte is kept and returned by the next
        # read, else amqtt would parse the rest of the packet as new packets.
        if self._drop_left is not None:
            await self._drop_rest()  # a drop cancelled half-way: finish it before the next packet
        data = self._held or await super().read(n)
        if self._connect is not None:
            self._watch_connect(data)
        broker = self._broker
        while self._gated and self._state == _FIRST and data and data[0] >> 4 == _PUBLISH:
            if len(data) == 1 and not data[0] & _QOS_BITS and broker.backlog() >= broker.max_backlog:
                # QoS 0 under overload: dropped, as mosquitto drops what exceeds its queues. Holding a
                # QoS 0 flood back instead would starve its PINGREQs behind it until its keepalive ends.
                self._drop_left, self._drop_length, self._drop_shift = -1, 0, 0
                await self._drop_rest()
                broker.note_dropped()
                data = await super().read(n)
                continue
            self._held = data
            await broker.room()
            self._held = b""
            break
        self._follow(data)
        return data

    async def _drop_rest(self) -> None:
        """Consume the rest of a PUBLISH whose first byte was taken (-1: its length is being read).
        Resumable: each step's state is kept before the next read, so a cancelled read loses nothing."""
        reader = self._reader
        while self._drop_left == -1:
            b = (await reader.readexactly(1))[0]
            self._drop_length |= (b & 0x7F) << self._drop_shift
            self._drop_shift += 7
            if b < 0x80 or self._drop_shift >= 28:
                self._drop_left = self._drop_length
        while self._drop_left:
            chunk = await reader.read(min(self._drop_left, 65536))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", self._drop_left)
            self._drop_left -= len(chunk)
        self._drop_left = None

    def _follow(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n:
            if self._state == _BODY:
                take = min(self._left, n - i)
                self._left -= take
                i += take
                if not self._left:
                    self._state = _FIRST
            elif self._state == _FIRST:
                self._state, self._length, self._shift = _LENGTH, 0, 0
                i += 1
            else:
                b = data[i]
                i += 1
                self._length |= (b & 0x7F) << self._shift
                self._shift += 7
                if b < 0x80 or self._shift >= 28:  # amqtt rejects a 5-byte length itself
                    self._left = self._length
                    self._state = _BODY if self._left else _FIRST


@dataclass(frozen=True, slots=True)
class ListenerTLS:
    """The broker's certificate and key, and the CA that client certificates are checked against
    (presenting one is optional)."""

    cert_file: str
    key_file: str
    ca_file: str


class EmbeddedBroker:
    """amqtt serving MQTT 3.1.1 on host:port (TLS when `tls` is given) inside this process."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ListenerTLS | None = None,
        max_backlog: int = DEFAULT_MAX_BACKLOG,
        ungated: frozenset[str] = frozenset(),
    ) -> None:
        """`ungated`: client ids never held back (EventBus's own publisher)."""
        if max_backlog < 1:
            raise ValueError("max_backlog must be at least 1, not %r" % max_backlog)
        self.host = host
        self.port = port
        self.tls = tls
        self.max_backlog = max_backlog
        self.ungated = ungated
        self._broker: _KubeEdgeBroker | None = None

    @property
    def running(self) -> bool:
        return self._broker is not None

    @property
    def dropped(self) -> int:
        """QoS 0 publishes dropped under overload since start."""
        return 0 if self._broker is None else self._broker.dropped

    def backlog(self) -> int:
        """Messages waiting in amqtt for delivery (0 when stopped)."""
        return 0 if self._broker is None else self._broker.backlog()

    async def start(self) -> None:
        if self._broker is not None:
            return
        listener: dict[str, Any] = {"type": "tcp", "bind": "%s:%d" % (self.host, self.port)}
        if self.tls is not None:
            listener.update(
                ssl=True, certfile=self.tls.cert_file, keyfile=self.tls.key_file, cafile=self.tls.ca_file
            )
        config = {
            "listeners": {"default": listener},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        broker = _KubeEdgeBroker(config)
        check_amqtt(broker)
        broker.max_backlog = self.max_backlog
        broker.ungated = self.ungated
        try:
            await broker.start()
        except Exception as e:  # amqtt wraps bind errors, bad certificate files... in its BrokerError
            cause = e.__cause__ or e
            raise BrokerError(
                "embedded MQTT broker cannot listen on %s:%d%s: %s"
                % (self.host, self.port, " (TLS)" if self.tls else "", cause)
            ) from None
        self._broker = broker
        log.info("embedded MQTT broker (amqtt %s) listening on %s:%d", AMQTT_VERSION, self.host, self.port)

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            broker.abort_connections()
            await broker.shutdown()
            log.info("embedded MQTT broker on %s:%d stopped", self.host, self.port)
