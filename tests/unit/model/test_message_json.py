"""Message JSON codec: KubeEdge's exact shape, raw content passthrough, clear errors."""

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.model import constants as c
from kedge.model.codec import MessageDecodeError, decode_content, decode_json, encode_json, raw_json
from kedge.model.message import Message, MessageHeader, MessageRoute, new_error, new_message, new_response

# Frames as a real KubeEdge edgecore v1.23.1 sent them (shared/reference/kubeedge-wire.md §3.3, §4).
KEEPALIVE = (
    b'{"header":{"msg_id":"ddc74705-298f-4886-91f5-a235e3f3b40b","timestamp":1795317305920},'
    b'"route":{"source":"websocket","group":"resource","operation":"keepalive","resource":"node"},'
    b'"content":"ping"}'
)
ACK = (
    b'{"header":{"msg_id":"f9ca1bc6-0000-4000-8000-000000000000",'
    b'"parent_msg_id":"11111111-1111-4111-8111-000000000001","timestamp":1795317341044},'
    b'"route":{"source":"edgecontroller","group":"resource","operation":"response","resource":"default/pod/nginx"},'
    b'"content":"OK"}'
)
EMPTY_ON_SHUTDOWN = b'{"header":{"msg_id":"","timestamp":0},"route":{},"content":null}'


@pytest.mark.parametrize("frame", [KEEPALIVE, ACK])
def test_kubeedge_frames_round_trip_byte_for_byte(frame: bytes) -> None:
    assert encode_json(decode_json(frame)) == frame


def test_trailing_newline_from_go_encoder_is_accepted() -> None:
    msg = decode_json(KEEPALIVE + b"\n")
    assert msg.route.operation == c.KEEPALIVE
    assert decode_content(msg) == "ping"


def test_empty_shutdown_message_is_tolerated() -> None:
    msg = decode_json(EMPTY_ON_SHUTDOWN)
    assert msg.header.msg_id == ""
    assert msg.route == MessageRoute()
    assert decode_content(msg) is None


def test_ack_fields() -> None:
    msg = decode_json(ACK)
    assert msg.parent_id == "11111111-1111-4111-8111-000000000001"
    assert msg.operation == c.RESPONSE
    assert msg.resource == "default/pod/nginx"
    assert decode_content(msg) == c.ACK_OK


def test_key_order_and_omitempty_match_go() -> None:
    msg = Message(
        MessageHeader("id1", "p1", 5, "42", True, "t"),
        MessageRoute("s", "d", "g", "o", "r"),
        {"k": 1},
    )
    assert encode_json(msg) == (
        b'{"header":{"msg_id":"id1","parent_msg_id":"p1","timestamp":5,"resourceversion":"42","sync":true,'
        b'"type":"t"},"route":{"source":"s","destination":"d","group":"g","operation":"o","resource":"r"},'
        b'"content":{"k":1}}'
    )
    bare = Message(MessageHeader("id2", timestamp=7), MessageRoute(source="s"), "x")
    assert (
        encode_json(bare) == b'{"header":{"msg_id":"id2","timestamp":7},"route":{"source":"s"},"content":"x"}'
    )


def test_kubernetes_object_content_is_forwarded_without_reencoding() -> None:
    # Key order and spacing of the object must survive: it is never decoded on the way through.
    obj = b'{"metadata":{"name":"nginx","uid":"u1"},  "kind":"Pod","apiVersion":"v1"}'
    frame = (
        b'{"header":{"msg_id":"m","timestamp":1,"resourceversion":"100"},'
        b'"route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"default/pod/nginx"},'
        b'"content":' + obj + b"}"
    )
    msg = decode_json(frame)
    assert type(msg.content) is msgspec.Raw
    assert bytes(msg.content) == obj
    assert encode_json(msg) == frame
    assert decode_content(msg)["metadata"]["name"] == "nginx"


def test_raw_json_helper_encodes_once() -> None:
    msg = new_message(source="a", group="b", operation="c", resource="d", content=raw_json({"x": [1, 2]}))
    assert decode_content(decode_json(encode_json(msg))) == {"x": [1, 2]}


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        (b"this is not json", "JSON is malformed"),
        (b"", "malformed"),
        (b'{"header":"x"}', "$.header"),
        (b'{"header":{"msg_id":5}}', "$.header.msg_id"),
        (b'{"header":{"timestamp":"yesterday"}}', "$.header.timestamp"),
        (b'{"route":{"operation":["insert"]}}', "$.route.operation"),
        (b"[1,2,3]", "Expected `object`"),
        (b'{"header":{"msg_id":"a"}', "truncated"),
    ],
)
def test_malformed_frames_raise_errors_naming_the_problem(frame: bytes, needle: str) -> None:
    with pytest.raises(MessageDecodeError) as ei:
        decode_json(frame)
    assert needle in str(ei.value)
    assert str(ei.value).startswith("malformed JSON message")


def test_malformed_raw_content_is_reported_when_decoded() -> None:
    msg = Message(MessageHeader("m"), MessageRoute(), msgspec.Raw(b"{broken"))
    with pytest.raises(MessageDecodeError, match="malformed JSON content"):
        decode_content(msg)


def test_new_message_response_and_error() -> None:
    req = new_message(
        source="edgecontroller",
        group=c.GROUP_RESOURCE,
        operation=c.INSERT,
        resource="default/pod/nginx",
        resourceversion="7",
        timestamp=123,
    )
    assert len(req.header.msg_id) == 36 and req.header.timestamp == 123
    resp = new_response(req)
    assert resp.header.parent_msg_id == req.header.msg_id
    assert resp.header.msg_id != req.header.msg_id
    assert resp.header.resourceversion == ""  # acks carry no resourceversion (kubeedge-wire.md §0.6)
    assert (resp.route.source, resp.route.group, resp.route.operation, resp.route.resource) == (
        "edgecontroller",
        c.GROUP_RESOURCE,
        c.RESPONSE,
        "default/pod/nginx",
    )
    assert resp.content == c.ACK_OK
    err = new_error(req, "failed to insert")
    assert err.route.operation == c.ERROR and err.content == "failed to insert"


_text = st.text(max_size=20)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
messages = st.builds(
    Message,
    st.builds(MessageHeader, _text, _text, st.integers(0, 2**62), _text, st.booleans(), _text),
    st.builds(MessageRoute, _text, _text, _text, _text, _text),
    _json_values,
)


@given(messages)
def test_json_round_trip(msg: Message) -> None:
    out = decode_json(encode_json(msg))
    assert out.header == msg.header
    assert out.route == msg.route
    assert decode_content(out) == msg.content
    assert encode_json(out) == encode_json(msg)
