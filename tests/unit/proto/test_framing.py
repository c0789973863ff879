import itertools

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.model import constants as c
from kedge.model.message import new_message
from kedge.proto import framing
from kedge.proto.framing import (
    EMPTY_FRAME,
    FramingError,
    Hello,
    StreamDecoder,
    decode_hello,
    decode_welcome,
    encode,
    encode_hello,
    encode_welcome,
)

BODIES = [b"", b"a", b"hello world", bytes(range(256)) * 3, b"\x00\x00\x00\x05"]


def test_encode_is_length_prefixed_big_endian():
    assert encode(b"abc") == b"\x00\x00\x00\x03abc"
    assert encode(b"") == EMPTY_FRAME == b"\x00\x00\x00\x00"


def test_round_trip_in_one_chunk():
    d = StreamDecoder(max_frame=1024)
    assert d.feed(b"".join(encode(b) for b in BODIES)) == BODIES
    assert d.pending == 0


def test_every_split_of_a_multi_frame_buffer():
    wire = b"".join(encode(b) for b in BODIES[:4])
    for i in range(len(wire) + 1):
        for j in range(i, len(wire) + 1, 7):  # every first cut, a spread of second cuts
            d = StreamDecoder(max_frame=1024)
            out = d.feed(wire[:i]) + d.feed(wire[i:j]) + d.feed(wire[j:])
            assert out == BODIES[:4], (i, j)
            assert d.pending == 0


def test_byte_by_byte():
    wire = b"".join(encode(b) for b in BODIES)
    d = StreamDecoder(max_frame=1024)
    out = []
    for k in range(len(wire)):
        out += d.feed(wire[k : k + 1])
    assert out == BODIES
    assert d.pending == 0


def test_pending_counts_an_incomplete_frame():
    d = StreamDecoder(max_frame=1024)
    assert d.feed(encode(b"whole") + encode(b"partial")[:6]) == [b"whole"]
    assert d.pending == 6


def test_frame_at_the_limit_passes_and_over_it_fails():
    d = StreamDecoder(max_frame=4)
    assert d.feed(encode(b"1234")) == [b"1234"]
    with pytest.raises(FramingError, match="frame of 5 bytes exceeds the limit of 4") as e:
        d.feed(b"\x00\x00\x00\x05")
    assert "exceeds" in e.value.reason


def test_oversize_is_refused_from_the_header_alone():
    # The length is checked before the body arrives: a peer cannot make us buffer 4 GiB.
    with pytest.raises(FramingError):
        StreamDecoder(max_frame=1 << 20).feed(b"\xff\xff\xff\xff")


# -- hello / welcome ------------------------------------------------------------------------------------


def test_hello_round_trip():
    hello = decode_hello(encode_hello("edge-1", "e632aba927ea4ac2b575ec1603d56f10", bulk_streams=3))
    assert hello == Hello("edge-1", "e632aba927ea4ac2b575ec1603d56f10", 1, 3)
    assert decode_hello(encode_hello("n.example", "p")).bulk_streams == 2


def _hello_body(**fields) -> bytes:
    base = {"node_id": "n1", "project_id": "p", "version": 1, "bulk_streams": 2}
    base.update(fields)
    return msgspec.msgpack.encode({k: v for k, v in base.items() if v is not ...})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"node_id": ""}, "$.node_id"),
        ({"node_id": "Bad_Node"}, "$.node_id"),
        ({"node_id": "n" * 254}, "$.node_id"),
        ({"node_id": 5}, "$.node_id"),
        ({"node_id": ...}, "`node_id`"),
        ({"project_id": ""}, "$.project_id"),
        ({"project_id": None}, "$.project_id"),
        ({"bulk_streams": 0}, "$.bulk_streams"),
        ({"bulk_streams": framing.MAX_BULK_STREAMS + 1}, "$.bulk_streams"),
        ({"version": "1"}, "$.version"),
        ({"version": 2}, "$.version"),
    ],
)
def test_invalid_hello_names_the_field(fields, field):
    with pytest.raises(FramingError) as e:
        decode_hello(_hello_body(**fields))
    assert field in e.value.reason
    assert e.value.reason.startswith("invalid hello")


def test_hello_tolerates_unknown_fields():
    assert decode_hello(_hello_body(extra="later version")).node_id == "n1"


def test_hello_that_is_not_msgpack():
    with pytest.raises(FramingError, match="invalid hello"):
        decode_hello(b"\xc1")


def test_encode_hello_refuses_what_a_peer_would_refuse():
    with pytest.raises(FramingError, match=r"\$\.node_id"):
        encode_hello("", "p")
    with pytest.raises(FramingError, match=r"\$\.bulk_streams"):
        encode_hello("n1", "p", bulk_streams=0)


def test_welcome_round_trip():
    assert decode_welcome(encode_welcome(True)) == framing.Welcome(True, "")
    refused = decode_welcome(encode_welcome(False, "node n1 is not registered"))
    assert (refused.ok, refused.reason) == (False, "node n1 is not registered")


def test_welcome_reason_is_cut_not_refused():
    assert len(decode_welcome(encode_welcome(False, "x" * 5000)).reason) == 1024


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (msgspec.msgpack.encode({"reason": "no ok"}), "`ok`"),
        (msgspec.msgpack.encode({"ok": "yes"}), "$.ok"),
        (msgspec.msgpack.encode({"ok": False, "reason": 3}), "$.reason"),
        (msgspec.msgpack.encode({"ok": False, "reason": "r" * 1025}), "$.reason"),
    ],
)
def test_invalid_welcome_names_the_field(body, field):
    with pytest.raises(FramingError) as e:
        decode_welcome(body)
    assert field in e.value.reason


# -- routing --------------------------------------------------------------------------------------------


def _msg(operation: str, resource: str):
    return new_message(source="edged", group=c.GROUP_RESOURCE, operation=operation, resource=resource)


@pytest.mark.parametrize(
    ("operation", "resource"),
    [
        (c.KEEPALIVE, ""),
        (c.KEEPALIVE, "default/pod/p1"),
        (c.UPDATE, "default/nodestatus/edge-1"),
        (c.PATCH, "default/nodepatch/edge-1"),
        (c.UPDATE, "kube-node-lease/lease/edge-1"),
        (c.QUERY, "null/node/edge-1"),
        (c.QUERY, "node"),
    ],
)
def test_priority_messages(operation, resource):
    assert framing.stream_for(_msg(operation, resource), 2) == framing.PRIORITY_STREAM


def test_bulk_messages_hash_by_resource_stably():
    ids = framing.bulk_stream_ids(3)
    assert ids == (8, 12, 16)
    seen = set()
    for i in range(200):
        resource = "default/pod/p%d" % i
        sid = framing.stream_for(_msg(c.UPDATE, resource), 3)
        assert sid in ids
        # the same object always takes the same stream, whatever the operation
        assert framing.stream_for(_msg(c.DELETE, resource), 3) == sid
        seen.add(sid)
    assert seen == set(ids)
    assert framing.stream_for(_msg(c.UPDATE, "default/pod/p1"), 1) == framing.FIRST_BULK_STREAM


def test_resource_type():
    assert framing.resource_type("default/pod/p1") == "pod"
    assert framing.resource_type("default/pod") == "pod"
    assert framing.resource_type("nodestatus") == "nodestatus"
    assert framing.resource_type("") == ""


# -- fuzz -----------------------------------------------------------------------------------------------


@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6), st.integers(0, 64))
def test_arbitrary_bytes_raise_only_framing_errors(data, cuts, max_frame):
    d = StreamDecoder(max_frame)
    bounds = [0, *sorted(cuts), len(data)]
    try:
        for a, b in itertools.pairwise(bounds):
            for body in d.feed(data[a:b]):
                assert len(body) <= max_frame
    except FramingError:
        pass


@given(st.lists(st.binary(max_size=40), max_size=8), st.lists(st.integers(0, 400), max_size=8))
def test_any_chunking_yields_the_same_bodies(bodies, cuts):
    wire = b"".join(encode(b) for b in bodies)
    bounds = [0, *sorted(min(x, len(wire)) for x in cuts), len(wire)]
    d = StreamDecoder(40)
    out = []
    for a, b in itertools.pairwise(bounds):
        out += d.feed(wire[a:b])
    assert out == bodies
    assert d.pending == 0


@given(st.binary(max_size=200))
def test_arbitrary_control_bodies_raise_only_framing_errors(body):
    for decode in (decode_hello, decode_welcome):
        try:
            decode(body)
        except FramingError:
            pass


@given(
    st.dictionaries(
        st.sampled_from(["node_id", "project_id", "version", "bulk_streams", "ok", "reason", "x"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**63), 2**64 - 1),
            st.text(max_size=300),
            st.binary(max_size=10),
        ),
    )
)
def test_arbitrary_maps_raise_only_framing_errors(fields):
    body = msgspec.msgpack.encode(fields)
    for decode in (decode_hello, decode_welcome):
        try:
            decode(body)
        except FramingError:
            pass
