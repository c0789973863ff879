"""Message codecs, each encoder/decoder created once per process.

JSON (KubeEdge-compatible lane): one Message per JSON document, KubeEdge's field names. Decoding keeps
`content` as `msgspec.Raw` (the bytes of the JSON value), so a Kubernetes object is forwarded without
being decoded or re-encoded; `decode_content` decodes it when a module needs the value.

MessagePack (kedge native lane): a flat positional array, cheaper than a map:
`[msg_id, parent_msg_id, timestamp, resourceversion, sync, type,
  source, destination, group, operation, resource, content_kind, content]`.
content_kind 0: content is a MessagePack value; 1: content is raw JSON bytes (a `msgspec.Raw` in memory).
Schema evolution: append new fields at the end, with defaults; never reorder.
"""

from typing import Any

import msgspec

from kedge.model.message import Message, MessageHeader, MessageRoute

CONTENT_VALUE = 0
CONTENT_RAW_JSON = 1


class MessageDecodeError(ValueError):
    """A frame that is not a valid Message; the text says what and where (`$.header.msg_id`...)."""


class _NativeMessage(msgspec.Struct, array_like=True):
    msg_id: str = ""
    parent_msg_id: str = ""
    timestamp: int = 0
    resourceversion: str = ""
    sync: bool = False
    type: str = ""
    source: str = ""
    destination: str = ""
    group: str = ""
    operation: str = ""
    resource: str = ""
    content_kind: int = CONTENT_VALUE
    content: Any = None


_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder(Message)
_json_value_decoder = msgspec.json.Decoder()
_msgpack_encoder = msgspec.msgpack.Encoder()
_msgpack_decoder = msgspec.msgpack.Decoder(_NativeMessage)


def encode_json(msg: Message) -> bytes:
    return _json_encoder.encode(msg)


def decode_json(data: bytes | str | memoryview) -> Message:
    try:
        return _json_decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:  # ValidationError is a DecodeError too
        raise MessageDecodeError("malformed JSON message: %s" % (e,)) from None


def native_tuple(msg: Message) -> tuple:
    """The flat positional form of a message (see the module docstring), ready for MessagePack."""
    h = msg.header
    r = msg.route
    content = msg.content
    if type(content) is msgspec.Raw:
        kind = CONTENT_RAW_JSON
        content = memoryview(content)
    else:
        kind = CONTENT_VALUE
    return (
        h.msg_id,
        h.parent_msg_id,
        h.timestamp,
        h.resourceversion,
        h.sync,
        h.type,
        r.source,
        r.destination,
        r.group,
        r.operation,
        r.resource,
        kind,
        content,
    )


def encode_msgpack(msg: Message) -> bytes:
    return _msgpack_encoder.encode(native_tuple(msg))


def decode_msgpack(data: bytes | memoryview) -> Message:
    try:
        n = _msgpack_decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        raise MessageDecodeError("malformed MessagePack message: %s" % (e,)) from None
    content = n.content
    if n.content_kind == CONTENT_RAW_JSON:
        if not isinstance(content, bytes):
            raise MessageDecodeError(
                "malformed MessagePack message: raw JSON content must be bytes, got %s"
                % type(content).__name__
            )
        content = msgspec.Raw(content)
    elif n.content_kind != CONTENT_VALUE:
        raise MessageDecodeError("malformed MessagePack message: unknown content kind %d" % n.content_kind)
    return Message(
        MessageHeader(n.msg_id, n.parent_msg_id, n.timestamp, n.resourceversion, n.sync, n.type),
        MessageRoute(n.source, n.destination, n.group, n.operation, n.resource),
        content,
    )


def decode_content(msg: Message) -> Any:
    """The content as a Python value (decodes raw JSON content; other content is returned as is)."""
    content = msg.content
    if type(content) is msgspec.Raw:
        try:
            return _json_value_decoder.decode(content)
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            raise MessageDecodeError("malformed JSON content: %s" % (e,)) from None
    return content


def raw_json(value: Any) -> msgspec.Raw:
    """Encode a value once as JSON and carry it as raw content from then on."""
    return msgspec.Raw(_json_encoder.encode(value))
