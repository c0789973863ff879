"""RFC 6455 handshake and framing, sans-IO (kedge.proto.websocket)."""

import base64
import itertools
import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.proto import websocket as ws
from kedge.proto.websocket import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameParser,
    HandshakeError,
    WSProtocolError,
    encode_frame,
)

# kubeedge-wire.md §3.1, on the 3rd dial of a connect cycle (Connectionuse repeated 3 times).
KUBEEDGE_UPGRADE = (
    b"GET /e632aba927ea4ac2b575ec1603d56f10/edge-node-1/events HTTP/1.1\r\n"
    b"Host: 127.0.0.1:10000\r\n"
    b"User-Agent: Go-http-client/1.1\r\n"
    b"Connection: Upgrade\r\n"
    b"Connectionuse: msg\r\n"
    b"Connectionuse: msg\r\n"
    b"Connectionuse: msg\r\n"
    b"Node_id: edge-node-1\r\n"
    b"Project_id: e632aba927ea4ac2b575ec1603d56f10\r\n"
    b"Sec-WebSocket-Key: OtjqYsLsWJTme0AYaxtu8Q==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Upgrade: websocket\r\n"
    b"\r\n"
)
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def upgrade(*extra: str, drop: str = "", path: str = "/p/n/events", method: str = "GET") -> bytes:
    headers = {
        "Host": "h:1",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    headers.pop(drop, None)
    lines = ["%s %s HTTP/1.1" % (method, path)] + ["%s: %s" % kv for kv in headers.items()] + list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reject_status(buf: bytes) -> HandshakeError:
    with pytest.raises(HandshakeError) as e:
        ws.parse_request(buf)
    return e.value


# --- handshake ---------------------------------------------------------------------------------------


def test_accept_key_is_the_rfc_6455_example() -> None:
    assert ws.accept_key(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_kubeedge_upgrade_with_repeated_connectionuse_parses() -> None:
    req, used = ws.parse_request(KUBEEDGE_UPGRADE + b"\x81\x80rest")
    assert used == len(KUBEEDGE_UPGRADE)
    assert req.method == "GET"
    assert req.path == "/e632aba927ea4ac2b575ec1603d56f10/edge-node-1/events"
    assert req.headers.get("node_id") == "edge-node-1"
    assert req.headers["PROJECT_ID"] == "e632aba927ea4ac2b575ec1603d56f10"
    assert req.headers.get("ConnectionUse") == "msg"
    assert req.headers.get_all("connectionuse") == ["msg", "msg", "msg"]
    assert req.subprotocols == []
    assert "Sec-WebSocket-Protocol" not in req.headers


def test_first_value_of_a_repeated_header_wins() -> None:
    req, _ = ws.parse_request(upgrade("node_id: first", "Node_Id: second"))
    assert req.headers.get("NODE_ID") == "first"


def test_request_fed_byte_by_byte_completes_exactly_at_the_end() -> None:
    buf = b""
    for i, b in enumerate(KUBEEDGE_UPGRADE):
        buf += bytes((b,))
        result = ws.parse_request(buf)
        if i < len(KUBEEDGE_UPGRADE) - 1:
            assert result is None
    assert result is not None and result[1] == len(KUBEEDGE_UPGRADE)


def test_subprotocols_from_repeated_and_comma_separated_headers() -> None:
    req, _ = ws.parse_request(
        upgrade("Sec-WebSocket-Protocol: a, kedge.msgpack.v1", "Sec-WebSocket-Protocol: c")
    )
    assert req.subprotocols == ["a", "kedge.msgpack.v1", "c"]


@pytest.mark.parametrize(
    ("buf", "status", "names"),
    [
        (upgrade(method="POST"), 400, "GET"),
        (upgrade(drop="Upgrade"), 426, "Upgrade"),
        (upgrade("Upgrade: h2c", drop="Upgrade"), 426, "Upgrade"),
        (upgrade(drop="Connection"), 400, "Connection"),
        (upgrade("Connection: keep-alive", drop="Connection"), 400, "Connection"),
        (upgrade(drop="Sec-WebSocket-Version"), 426, "Sec-WebSocket-Version"),
        (upgrade("Sec-WebSocket-Version: 8", drop="Sec-WebSocket-Version"), 426, "Sec-WebSocket-Version"),
        (upgrade(drop="Sec-WebSocket-Key"), 400, "Sec-WebSocket-Key"),
        (upgrade("Sec-WebSocket-Key: c2hvcnQ=", drop="Sec-WebSocket-Key"), 400, "Sec-WebSocket-Key"),
        (upgrade("Sec-WebSocket-Key: not base64!!", drop="Sec-WebSocket-Key"), 400, "Sec-WebSocket-Key"),
        (upgrade("Content-Length: 5"), 400, "Content-Length"),
        (upgrade("no colon here"), 400, "malformed header"),
        (upgrade(" folded: value"), 400, "malformed header"),
        (b"GET / HTTP/1.0\r\n\r\n", 400, "HTTP/1.1"),
    ],
)
def test_invalid_upgrades_are_rejected_naming_the_problem(buf: bytes, status: int, names: str) -> None:
    err = reject_status(buf)
    assert err.status == status
    assert names in err.reason


def test_garbage_is_rejected_on_its_first_line() -> None:
    assert reject_status(b"\x16\x03\x01\x02\x00\x01\x00\r\n").status == 400


def test_oversized_request_is_rejected() -> None:
    assert ws.parse_request(b"GET / HTTP/1.1\r\nX: " + b"a" * 1000) is None
    err = reject_status(b"GET / HTTP/1.1\r\nX: " + b"a" * ws.MAX_HANDSHAKE)
    assert err.status == 431 and "16384" in err.reason


def test_accept_response_selects_an_offered_subprotocol() -> None:
    req, _ = ws.parse_request(upgrade("Sec-WebSocket-Protocol: kedge.msgpack.v1"))
    resp = ws.accept_response(req, "kedge.msgpack.v1")
    assert resp.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in resp
    assert b"Sec-WebSocket-Protocol: kedge.msgpack.v1\r\n" in resp
    assert resp.endswith(b"\r\n\r\n")
    with pytest.raises(ValueError, match="not offered"):
        ws.accept_response(req, "other")
    assert b"Sec-WebSocket-Protocol" not in ws.accept_response(req, None)


def test_reject_response_carries_the_reason_as_text() -> None:
    resp = ws.reject_response(403, "node edge-1 is not allowed")
    head, _, body = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"Connection: close" in head and b"Content-Length: 26" in head
    assert body == b"node edge-1 is not allowed"
    assert b"Sec-WebSocket-Version: 13" in ws.reject_response(426, "x")


def test_client_request_round_trips_through_the_server_parser() -> None:
    key = ws.make_key(bytes(range(16)))
    raw = ws.client_request(
        "10.0.0.1:10000",
        "/p/n/events",
        [("ConnectionUse", "msg"), ("node_id", "n")],
        ["kedge.msgpack.v1"],
        key,
    )
    req, used = ws.parse_request(raw)
    assert used == len(raw) and req.key == key and req.subprotocols == ["kedge.msgpack.v1"]
    assert req.headers.get("host") == "10.0.0.1:10000" and req.headers.get("NODE_ID") == "n"
    with pytest.raises(ValueError):
        ws.client_request("h", "/p", [("x", "a\r\nInjected: 1")], [], key)
    with pytest.raises(ValueError):
        ws.make_key(b"short")


def test_parse_response_101_validates_the_accept_key() -> None:
    req, _ = ws.parse_request(upgrade("Sec-WebSocket-Protocol: kedge.msgpack.v1"))
    ok = ws.accept_response(req, "kedge.msgpack.v1")
    resp, used = ws.parse_response(ok + b"\x82\x00", KEY, ["kedge.msgpack.v1"])
    assert resp.status == 101 and resp.subprotocol == "kedge.msgpack.v1" and used == len(ok)
    for i in range(len(ok)):
        assert ws.parse_response(ok[:i], KEY) is None
    with pytest.raises(HandshakeError, match="Sec-WebSocket-Accept"):
        ws.parse_response(ok, ws.make_key(b"x" * 16))
    with pytest.raises(HandshakeError, match="not offered"):
        ws.parse_response(ok, KEY, [])
    ext = ok.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    with pytest.raises(HandshakeError, match="extension"):
        ws.parse_response(ext, KEY)


def test_parse_response_non_101_waits_for_its_body() -> None:
    raw = ws.reject_response(403, "go away")
    assert ws.parse_response(raw[:-1], KEY) is None
    resp, used = ws.parse_response(raw, KEY)
    assert (resp.status, resp.reason, resp.body, used) == (403, "Forbidden", b"go away", len(raw))
    with pytest.raises(HandshakeError) as e:
        ws.parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", KEY)
    assert e.value.status == 0


# --- frames --------------------------------------------------------------------------------------------


def parse_all(data: bytes, *, masked: bool = True, max_message: int = 1 << 20) -> list[tuple[int, bytes]]:
    return FrameParser(expect_masked=masked, max_message=max_message).feed(data)


@pytest.mark.parametrize(("size", "head"), [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10), (70000, 10)])
def test_length_encodings(size: int, head: int) -> None:
    payload = os.urandom(size)
    frame = encode_frame(OP_BINARY, payload)
    assert len(frame) == head + size
    assert frame[1] & 0x7F == (size if head == 2 else 126 if head == 4 else 127)
    assert parse_all(frame, masked=False) == [(OP_BINARY, payload)]
    masked = encode_frame(OP_BINARY, payload, mask=b"\x01\x02\x03\x04")
    assert len(masked) == head + 4 + size
    assert parse_all(masked) == [(OP_BINARY, payload)]


def test_masking_round_trip_matches_the_rfc_definition() -> None:
    payload = b"Hello, kedge! " * 7 + b"xyz"
    mask = b"\x37\xfa\x21\x3d"
    frame = encode_frame(OP_TEXT, payload, mask=mask)
    assert frame[:2] == bytes((0x81, 0x80 | len(payload))) and frame[2:6] == mask
    assert frame[6:] == bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert parse_all(frame) == [(OP_TEXT, payload)]
    # RFC 6455 §5.7: a masked "Hello"
    assert parse_all(bytes.fromhex("818537fa213d7f9f4d5158")) == [(OP_TEXT, b"Hello")]


def test_fragmented_message_with_interleaved_control_frames() -> None:
    m = b"\xaa\xbb\xcc\xdd"
    data = (
        encode_frame(OP_TEXT, b"Hel", mask=m, fin=False)
        + encode_frame(OP_PING, b"p", mask=m)
        + encode_frame(OP_CONTINUATION, b"lo ", mask=m, fin=False)
        + encode_frame(OP_CONTINUATION, b"world", mask=m)
        + encode_frame(OP_BINARY, b"next", mask=m)
    )
    assert parse_all(data) == [(OP_PING, b"p"), (OP_TEXT, b"Hello world"), (OP_BINARY, b"next")]


def test_feeding_byte_by_byte_gives_the_same_messages() -> None:
    m = b"\x00\xff\x10\x20"
    data = b"".join(
        [
            encode_frame(OP_BINARY, os.urandom(300), mask=m),
            encode_frame(OP_TEXT, b"a", mask=m, fin=False),
            encode_frame(OP_CONTINUATION, os.urandom(70000), mask=m),
            encode_frame(OP_CLOSE, ws.encode_close(1000, "bye"), mask=m),
        ]
    )
    whole = parse_all(data)
    p = FrameParser(expect_masked=True, max_message=1 << 20)
    pieces = [msg for i in range(len(data)) for msg in p.feed(data[i : i + 1])]
    assert pieces == whole and len(whole) == 3


def test_control_frames_come_back_individually() -> None:
    data = encode_frame(OP_PING, b"hi") + encode_frame(OP_PONG, b"") + encode_frame(OP_CLOSE, b"")
    assert parse_all(data, masked=False) == [(OP_PING, b"hi"), (OP_PONG, b""), (OP_CLOSE, b"")]


def test_encode_refuses_invalid_frames() -> None:
    with pytest.raises(ValueError):
        encode_frame(OP_PING, b"x" * 126)
    with pytest.raises(ValueError):
        encode_frame(OP_CLOSE, b"", fin=False)
    with pytest.raises(ValueError):
        encode_frame(0x3, b"")
    with pytest.raises(ValueError):
        encode_frame(OP_TEXT, b"", mask=b"abc")


def raw_frame(b0: int, payload: bytes, *, masked: bool = True, length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    mbit = 0x80 if masked else 0
    head = bytes((b0, mbit | n)) if n < 126 else struct.pack("!BBH", b0, mbit | 126, n)
    return head + (b"\0\0\0\0" if masked else b"") + payload


@pytest.mark.parametrize(
    ("data", "masked", "code", "words"),
    [
        (raw_frame(0x80 | 0x40 | OP_TEXT, b"x"), True, 1002, "reserved"),
        (raw_frame(0x80 | 0x10 | OP_TEXT, b"x"), True, 1002, "reserved"),
        (raw_frame(0x80 | 0x3, b""), True, 1002, "opcode 0x3"),
        (raw_frame(0x80 | 0xB, b""), True, 1002, "opcode 0xb"),
        (raw_frame(OP_PING, b"x"), True, 1002, "fragmented control"),
        (raw_frame(0x80 | OP_PING, b"x" * 126), True, 1002, "control frame payload"),
        (raw_frame(0x80 | OP_TEXT, b"x", masked=False), True, 1002, "unmasked"),
        (raw_frame(0x80 | OP_TEXT, b"x", masked=True), False, 1002, "masked frame from the server"),
        (raw_frame(0x80 | OP_CONTINUATION, b"x"), True, 1002, "continuation"),
        (raw_frame(OP_TEXT, b"a") + raw_frame(0x80 | OP_BINARY, b"b"), True, 1002, "inside a fragmented"),
        (raw_frame(0x80 | OP_BINARY, b"x" * 101), True, 1009, "over 100"),
        (
            raw_frame(OP_BINARY, b"x" * 60) + raw_frame(0x80 | OP_CONTINUATION, b"x" * 41),
            True,
            1009,
            "over 100",
        ),
        (b"\x82\xff" + (1 << 63).to_bytes(8, "big"), True, 1002, "top bit"),
    ],
)
def test_protocol_errors_carry_their_close_code(data: bytes, masked: bool, code: int, words: str) -> None:
    with pytest.raises(WSProtocolError) as e:
        parse_all(data, masked=masked, max_message=100)
    assert e.value.close_code == code
    assert words in e.value.reason


def test_oversized_message_is_refused_from_its_header_alone() -> None:
    p = FrameParser(expect_masked=True, max_message=1000)
    with pytest.raises(WSProtocolError) as e:
        p.feed(struct.pack("!BBQ", 0x82, 0xFF, 10**9))  # no payload yet
    assert e.value.close_code == ws.CLOSE_TOO_BIG


def test_invalid_utf8_text_is_left_to_the_json_decoder() -> None:
    assert parse_all(encode_frame(OP_TEXT, b"\xff\xfe", mask=b"abcd")) == [(OP_TEXT, b"\xff\xfe")]


def test_close_payloads() -> None:
    assert ws.parse_close(ws.encode_close(1000, "bye")) == (1000, "bye")
    assert ws.parse_close(b"") == (ws.CLOSE_NO_STATUS, "")
    long = ws.encode_close(1008, "é" * 100)
    assert len(long) <= 125 and ws.parse_close(long)[1] == "é" * 61
    for bad, code in [(b"\x03", 1002), (struct.pack("!H", 999), 1002), (struct.pack("!H", 1005), 1002)]:
        with pytest.raises(WSProtocolError) as e:
            ws.parse_close(bad)
        assert e.value.close_code == code
    with pytest.raises(WSProtocolError) as e:
        ws.parse_close(struct.pack("!H", 1000) + b"\xff")
    assert e.value.close_code == ws.CLOSE_BAD_PAYLOAD
    assert ws.parse_close(struct.pack("!H", 4000))[0] == 4000


# --- fuzz ------------------------------------------------------------------------------------------------


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@given(st.binary(max_size=600), st.lists(st.integers(min_value=0), max_size=8), st.booleans())
def test_parser_on_arbitrary_bytes_raises_only_protocol_errors(
    data: bytes, cuts: list[int], masked: bool
) -> None:
    whole: list | WSProtocolError
    try:
        whole = parse_all(data, masked=masked, max_message=200)
    except WSProtocolError as e:
        whole = e
    p = FrameParser(expect_masked=masked, max_message=200)
    got: list = []
    try:
        for piece in split(data, cuts):
            got += p.feed(piece)
    except WSProtocolError as e:
        assert isinstance(whole, WSProtocolError) and e.close_code == whole.close_code
    else:
        assert got == whole


frames_strategy = st.lists(
    st.tuples(st.sampled_from([OP_TEXT, OP_BINARY]), st.binary(max_size=300), st.integers(1, 3)), max_size=6
)


@given(frames_strategy, st.lists(st.integers(min_value=0), max_size=10), st.binary(min_size=4, max_size=4))
def test_encoded_messages_survive_fragmentation_and_arbitrary_splits(messages, cuts, mask) -> None:
    wire = b""
    for op, payload, nfrag in messages:
        step = max(1, -(-len(payload) // nfrag))
        chunks = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
        for i, chunk in enumerate(chunks):
            wire += encode_frame(
                op if i == 0 else OP_CONTINUATION, chunk, mask=mask, fin=i == len(chunks) - 1
            )
            wire += encode_frame(OP_PING, b"k", mask=mask)
    p = FrameParser(expect_masked=True, max_message=1 << 16)
    got = [m for piece in split(wire, cuts) for m in p.feed(piece)]
    assert [m for m in got if m[0] != OP_PING] == [(op, payload) for op, payload, _ in messages]


@given(st.binary(max_size=400), st.lists(st.integers(min_value=0), max_size=6))
def test_parse_request_on_arbitrary_bytes_raises_only_handshake_errors(data: bytes, cuts: list[int]) -> None:
    buf = b""
    for piece in split(data, cuts):
        buf += piece
        try:
            ws.parse_request(buf)
        except HandshakeError as e:
            assert e.status in (400, 426, 431) and e.reason
            return


@given(st.lists(st.sampled_from(KUBEEDGE_UPGRADE.split(b"\r\n")[1:-2]), max_size=12), st.binary(max_size=40))
def test_parse_request_on_shuffled_headers(lines: list[bytes], junk: bytes) -> None:
    raw = b"GET /x HTTP/1.1\r\n" + b"".join(line + b"\r\n" for line in lines) + junk + b"\r\n\r\n"
    try:
        result = ws.parse_request(raw)
    except HandshakeError as e:
        assert e.status in (400, 426, 431)
    else:
        assert result is not None
        req, _ = result
        assert base64.b64decode(req.key) and "websocket" in req.headers["upgrade"].lower()


@given(st.binary(max_size=400))
def test_parse_response_on_arbitrary_bytes_raises_only_handshake_errors(data: bytes) -> None:
    try:
        ws.parse_response(data, KEY, ["kedge.msgpack.v1"])
    except HandshakeError:
        pass
