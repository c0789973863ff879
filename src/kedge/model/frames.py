"""Frames of kedge's native hub lane (WebSocket binary frames, QUIC stream frames).

One frame carries a batch: `[messages, acks]`, a MessagePack array of two arrays.
- `messages`: Messages in the flat positional form of `codec` (`[msg_id, ..., content_kind, content]`).
- `acks`: ids of messages the sender persisted and acknowledges with KubeEdge's success content
  ("OK"); an ack carries only the id, so a batch of 64 acks costs one small frame instead of 64
  response messages. Failures still travel as full `error` messages with a `parent_msg_id`.

Batching is the lever the measurements point at (reference/transport-measurements.md §2): per-frame
costs (one TLS record, one write, one parse, one wake-up) dominate per-byte costs, so 10-32 messages
per frame cost 8-16x less per message than one each.
"""

from collections.abc import Sequence

import msgspec

from kedge.model.codec import (
    CONTENT_RAW_JSON,
    CONTENT_VALUE,
    MessageDecodeError,
    _NativeMessage,
    native_tuple,
)
from kedge.model.message import Message, MessageHeader, MessageRoute

#: Largest frame a peer accepts (bytes); larger frames close the session as a protocol error.
MAX_FRAME = 16 * 1024 * 1024


class _Frame(msgspec.Struct, array_like=True):
    messages: list[_NativeMessage] = []
    acks: list[str] = []


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Frame)


def encode_frame(messages: Sequence[Message] = (), acks: Sequence[str] = ()) -> bytes:
    return _encoder.encode(([native_tuple(m) for m in messages], acks))


def _message(n: _NativeMessage) -> Message:
    content = n.content
    kind = n.content_kind
    if kind == CONTENT_RAW_JSON:
        if not isinstance(content, bytes):
            raise MessageDecodeError(
                "malformed frame: message %r: raw JSON content must be bytes, got %s"
                % (n.msg_id, type(content).__name__)
            )
        content = msgspec.Raw(content)
    elif kind != CONTENT_VALUE:
        raise MessageDecodeError("malformed frame: message %r: unknown content kind %d" % (n.msg_id, kind))
    return Message(
        MessageHeader(n.msg_id, n.parent_msg_id, n.timestamp, n.resourceversion, n.sync, n.type),
        MessageRoute(n.source, n.destination, n.group, n.operation, n.resource),
        content,
    )


def decode_frame(data: bytes | memoryview) -> tuple[list[Message], list[str]]:
    """(messages, acks) of one frame; MessageDecodeError names what is wrong and where."""
    try:
        f = _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        raise MessageDecodeError("malformed frame: %s" % (e,)) from None
    return [_message(n) for n in f.messages], f.acks
