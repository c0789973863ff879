"""MQTT 3.1.1, sans-IO: the packet codec, an incremental parser and a client session state machine.

In-house rather than paho: paho costs the edge +3.7 MB resident and its client is CPU-bound at ~20k msg/s
(one recv per header byte), so with paho the client, not mosquitto, is the bottleneck
(reference/edge-measurements.md A5, B1). This module does no I/O; kedge.transport.mqtt_client drives it
from an asyncio.Protocol, and time is passed in as `now`.

Scope: what the EventBus speaks. QoS 0 and 1 (QoS 2 packets are refused with MqttProtocolError), clean or
persistent sessions, keepalive, will messages on CONNECT. Both directions decode, so a broker can reuse
the parser.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from kedge._core.errors import InvalidTopic
from kedge._core.topic import validate_filter, validate_topic

CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14

#: Largest value the 4-byte remaining-length varint can carry (MQTT 3.1.1 §2.2.3).
MAX_REMAINING_LENGTH = 268_435_455
#: Default largest packet accepted by a Parser (fixed header included).
DEFAULT_MAX_PACKET = 1024 * 1024
#: SUBACK return code for a refused subscription.
SUBACK_FAILURE = 0x80

#: CONNACK return codes (§3.2.2.3) and what they mean.
CONNACK_REASONS = {
    0: "connection accepted",
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}

_PROTOCOL_NAME = b"\x00\x04MQTT"
_PROTOCOL_LEVEL = 4
_u16 = struct.Struct("!H")
_pack_u16 = _u16.pack
_unpack_u16 = _u16.unpack_from
_NAMES = {
    CONNECT: "CONNECT",
    CONNACK: "CONNACK",
    PUBLISH: "PUBLISH",
    PUBACK: "PUBACK",
    PUBREC: "PUBREC",
    PUBREL: "PUBREL",
    PUBCOMP: "PUBCOMP",
    SUBSCRIBE: "SUBSCRIBE",
    SUBACK: "SUBACK",
    UNSUBSCRIBE: "UNSUBSCRIBE",
    UNSUBACK: "UNSUBACK",
    PINGREQ: "PINGREQ",
    PINGRESP: "PINGRESP",
    DISCONNECT: "DISCONNECT",
}


class MqttProtocolError(ValueError):
    """Bytes or arguments that break MQTT 3.1.1; the message says what and where."""


def connack_reason(rc: int) -> str:
    return CONNACK_REASONS.get(rc, "unknown return code %d" % rc)


# -- primitives -----------------------------------------------------------------------------------


def encode_remaining_length(n: int) -> bytes:
    if n < 0 or n > MAX_REMAINING_LENGTH:
        raise MqttProtocolError("remaining length %d is outside 0..%d" % (n, MAX_REMAINING_LENGTH))
    if n < 128:
        return bytes((n,))
    out = bytearray()
    while True:
        digit = n & 0x7F
        n >>= 7
        if n:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def _text(s: str, what: str) -> bytes:
    if not isinstance(s, str):
        raise TypeError("%s must be str, not %s" % (what, type(s).__name__))
    if "\x00" in s:
        raise MqttProtocolError("%s %r contains U+0000" % (what, s[:64]))
    try:
        b = s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise MqttProtocolError("%s %r is not valid UTF-8: %s" % (what, s[:64], e.reason)) from None
    if len(b) > 65535:
        raise MqttProtocolError("%s is longer than 65535 UTF-8 bytes (%d)" % (what, len(b)))
    return _pack_u16(len(b)) + b


def _blob(b: bytes, what: str) -> bytes:
    if len(b) > 65535:
        raise MqttProtocolError("%s is longer than 65535 bytes (%d)" % (what, len(b)))
    return _pack_u16(len(b)) + b


def check_topic(topic: str) -> None:
    """Raise MqttProtocolError unless `topic` is a valid topic name (no wildcards)."""
    try:
        validate_topic(topic)
    except InvalidTopic as e:
        raise MqttProtocolError(str(e)) from None


def check_filter(topic_filter: str) -> None:
    """Raise MqttProtocolError unless `topic_filter` is a valid topic filter."""
    try:
        validate_filter(topic_filter)
    except InvalidTopic as e:
        raise MqttProtocolError(str(e)) from None


def _check_qos(qos: int, what: str) -> None:
    if qos not in (0, 1):
        raise MqttProtocolError("%s QoS %r is not supported (0 or 1)" % (what, qos))


def _check_packet_id(pid: int, what: str) -> None:
    if not 0 < pid <= 65535:
        raise MqttProtocolError("%s packet id %r is outside 1..65535" % (what, pid))


def _frame(first: int, body: bytes) -> bytes:
    return bytes((first,)) + encode_remaining_length(len(body)) + body


# -- packets ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connect:
    client_id: str
    keepalive: int = 60
    clean_session: bool = True
    username: str | None = None
    password: bytes | None = None
    will_topic: str | None = None
    will_payload: bytes = b""
    will_qos: int = 0
    will_retain: bool = False

    def encode(self) -> bytes:
        if not 0 <= self.keepalive <= 65535:
            raise MqttProtocolError("keepalive %r is outside 0..65535 seconds" % self.keepalive)
        if not self.client_id and not self.clean_session:
            raise MqttProtocolError("an empty client id needs clean_session=True (MQTT 3.1.1 §3.1.3.1)")
        if self.password is not None and self.username is None:
            raise MqttProtocolError("a password needs a user name (MQTT 3.1.1 §3.1.2.9)")
        flags = 0x02 if self.clean_session else 0
        parts = [_PROTOCOL_NAME, b"", _pack_u16(self.keepalive), _text(self.client_id, "client id")]
        if self.will_topic is not None:
            check_topic(self.will_topic)
            _check_qos(self.will_qos, "will")
            flags |= 0x04 | (self.will_qos << 3) | (0x20 if self.will_retain else 0)
            parts.append(_text(self.will_topic, "will topic"))
            parts.append(_blob(bytes(self.will_payload), "will payload"))
        if self.username is not None:
            flags |= 0x80
            parts.append(_text(self.username, "user name"))
        if self.password is not None:
            flags |= 0x40
            parts.append(_blob(bytes(self.password), "password"))
        parts[1] = bytes((_PROTOCOL_LEVEL, flags))
        return _frame(CONNECT << 4, b"".join(parts))


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool
    rc: int

    def encode(self) -> bytes:
        return bytes((CONNACK << 4, 2, 1 if self.session_present else 0, self.rc))


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int = 0

    def encode(self) -> bytes:
        return encode_publish(self.topic, self.payload, self.qos, self.retain, self.dup, self.packet_id)


@dataclass(frozen=True, slots=True)
class _OnlyPacketId:
    """A packet that carries nothing but its packet id; subclasses name the type."""

    packet_id: int
    TYPE: ClassVar[int]

    def encode(self) -> bytes:
        return bytes((self.TYPE << 4, 2)) + _pack_u16(self.packet_id)


class PubAck(_OnlyPacketId):
    __slots__ = ()
    TYPE = PUBACK


class UnsubAck(_OnlyPacketId):
    __slots__ = ()
    TYPE = UNSUBACK


@dataclass(frozen=True, slots=True)
class Subscribe:
    packet_id: int
    filters: tuple[tuple[str, int], ...]

    def encode(self) -> bytes:
        _check_packet_id(self.packet_id, "SUBSCRIBE")
        if not self.filters:
            raise MqttProtocolError("SUBSCRIBE needs at least one topic filter")
        parts = [_pack_u16(self.packet_id)]
        for f, qos in self.filters:
            check_filter(f)
            _check_qos(qos, "subscription %r" % f)
            parts.append(_text(f, "topic filter"))
            parts.append(bytes((qos,)))
        return _frame((SUBSCRIBE << 4) | 0x02, b"".join(parts))


@dataclass(frozen=True, slots=True)
class SubAck:
    packet_id: int
    granted: tuple[int, ...]

    def encode(self) -> bytes:
        return _frame(SUBACK << 4, _pack_u16(self.packet_id) + bytes(self.granted))


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    packet_id: int
    filters: tuple[str, ...]

    def encode(self) -> bytes:
        _check_packet_id(self.packet_id, "UNSUBSCRIBE")
        if not self.filters:
            raise MqttProtocolError("UNSUBSCRIBE needs at least one topic filter")
        parts = [_pack_u16(self.packet_id)]
        for f in self.filters:
            check_filter(f)
            parts.append(_text(f, "topic filter"))
        return _frame((UNSUBSCRIBE << 4) | 0x02, b"".join(parts))


@dataclass(frozen=True, slots=True)
class PingReq:
    def encode(self) -> bytes:
        return PINGREQ_BYTES


@dataclass(frozen=True, slots=True)
class PingResp:
    def encode(self) -> bytes:
        return PINGRESP_BYTES


@dataclass(frozen=True, slots=True)
class Disconnect:
    def encode(self) -> bytes:
        return DISCONNECT_BYTES


Packet = (
    Connect
    | ConnAck
    | Publish
    | PubAck
    | Subscribe
    | SubAck
    | Unsubscribe
    | UnsubAck
    | PingReq
    | PingResp
    | Disconnect
)

PINGREQ_BYTES = bytes((PINGREQ << 4, 0))
PINGRESP_BYTES = bytes((PINGRESP << 4, 0))
DISCONNECT_BYTES = bytes((DISCONNECT << 4, 0))


def encode_publish(
    topic: str, payload: bytes, qos: int = 0, retain: bool = False, dup: bool = False, packet_id: int = 0
) -> bytes:
    """One PUBLISH packet; the hot path, so it skips the dataclass."""
    check_topic(topic)
    _check_qos(qos, "PUBLISH")
    if qos:
        _check_packet_id(packet_id, "PUBLISH")
        var = _text(topic, "topic name") + _pack_u16(packet_id)
    else:
        if dup:
            raise MqttProtocolError("a QoS 0 PUBLISH must not set DUP (MQTT 3.1.1 §3.3.1.1)")
        var = _text(topic, "topic name")
    first = (PUBLISH << 4) | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    return bytes((first,)) + encode_remaining_length(len(var) + len(payload)) + var + payload


# -- decoding --------------------------------------------------------------------------------------


class _Reader:
    __slots__ = ("body", "pos", "what")

    def __init__(self, body: bytes, what: str) -> None:
        self.body = body
        self.pos = 0
        self.what = what

    def u8(self) -> int:
        if self.pos >= len(self.body):
            raise MqttProtocolError("%s is truncated" % self.what)
        v = self.body[self.pos]
        self.pos += 1
        return v

    def u16(self) -> int:
        if self.pos + 2 > len(self.body):
            raise MqttProtocolError("%s is truncated" % self.what)
        (v,) = _unpack_u16(self.body, self.pos)
        self.pos += 2
        return v

    def blob(self) -> bytes:
        n = self.u16()
        if self.pos + n > len(self.body):
            raise MqttProtocolError(
                "%s is truncated: a field of %d bytes overruns the packet" % (self.what, n)
            )
        v = self.body[self.pos : self.pos + n]
        self.pos += n
        return v

    def text(self, field: str) -> str:
        raw = self.blob()
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MqttProtocolError("%s: %s is not valid UTF-8" % (self.what, field)) from None
        if "\x00" in s:
            raise MqttProtocolError("%s: %s contains U+0000" % (self.what, field))
        return s

    def packet_id(self) -> int:
        pid = self.u16()
        if pid == 0:
            raise MqttProtocolError("%s carries packet id 0" % self.what)
        return pid

    def rest(self) -> bytes:
        v = self.body[self.pos :]
        self.pos = len(self.body)
        return v

    def done(self) -> None:
        if self.pos != len(self.body):
            raise MqttProtocolError(
                "%s has %d unexpected trailing bytes" % (self.what, len(self.body) - self.pos)
            )


def decode_packet(first: int, body: bytes) -> Packet:
    """Decode one packet from its first header byte and its body (the bytes after the remaining length)."""
    ptype = first >> 4
    flags = first & 0x0F
    name = _NAMES.get(ptype)
    if name is None:
        raise MqttProtocolError("reserved packet type %d" % ptype)
    if ptype == PUBLISH:
        return _decode_publish(flags, body)
    want = 0x02 if ptype in (PUBREL, SUBSCRIBE, UNSUBSCRIBE) else 0
    if flags != want:
        raise MqttProtocolError("%s has header flags 0x%x, must be 0x%x" % (name, flags, want))
    r = _Reader(body, name)
    pkt: Packet
    if ptype in (PUBACK, UNSUBACK):
        pid = r.packet_id()
        pkt = PubAck(pid) if ptype == PUBACK else UnsubAck(pid)
    elif ptype in (PINGREQ, PINGRESP, DISCONNECT):
        pkt = PingReq() if ptype == PINGREQ else PingResp() if ptype == PINGRESP else Disconnect()
    elif ptype == CONNACK:
        ack_flags = r.u8()
        if ack_flags & 0xFE:
            raise MqttProtocolError("CONNACK acknowledge flags 0x%x set reserved bits" % ack_flags)
        pkt = ConnAck(bool(ack_flags), r.u8())
    elif ptype == SUBSCRIBE:
        pid = r.packet_id()
        filters = []
        while r.pos < len(body):
            f = r.text("topic filter")
            check_filter(f)
            qos = r.u8()
            if qos > 2:
                raise MqttProtocolError("SUBSCRIBE requests QoS byte 0x%x for %r (must be 0..2)" % (qos, f))
            filters.append((f, qos))
        if not filters:
            raise MqttProtocolError("SUBSCRIBE carries no topic filter")
        pkt = Subscribe(pid, tuple(filters))
    elif ptype == SUBACK:
        pid = r.packet_id()
        granted = r.rest()
        if not granted:
            raise MqttProtocolError("SUBACK carries no return code")
        for code in granted:
            if code not in (0, 1, 2, SUBACK_FAILURE):
                raise MqttProtocolError("SUBACK return code 0x%x is not 0, 1, 2 or 0x80" % code)
        pkt = SubAck(pid, tuple(granted))
    elif ptype == UNSUBSCRIBE:
        pid = r.packet_id()
        ufilters = []
        while r.pos < len(body):
            f = r.text("topic filter")
            check_filter(f)
            ufilters.append(f)
        if not ufilters:
            raise MqttProtocolError("UNSUBSCRIBE carries no topic filter")
        pkt = Unsubscribe(pid, tuple(ufilters))
    elif ptype == CONNECT:
        pkt = _decode_connect(r)
    else:  # PUBREC, PUBREL, PUBCOMP
        raise MqttProtocolError("%s: QoS 2 is not supported" % name)
    r.done()
    return pkt


def _decode_publish(flags: int, body: bytes) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MqttProtocolError("PUBLISH with QoS 3 (both QoS bits set)")
    if qos == 2:
        raise MqttProtocolError("PUBLISH with QoS 2: not supported")
    dup = bool(flags & 0x08)
    if dup and qos == 0:
        raise MqttProtocolError("QoS 0 PUBLISH with the DUP flag set")
    r = _Reader(body, "PUBLISH")
    topic = r.text("topic name")
    check_topic(topic)
    pid = r.packet_id() if qos else 0
    return Publish(topic, r.rest(), qos, bool(flags & 0x01), dup, pid)


def _decode_connect(r: _Reader) -> Connect:
    name = r.blob()
    if name != b"MQTT":
        raise MqttProtocolError("CONNECT protocol name %r is not 'MQTT'" % name)
    level = r.u8()
    if level != _PROTOCOL_LEVEL:
        raise MqttProtocolError("CONNECT protocol level %d is not 4 (MQTT 3.1.1)" % level)
    flags = r.u8()
    if flags & 0x01:
        raise MqttProtocolError("CONNECT flags set the reserved bit")
    keepalive = r.u16()
    client_id = r.text("client id")
    will_topic = None
    will_payload = b""
    will_qos = (flags >> 3) & 0x03
    if flags & 0x04:
        will_topic = r.text("will topic")
        check_topic(will_topic)
        will_payload = r.blob()
        if will_qos == 3:
            raise MqttProtocolError("CONNECT will QoS 3")
    elif flags & 0x38:
        raise MqttProtocolError("CONNECT sets will QoS/retain without a will")
    username = r.text("user name") if flags & 0x80 else None
    password = r.blob() if flags & 0x40 else None
    return Connect(
        client_id, keepalive, bool(flags & 0x02), username, password, will_topic, will_payload, will_qos,
        bool(flags & 0x20),
    )  # fmt: skip


class Parser:
    """Incremental decoder: bytes in, whole packets out; keeps a partial packet between calls."""

    __slots__ = ("_buf", "max_packet")

    def __init__(self, max_packet: int = DEFAULT_MAX_PACKET) -> None:
        self.max_packet = max_packet
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes = b"", limit: int | None = None) -> list[Packet]:
        """Packets completed by `data`; at most `limit` of them, the rest stays buffered for the next call."""
        buf = self._buf
        if data:
            buf += data
        out: list[Packet] = []
        n = len(buf)
        pos = 0
        max_packet = self.max_packet
        while n - pos >= 2 and (limit is None or len(out) < limit):
            i = pos + 1
            length = 0
            shift = 0
            complete = False
            while i < n:
                b = buf[i]
                i += 1
                length |= (b & 0x7F) << shift
                if b < 0x80:
                    complete = True
                    break
                shift += 7
                if shift == 28:
                    raise MqttProtocolError("remaining length is longer than 4 bytes")
            if not complete:
                break  # the remaining length itself is still incomplete
            size = i - pos + length
            if size > max_packet:
                raise MqttProtocolError(
                    "%s packet of %d bytes exceeds the maximum packet size of %d bytes"
                    % (_NAMES.get(buf[pos] >> 4, "reserved"), size, max_packet)
                )
            if n - i < length:
                break
            out.append(decode_packet(buf[pos], bytes(buf[i : i + length])))
            pos = i + length
        if pos:
            del buf[:pos]
        return out


# -- client session --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    session_present: bool
    rc: int

    @property
    def reason(self) -> str:
        return connack_reason(self.rc)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    packet_id: int


@dataclass(frozen=True, slots=True)
class Subscribed:
    packet_id: int
    granted: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    packet_id: int


@dataclass(frozen=True, slots=True)
class PublishAcked:
    packet_id: int


@dataclass(frozen=True, slots=True)
class Pong:
    pass


Event = Connected | Message | Subscribed | Unsubscribed | PublishAcked | Pong


class ClientSession:
    """One MQTT client's protocol state: packet ids, unacked QoS 1 publishes, keepalive, subscriptions.

    Methods return the bytes to write; `receive` returns events and queues automatic replies (PUBACK for
    received QoS 1) for `pending_output()`. After a lost connection, `resume()` gives the bytes for the
    next one: CONNECT, the remembered subscriptions again, and every unacked QoS 1 publish with DUP set.
    """

    def __init__(
        self,
        client_id: str,
        keepalive: int,
        clean_session: bool = True,
        username: str | None = None,
        password: bytes | None = None,
        max_inflight: int = 64,
        max_packet: int = DEFAULT_MAX_PACKET,
    ) -> None:
        if max_inflight < 1 or max_inflight > 65535:
            raise ValueError("max_inflight %r is outside 1..65535" % max_inflight)
        self._connect = Connect(client_id, keepalive, clean_session, username, password)
        self._connect_bytes = self._connect.encode()  # validates the arguments now
        self.client_id = client_id
        self.keepalive = keepalive
        self.max_inflight = max_inflight
        self.max_packet = max_packet
        self.connected = False
        #: True once tick() saw no packet from the server for 1.5 x keepalive: drop the connection.
        self.expired = False
        self._parser = Parser(max_packet)
        self._inflight: dict[int, Publish] = {}  # unacked QoS 1 publishes, in send order
        self._pending_sub: dict[int, tuple[tuple[str, int], ...]] = {}
        self._pending_unsub: dict[int, tuple[str, ...]] = {}
        self._subscriptions: dict[str, int] = {}
        self._next_id = 1
        self._out = bytearray()
        self._last_sent: float | None = None
        self._last_heard: float | None = None
        self._sent_untimed = False  # something went out since the last time stamp
        self._ping_out = False

    # -- outgoing --

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    @property
    def subscriptions(self) -> dict[str, int]:
        return dict(self._subscriptions)

    def _sent(self, now: float | None) -> None:
        if now is None:
            self._sent_untimed = True
        else:
            self._last_sent = now

    def connect(self, now: float | None = None) -> bytes:
        self._reset_connection(now)
        return self._connect_bytes

    def resume(self, now: float | None = None) -> bytes:
        """Bytes that open a new connection: CONNECT, re-SUBSCRIBE, unacked QoS 1 publishes with DUP."""
        self._reset_connection(now)
        parts = [self._connect_bytes]
        if self._subscriptions:
            pid = self._new_id()
            filters = tuple(self._subscriptions.items())
            self._pending_sub[pid] = filters
            parts.append(Subscribe(pid, filters).encode())
        for p in self._inflight.values():
            parts.append(encode_publish(p.topic, p.payload, 1, p.retain, True, p.packet_id))
        return b"".join(parts)

    def _reset_connection(self, now: float | None) -> None:
        self.connected = False
        self.expired = False
        self._parser = Parser(self.max_packet)
        self._pending_sub.clear()
        self._pending_unsub.clear()
        self._out.clear()
        self._ping_out = False
        self._last_heard = now
        self._last_sent = now
        self._sent_untimed = now is None

    def _new_id(self) -> int:
        busy = self._inflight
        for _ in range(65535):
            pid = self._next_id
            self._next_id = pid + 1 if pid < 65535 else 1
            if pid not in busy and pid not in self._pending_sub and pid not in self._pending_unsub:
                return pid
        raise MqttProtocolError("all 65535 packet ids are in use")

    def subscribe(
        self, filters_with_qos: Iterable[tuple[str, int]], now: float | None = None
    ) -> tuple[int, bytes]:
        filters = tuple((f, q) for f, q in filters_with_qos)
        for f, q in filters:
            check_filter(f)
            _check_qos(q, "subscription %r" % f)
        if not filters:
            raise MqttProtocolError("subscribe needs at least one topic filter")
        pid = self._new_id()
        data = Subscribe(pid, filters).encode()
        self._pending_sub[pid] = filters
        self._sent(now)
        return pid, data

    def unsubscribe(self, filters: Iterable[str], now: float | None = None) -> tuple[int, bytes]:
        fs = tuple(filters)
        pid = self._new_id()
        data = Unsubscribe(pid, fs).encode()
        self._pending_unsub[pid] = fs
        self._sent(now)
        return pid, data

    def publish(
        self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False, now: float | None = None
    ) -> bytes | None:
        """The PUBLISH bytes, or None when max_inflight QoS 1 messages are unacked (back-pressure)."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        elif not isinstance(payload, bytes):
            payload = bytes(payload)
        if qos == 1:
            if len(self._inflight) >= self.max_inflight:
                return None
            pid = self._new_id()
            data = encode_publish(topic, payload, 1, retain, False, pid)
            self._inflight[pid] = Publish(topic, payload, 1, retain, False, pid)
        else:
            data = encode_publish(topic, payload, qos, retain)
        self._sent(now)
        return data

    def disconnect(self) -> bytes:
        self.connected = False
        return DISCONNECT_BYTES

    def pending_output(self) -> bytes:
        """Replies queued by receive() (PUBACKs); empties the queue."""
        if not self._out:
            return b""
        data = bytes(self._out)
        self._out.clear()
        return data

    # -- incoming --

    @property
    def buffered(self) -> int:
        """Received bytes not yet decoded (a partial packet, or packets held back by a receive limit)."""
        return self._parser.buffered

    def receive(self, data: bytes, now: float, limit: int | None = None) -> list[Event]:
        """Events for the packets completed by `data` (at most `limit` packets; the rest stay buffered)."""
        packets = self._parser.feed(data, limit)
        if not packets:
            return []
        self._last_heard = now
        self._ping_out = False
        events: list[Event] = []
        for p in packets:
            if type(p) is Publish:
                if p.qos == 1:
                    self._out += b"\x40\x02" + _pack_u16(p.packet_id)
                    self._sent(now)
                events.append(Message(p.topic, p.payload, p.qos, p.retain, p.packet_id))
            elif type(p) is PubAck:
                if self._inflight.pop(p.packet_id, None) is not None:
                    events.append(PublishAcked(p.packet_id))
            elif type(p) is ConnAck:
                if self.connected:
                    raise MqttProtocolError("a second CONNACK on one connection")
                self.connected = p.rc == 0
                events.append(Connected(p.session_present, p.rc))
            elif type(p) is SubAck:
                filters = self._pending_sub.pop(p.packet_id, None)
                if filters is None:
                    raise MqttProtocolError("SUBACK for unknown packet id %d" % p.packet_id)
                if len(p.granted) != len(filters):
                    raise MqttProtocolError(
                        "SUBACK %d has %d return codes for %d filters"
                        % (p.packet_id, len(p.granted), len(filters))
                    )
                for (f, _), code in zip(filters, p.granted, strict=True):
                    if code == SUBACK_FAILURE:
                        self._subscriptions.pop(f, None)
                    else:
                        self._subscriptions[f] = code
                events.append(Subscribed(p.packet_id, p.granted))
            elif type(p) is UnsubAck:
                ufilters = self._pending_unsub.pop(p.packet_id, None)
                if ufilters is None:
                    raise MqttProtocolError("UNSUBACK for unknown packet id %d" % p.packet_id)
                for f in ufilters:
                    self._subscriptions.pop(f, None)
                events.append(Unsubscribed(p.packet_id))
            elif type(p) is PingResp:
                events.append(Pong())
            else:
                raise MqttProtocolError("a server must not send %s" % type(p).__name__.upper())
        return events

    # -- time --

    def heard(self, now: float) -> None:
        """Count the server as heard at `now`: for an I/O layer that stopped reading on purpose (its
        receive queue is full), whose unread socket data holds the server's packets."""
        self._last_heard = now
        self._ping_out = False

    def tick(self, now: float) -> bytes:
        """PINGREQ when nothing was sent or heard for keepalive seconds; sets `expired` when nothing was
        heard for 1.5 x keepalive."""
        if self._sent_untimed or self._last_sent is None:
            self._last_sent = now
            self._sent_untimed = False
        if self._last_heard is None:
            self._last_heard = now
        ka = self.keepalive
        if not ka or self.expired:
            return b""
        if now - self._last_heard >= 1.5 * ka:
            self.expired = True
            return b""
        if not self._ping_out and (now - self._last_sent >= ka or now - self._last_heard >= ka):
            self._ping_out = True
            self._last_sent = now
            return PINGREQ_BYTES
        return b""

    def next_tick(self, now: float) -> float:
        """Seconds until tick() may have something to do (a timer hint for the I/O layer)."""
        ka = self.keepalive
        if not ka:
            return 3600.0
        last_sent = now if self._last_sent is None else self._last_sent
        last_heard = now if self._last_heard is None else self._last_heard
        due = min(last_sent + ka, last_heard + ka) if not self._ping_out else last_heard + 1.5 * ka
        return max(0.05, min(due - now, ka / 2))
