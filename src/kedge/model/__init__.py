"""Wire and in-process data: beehive Message, resource strings, codecs. Pure: no I/O."""

from kedge.model.codec import (
    MessageDecodeError,
    decode_content,
    decode_json,
    decode_msgpack,
    encode_json,
    encode_msgpack,
)
from kedge.model.message import Message, MessageHeader, MessageRoute, new_error, new_message, new_response
from kedge.model.resource import Resource, ResourceError, build_cloud, build_wire, parse_cloud, parse_wire

__all__ = [
    "Message",
    "MessageDecodeError",
    "MessageHeader",
    "MessageRoute",
    "Resource",
    "ResourceError",
    "build_cloud",
    "build_wire",
    "decode_content",
    "decode_json",
    "decode_msgpack",
    "encode_json",
    "encode_msgpack",
    "new_error",
    "new_message",
    "new_response",
    "parse_cloud",
    "parse_wire",
]
