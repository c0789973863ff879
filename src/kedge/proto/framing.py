"""Stream framing of kedge's QUIC lane, sans-IO: length-prefixed frames, the control-stream hello and
welcome, and which stream a message travels on.

A frame is a 4-byte big-endian body length and the body. A body on the priority or bulk streams is one
`kedge.model.frames` batch; an empty body is a no-op a client sends to open a stream.

Streams, all client-initiated bidirectional:
- 0, control: the client's `Hello`, the server's `Welcome`; nothing else.
- 4, priority: keepalives, node status and leases, and every ack, so bulk sync never delays them.
- 8, 12, ...: bulk, `bulk_streams` of them (the client chooses and announces it in the hello); a
  message goes to the one picked by a stable hash of its resource, so one object keeps its order.
"""

from __future__ import annotations

import struct
import zlib
from typing import Annotated

import msgspec

from kedge.model import constants as c
from kedge.model.message import Message

PROTOCOL_VERSION = 1
CONTROL_STREAM = 0
PRIORITY_STREAM = 4
FIRST_BULK_STREAM = 8
MAX_BULK_STREAMS = 16

#: Application error codes of the QUIC CONNECTION_CLOSE a kedge peer sends.
CLOSE_NORMAL = 0x0
CLOSE_REFUSED = 0x1  # the hub's acceptor refused the node; the reason phrase says why
CLOSE_PROTOCOL = 0x2  # a malformed frame, hello or stream use
CLOSE_INTERNAL = 0x3  # a bug on the closing side

#: Resource types that ride the priority stream (the 2nd segment of `<ns>/<type>/<name>`).
PRIORITY_TYPES = frozenset((c.NODE, c.NODESTATUS, c.NODEPATCH, c.LEASE))

_HEADER = struct.Struct(">I")
HEADER_SIZE = _HEADER.size
#: The frame of an empty body: opens a stream, carries nothing.
EMPTY_FRAME = _HEADER.pack(0)


class FramingError(ValueError):
    """A frame, hello or welcome that breaks the protocol; `reason` says what and where."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RefusedByPeer(ConnectionError):
    """The server's acceptor refused this node; `reason` is the one it sent back."""

    def __init__(self, reason: str) -> None:
        super().__init__("refused by the hub: %s" % reason)
        self.reason = reason


# -- length-prefixed frames ----------------------------------------------------------------------------


def encode(body: bytes) -> bytes:
    return _HEADER.pack(len(body)) + body


class StreamDecoder:
    """Reassembles the frames of one stream from data split anywhere."""

    __slots__ = ("_buf", "_max")

    def __init__(self, max_frame: int) -> None:
        self._max = max_frame
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back (non-zero at the end of a stream = truncated frame)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """The bodies completed by `data`, in order; FramingError for a length over max_frame."""
        if self._buf:
            self._buf += data
            buf: bytes | bytearray = self._buf
        else:
            buf = data  # the common case, whole frames in one chunk: no copy into the buffer
        bodies = []
        pos = 0
        end = len(buf)
        while end - pos >= HEADER_SIZE:
            (size,) = _HEADER.unpack_from(buf, pos)
            if size > self._max:
                raise FramingError("frame of %d bytes exceeds the limit of %d" % (size, self._max))
            stop = pos + HEADER_SIZE + size
            if stop > end:
                break
            bodies.append(bytes(buf[pos + HEADER_SIZE : stop]))
            pos = stop
        if buf is self._buf:
            del self._buf[:pos]
        elif pos < end:
            self._buf += buf[pos:]
        return bodies


# -- control stream ------------------------------------------------------------------------------------

# Kubernetes node names are DNS subdomains; the node id also becomes part of resource paths.
_NodeId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
]
_ProjectId = Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
_BulkStreams = Annotated[int, msgspec.Meta(ge=1, le=MAX_BULK_STREAMS)]
_Reason = Annotated[str, msgspec.Meta(max_length=1024)]


class Hello(msgspec.Struct, frozen=True):
    """The client's first frame on the control stream. A map, so fields can be added compatibly."""

    node_id: _NodeId
    project_id: _ProjectId
    version: int = PROTOCOL_VERSION
    bulk_streams: _BulkStreams = 2


class Welcome(msgspec.Struct, frozen=True):
    """The server's answer to the hello: admitted, or refused with a reason."""

    ok: bool
    reason: _Reason = ""


_encoder = msgspec.msgpack.Encoder()
_hello_decoder = msgspec.msgpack.Decoder(Hello)
_welcome_decoder = msgspec.msgpack.Decoder(Welcome)


def _decode(decoder: msgspec.msgpack.Decoder, what: str, body: bytes):
    try:
        return decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:  # a ValidationError names the field ($.node_id)
        raise FramingError("invalid %s: %s" % (what, e)) from None


def decode_hello(body: bytes) -> Hello:
    hello = _decode(_hello_decoder, "hello", body)
    if hello.version != PROTOCOL_VERSION:
        raise FramingError(
            "invalid hello: version %d is not supported (this side speaks %d) - at `$.version`"
            % (hello.version, PROTOCOL_VERSION)
        )
    return hello


def encode_hello(
    node_id: str, project_id: str, version: int = PROTOCOL_VERSION, *, bulk_streams: int = 2
) -> bytes:
    """The hello body; FramingError names the field a peer would refuse."""
    body = _encoder.encode(
        {"node_id": node_id, "project_id": project_id, "version": version, "bulk_streams": bulk_streams}
    )
    decode_hello(body)  # once per connection: fail here rather than at the hub
    return body


def encode_welcome(ok: bool, reason: str = "") -> bytes:
    # A reason longer than the peer accepts is cut rather than turning a refusal into a protocol error.
    return _encoder.encode(Welcome(ok, reason[:1024]))


def decode_welcome(body: bytes) -> Welcome:
    return _decode(_welcome_decoder, "welcome", body)


# -- stream routing -----------------------------------------------------------------------------------


def bulk_stream_ids(bulk_streams: int) -> tuple[int, ...]:
    return tuple(FIRST_BULK_STREAM + 4 * i for i in range(bulk_streams))


def resource_type(resource: str) -> str:
    """The `<type>` of `<ns>/<type>/<name>`; a resource without '/' is its own type."""
    i = resource.find("/")
    if i < 0:
        return resource
    j = resource.find("/", i + 1)
    return resource[i + 1 :] if j < 0 else resource[i + 1 : j]


def stream_for(message: Message, bulk_streams: int) -> int:
    """The stream a message travels on (acks always take PRIORITY_STREAM)."""
    route = message.route
    if route.operation == c.KEEPALIVE or resource_type(route.resource) in PRIORITY_TYPES:
        return PRIORITY_STREAM
    return FIRST_BULK_STREAM + 4 * (zlib.crc32(route.resource.encode()) % bulk_streams)
