"""MessagePack codec (kedge native lane): round trips, raw content kept raw, clear errors."""

import msgspec
import pytest
from hypothesis import given

from kedge.model.codec import (
    CONTENT_RAW_JSON,
    MessageDecodeError,
    decode_content,
    decode_json,
    decode_msgpack,
    encode_json,
    encode_msgpack,
)
from kedge.model.message import Message, MessageHeader, MessageRoute
from tests.unit.model.test_message_json import messages


@given(messages)
def test_msgpack_round_trip(msg: Message) -> None:
    assert decode_msgpack(encode_msgpack(msg)) == msg


def test_raw_json_content_crosses_msgpack_as_bytes_and_stays_raw() -> None:
    obj = b'{"kind":"Pod","metadata":{"name":"a"}}'
    frame = b'{"header":{"msg_id":"m","timestamp":1},"route":{"operation":"insert"},"content":' + obj + b"}"
    msg = decode_json(frame)
    packed = encode_msgpack(msg)
    assert obj in packed  # carried verbatim, not re-encoded as a MessagePack map
    back = decode_msgpack(packed)
    assert type(back.content) is msgspec.Raw and bytes(back.content) == obj
    assert encode_json(back) == frame  # JSON lane -> native lane -> JSON lane is lossless
    assert decode_content(back) == {"kind": "Pod", "metadata": {"name": "a"}}


def test_msgpack_is_smaller_than_json() -> None:
    msg = Message(
        MessageHeader("6f1c" * 9, "", 1723000000000, "48213"), MessageRoute("a", "", "b", "c", "d"), "OK"
    )
    assert len(encode_msgpack(msg)) < len(encode_json(msg))


def test_older_peer_with_fewer_fields_decodes_with_defaults() -> None:
    # Schema evolution: a frame that stops after `resource` (no content fields) still decodes.
    short = msgspec.msgpack.encode(["id", "", 1, "", False, "", "src", "", "grp", "op", "res"])
    msg = decode_msgpack(short)
    assert msg.header.msg_id == "id" and msg.route.resource == "res" and msg.content is None


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        (b"\xc1", "malformed MessagePack message"),
        (msgspec.msgpack.encode({"msg_id": "x"}), "Expected `array`"),
        (msgspec.msgpack.encode([5]), "$[0]"),
        (
            msgspec.msgpack.encode(["a", "", 1, "", False, "", "", "", "", "", "", CONTENT_RAW_JSON, 7]),
            "must be bytes",
        ),
        (
            msgspec.msgpack.encode(["a", "", 1, "", False, "", "", "", "", "", "", 9, None]),
            "unknown content kind 9",
        ),
        (msgspec.msgpack.encode(["a", "", "soon"]), "$[2]"),
    ],
)
def test_malformed_msgpack_frames(frame: bytes, needle: str) -> None:
    with pytest.raises(MessageDecodeError) as ei:
        decode_msgpack(frame)
    assert needle in str(ei.value)
