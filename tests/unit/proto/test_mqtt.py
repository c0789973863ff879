"""kedge.proto.mqtt: codec round trips, incremental parsing, validation errors, client session flows."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.proto import mqtt as m

# -- codec ----------------------------------------------------------------------------------------

topic_level = st.text(
    alphabet=st.characters(blacklist_characters="/+#\x00", blacklist_categories=("Cs",)), max_size=12
)
topics = st.lists(topic_level, min_size=1, max_size=6).map("/".join).filter(lambda t: t != "")


def roundtrip(pkt: m.Packet) -> m.Packet:
    (out,) = m.Parser(max_packet=4 * 1024 * 1024).feed(pkt.encode())
    return out


@pytest.mark.parametrize(
    ("n", "size"),
    [(0, 1), (127, 1), (128, 2), (16383, 2), (16384, 3), (2097151, 3), (2097152, 4), (268435455, 4)],
)
def test_remaining_length_boundaries(n: int, size: int) -> None:
    enc = m.encode_remaining_length(n)
    assert len(enc) == size
    # decode through the parser: a PUBLISH header claiming n bytes, body not yet there
    p = m.Parser(max_packet=1 << 30)
    if n == 0:
        assert p.feed(bytes((0xC0,)) + enc) == [m.PingReq()]
        return
    assert p.feed(bytes((0x30,)) + enc) == []
    assert p.buffered == 1 + size


@pytest.mark.parametrize("n", [-1, 268435456])
def test_remaining_length_out_of_range(n: int) -> None:
    with pytest.raises(m.MqttProtocolError, match="remaining length"):
        m.encode_remaining_length(n)


@given(st.integers(min_value=0, max_value=2097160))
def test_publish_roundtrip_any_body_length(extra: int) -> None:
    # payload sizes straddling the 127/128, 16383/16384 and 2097151/2097152 varint boundaries
    topic = "t"
    payload = b"\xab" * max(0, extra - 3)
    data = m.encode_publish(topic, payload)
    (pkt,) = m.Parser(max_packet=4 * 1024 * 1024).feed(data)
    assert pkt == m.Publish(topic, payload)


@pytest.mark.parametrize("body", [127, 128, 16383, 16384, 2097151])
def test_publish_exact_varint_boundaries(body: int) -> None:
    payload = b"p" * (body - 3)  # topic "t" costs 3 bytes
    data = m.encode_publish("t", payload)
    assert len(data) == 1 + len(m.encode_remaining_length(body)) + body
    assert m.Parser(max_packet=4 * 1024 * 1024).feed(data) == [m.Publish("t", payload)]


@given(
    topics,
    st.binary(max_size=300),
    st.sampled_from([0, 1]),
    st.booleans(),
    st.booleans(),
    st.integers(1, 65535),
)
def test_publish_roundtrip(topic: str, payload: bytes, qos: int, retain: bool, dup: bool, pid: int) -> None:
    if qos == 0:
        dup, pid = False, 0
    pkt = m.Publish(topic, payload, qos, retain, dup, pid)
    assert roundtrip(pkt) == pkt


@given(st.lists(st.tuples(topics, st.sampled_from([0, 1])), min_size=1, max_size=5), st.integers(1, 65535))
def test_subscribe_roundtrip(filters: list[tuple[str, int]], pid: int) -> None:
    pkt = m.Subscribe(pid, tuple(filters))
    assert roundtrip(pkt) == pkt


@pytest.mark.parametrize(
    "pkt",
    [
        m.Connect("hub-client-sub-1700000000", 30),
        m.Connect("c", 0, False, "user", b"secret", "will/t", b"bye", 1, True),
        m.ConnAck(True, 0),
        m.ConnAck(False, 5),
        m.PubAck(65535),
        m.Subscribe(7, (("$hw/events/upload/#", 1), ("+/user/#", 0), ("a/+/b", 1))),
        m.SubAck(7, (1, 0, 0x80)),
        m.Unsubscribe(9, ("a/#", "b")),
        m.UnsubAck(9),
        m.PingReq(),
        m.PingResp(),
        m.Disconnect(),
    ],
)
def test_packet_roundtrip(pkt: m.Packet) -> None:
    assert roundtrip(pkt) == pkt


def test_known_wire_bytes() -> None:
    # MQTT 3.1.1 spec examples: PINGREQ C0 00, DISCONNECT E0 00, CONNACK 20 02 00 00
    assert m.PingReq().encode() == b"\xc0\x00"
    assert m.Disconnect().encode() == b"\xe0\x00"
    assert m.ConnAck(False, 0).encode() == b"\x20\x02\x00\x00"
    assert m.Connect("ab", 10).encode() == b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x0a\x00\x02ab"
    assert m.encode_publish("a/b", b"hi", 1, packet_id=10) == b"\x32\x09\x00\x03a/b\x00\x0ahi"


# -- incremental parser ---------------------------------------------------------------------------


@given(st.lists(st.binary(max_size=200), min_size=1, max_size=20), st.data())
def test_split_and_merged_reads(payloads: list[bytes], data: st.DataObject) -> None:
    packets = [
        m.Publish("s/%d" % i, p, i % 2, False, False, i + 1 if i % 2 else 0) for i, p in enumerate(payloads)
    ]
    stream = b"".join(p.encode() for p in packets)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    parser = m.Parser()
    out: list[m.Packet] = []
    prev = 0
    for c in [*cuts, len(stream)]:
        out += parser.feed(stream[prev:c])
        prev = c
    assert out == packets
    assert parser.buffered == 0


def test_byte_by_byte_and_limit() -> None:
    stream = b"".join(m.encode_publish("x", b"%d" % i) for i in range(10))
    parser = m.Parser()
    out = []
    for i in range(len(stream)):
        out += parser.feed(stream[i : i + 1])
    assert [p.payload for p in out] == [b"%d" % i for i in range(10)]  # type: ignore[union-attr]
    got = parser.feed(stream, limit=3)
    assert len(got) == 3
    assert len(parser.feed(b"", limit=0)) == 0
    assert len(parser.feed(b"")) == 7


def test_max_packet_size_rejected_before_body_arrives() -> None:
    parser = m.Parser(max_packet=1000)
    head = m.encode_publish("t", b"z" * 2000)[:5]
    with pytest.raises(m.MqttProtocolError, match="exceeds the maximum packet size of 1000 bytes"):
        parser.feed(head)
    assert m.Parser(max_packet=1000).feed(m.encode_publish("t", b"z" * 990))  # 996 bytes fits


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x00", "reserved packet type 0"),
        (b"\xf0\x00", "reserved packet type 15"),
        (b"\x30\xff\xff\xff\xff\x01", "longer than 4 bytes"),
        (b"\x82\x02\x00\x01", "SUBSCRIBE carries no topic filter"),
        (b"\x80\x06\x00\x01\x00\x01a\x00", "header flags 0x0, must be 0x2"),
        (b"\x82\x06\x00\x01\x00\x01a\x03", "QoS byte 0x3"),
        (b"\x82\x07\x00\x01\x00\x01a\x00\x00", "truncated"),
        (b"\x40\x02\x00\x00", "packet id 0"),
        (b"\x40\x03\x00\x01\x00", "trailing bytes"),
        (b"\x36\x05\x00\x01a\x00\x01", "QoS 3"),
        (b"\x34\x05\x00\x01a\x00\x01", "QoS 2"),
        (b"\x38\x03\x00\x01a", "DUP"),
        (b"\x30\x03\x00\x01+", "wildcards"),
        (b"\x30\x04\x00\x02\xff\xfe", "not valid UTF-8"),
        (b"\x30\x04\x00\x02a\x00", "U+0000"),
        (b"\x30\x02\x00\x00", "empty"),
        (b"\x30\x02\x00\x05", "overruns"),
        (b"\x20\x02\x02\x00", "reserved bits"),
        (b"\x90\x03\x00\x01\x03", "return code 0x3"),
        (b"\x50\x02\x00\x01", "QoS 2 is not supported"),
        (b"\xc1\x00", "PINGREQ has header flags"),
        (b"\x10\x0c\x00\x04MQTT\x05\x02\x00\x0a\x00\x00", "protocol level 5"),
        (b"\x10\x0c\x00\x04MQTX\x04\x02\x00\x0a\x00\x00", "protocol name"),
        (b"\x10\x0c\x00\x04MQTT\x04\x03\x00\x0a\x00\x00", "reserved bit"),
    ],
)
def test_invalid_packets(data: bytes, reason: str) -> None:
    with pytest.raises(m.MqttProtocolError, match=re.escape(reason)):
        m.Parser().feed(data)


@pytest.mark.parametrize(
    ("topic_filter", "reason"),
    [
        ("a/#/b", "'#' must be the last level"),
        ("a#", "'#' must be alone"),
        ("a/b+", "'+' must be alone"),
        ("", "empty"),
        ("a\x00b", "U+0000"),
        ("x" * 65536, "longer than 65535"),
    ],
)
def test_invalid_filters(topic_filter: str, reason: str) -> None:
    with pytest.raises(m.MqttProtocolError, match=re.escape(reason)):
        m.check_filter(topic_filter)
    with pytest.raises(m.MqttProtocolError, match=re.escape(reason)):
        m.ClientSession("c", 30).subscribe([(topic_filter, 0)])


@pytest.mark.parametrize("topic", ["a/+", "#", "a/#", "", "a\x00", "\udc80"])
def test_invalid_publish_topics(topic: str) -> None:
    with pytest.raises(m.MqttProtocolError):
        m.ClientSession("c", 30).publish(topic, b"x")


def test_valid_filters_and_topics() -> None:
    for f in ("#", "+", "+/+", "a//b", "/", "$hw/events/device/+/+/twin/+", "sport/+/player1/#"):
        m.check_filter(f)
    for t in ("a", "/", "a//b", "$SYS/x", "x" * 65535):
        m.check_topic(t)


def test_bad_arguments() -> None:
    with pytest.raises(m.MqttProtocolError, match="QoS 2 is not supported"):
        m.encode_publish("a", b"", 2, packet_id=1)
    with pytest.raises(m.MqttProtocolError, match="packet id 0"):
        m.encode_publish("a", b"", 1)
    with pytest.raises(m.MqttProtocolError, match="keepalive"):
        m.ClientSession("c", 70000)
    with pytest.raises(m.MqttProtocolError, match="empty client id"):
        m.ClientSession("", 10, clean_session=False)
    with pytest.raises(m.MqttProtocolError, match="password needs a user name"):
        m.ClientSession("c", 10, password=b"x")


# -- client session -------------------------------------------------------------------------------


def connected_session(**kw: object) -> m.ClientSession:
    s = m.ClientSession("hub-client-sub-1", 30, **kw)  # type: ignore[arg-type]
    s.connect(now=0.0)
    assert s.receive(m.ConnAck(False, 0).encode(), 0.0) == [m.Connected(False, 0)]
    assert s.connected
    return s


def test_connect_flow_and_refusal() -> None:
    s = m.ClientSession("hub-client-sub-1", 30, username="u", password=b"p")
    (pkt,) = m.Parser().feed(s.connect(now=0.0))
    assert pkt == m.Connect("hub-client-sub-1", 30, True, "u", b"p")
    (ev,) = s.receive(m.ConnAck(False, 5).encode(), 1.0)
    assert ev == m.Connected(False, 5)
    assert ev.reason == "not authorized"  # type: ignore[union-attr]
    assert not s.connected


def test_subscribe_flow() -> None:
    s = connected_session()
    pid, data = s.subscribe([("$hw/events/upload/#", 1), ("+/user/#", 1), ("denied/#", 1)])
    assert m.Parser().feed(data) == [
        m.Subscribe(pid, (("$hw/events/upload/#", 1), ("+/user/#", 1), ("denied/#", 1)))
    ]
    (ev,) = s.receive(m.SubAck(pid, (1, 0, 0x80)).encode(), 1.0)
    assert ev == m.Subscribed(pid, (1, 0, 0x80))
    assert s.subscriptions == {"$hw/events/upload/#": 1, "+/user/#": 0}
    with pytest.raises(m.MqttProtocolError, match="unknown packet id"):
        s.receive(m.SubAck(pid, (1,)).encode(), 1.0)


def test_subscribe_ack_count_mismatch() -> None:
    s = connected_session()
    pid, _ = s.subscribe([("a", 1), ("b", 1)])
    with pytest.raises(m.MqttProtocolError, match="1 return codes for 2 filters"):
        s.receive(m.SubAck(pid, (1,)).encode(), 1.0)


def test_unsubscribe_flow() -> None:
    s = connected_session()
    pid, _ = s.subscribe([("a/#", 1)])
    s.receive(m.SubAck(pid, (1,)).encode(), 0.0)
    upid, data = s.unsubscribe(["a/#"])
    assert m.Parser().feed(data) == [m.Unsubscribe(upid, ("a/#",))]
    assert s.receive(m.UnsubAck(upid).encode(), 1.0) == [m.Unsubscribed(upid)]
    assert s.subscriptions == {}


def test_receive_qos1_sends_puback_and_qos0_does_not() -> None:
    s = connected_session()
    data = m.encode_publish("a/b", b"one", 1, retain=True, packet_id=42) + m.encode_publish("a/c", b"two")
    assert s.receive(data, 1.0) == [
        m.Message("a/b", b"one", 1, True, 42),
        m.Message("a/c", b"two", 0, False, 0),
    ]
    assert s.pending_output() == m.PubAck(42).encode()
    assert s.pending_output() == b""


def test_qos1_publish_ack_and_inflight_backpressure() -> None:
    s = connected_session(max_inflight=3)
    sent = [s.publish("t", b"%d" % i, qos=1) for i in range(3)]
    assert all(sent)
    pids = [m.Parser().feed(d)[0].packet_id for d in sent]  # type: ignore[arg-type,union-attr]
    assert len(set(pids)) == 3
    assert s.inflight == 3
    assert s.publish("t", b"over", qos=1) is None  # back-pressure
    assert s.publish("t", b"qos0 is not limited", qos=0)
    assert s.receive(m.PubAck(pids[1]).encode(), 1.0) == [m.PublishAcked(pids[1])]
    assert s.receive(m.PubAck(pids[1]).encode(), 1.0) == []  # a duplicate ack is ignored
    assert s.inflight == 2
    assert s.publish("t", b"now fits", qos=1) is not None
    assert s.publish("t", b"full again", qos=1) is None


def test_packet_ids_skip_ids_in_use() -> None:
    s = connected_session(max_inflight=2)
    first = m.Parser().feed(s.publish("t", b"", 1))[0]  # type: ignore[arg-type]
    # wrap the counter around to the id still in flight
    s._next_id = first.packet_id  # type: ignore[union-attr]
    second = m.Parser().feed(s.publish("t", b"", 1))[0]  # type: ignore[arg-type]
    assert second.packet_id != first.packet_id  # type: ignore[union-attr]


def test_resume_resends_unacked_with_dup_and_resubscribes() -> None:
    s = connected_session()
    spid, _ = s.subscribe([("a/#", 1)])
    s.receive(m.SubAck(spid, (1,)).encode(), 0.0)
    datas = [s.publish("t/%d" % i, b"m%d" % i, qos=1) for i in range(3)]
    pids = [m.Parser().feed(d)[0].packet_id for d in datas]  # type: ignore[arg-type,union-attr]
    s.receive(m.PubAck(pids[0]).encode(), 1.0)
    # the connection drops; a new one starts
    out = m.Parser().feed(s.resume(now=10.0))
    assert not s.connected
    assert out[0] == m.Connect("hub-client-sub-1", 30, True)
    assert isinstance(out[1], m.Subscribe) and out[1].filters == (("a/#", 1),)
    assert out[2:] == [
        m.Publish("t/1", b"m1", 1, False, True, pids[1]),
        m.Publish("t/2", b"m2", 1, False, True, pids[2]),
    ]
    s.receive(m.ConnAck(False, 0).encode(), 10.0)
    assert s.receive(m.PubAck(pids[2]).encode() + m.PubAck(pids[1]).encode(), 11.0) == [
        m.PublishAcked(pids[2]),
        m.PublishAcked(pids[1]),
    ]
    assert s.inflight == 0


def test_resume_discards_partial_packet_of_old_connection() -> None:
    s = connected_session()
    s.receive(m.encode_publish("a", b"xyz")[:3], 1.0)
    s.resume(now=2.0)
    assert s.receive(m.ConnAck(True, 0).encode(), 2.0) == [m.Connected(True, 0)]


def test_keepalive_ping_and_expiry() -> None:
    s = m.ClientSession("c", 10)
    s.connect(now=0.0)
    s.receive(m.ConnAck(False, 0).encode(), 0.5)
    assert s.tick(5.0) == b""
    s.publish("t", b"x", now=6.0)  # traffic, but the server said nothing since 0.5
    assert s.tick(10.4) == b""
    assert s.tick(10.5) == m.PINGREQ_BYTES  # nothing heard for keepalive
    assert s.tick(12.0) == b""  # one ping outstanding at a time
    assert s.receive(m.PINGRESP_BYTES, 12.0) == [m.Pong()]
    assert s.tick(20.4) == b""
    assert s.tick(20.5) == m.PINGREQ_BYTES  # nothing sent since the last ping
    assert not s.expired
    assert s.tick(26.9) == b""
    assert not s.expired
    assert s.tick(27.0) == b""  # 1.5 x keepalive without a packet
    assert s.expired


def test_keepalive_ping_when_nothing_sent() -> None:
    s = m.ClientSession("c", 10)
    s.connect(now=0.0)
    s.receive(m.ConnAck(False, 0).encode(), 0.0)
    s.receive(m.encode_publish("a", b"x"), 9.0)  # the server talks, we do not
    assert s.tick(9.9) == b""
    assert s.tick(10.0) == m.PINGREQ_BYTES


def test_sends_without_time_are_stamped_at_the_next_tick() -> None:
    s = m.ClientSession("c", 10)
    s.connect()
    s.tick(0.0)
    s.receive(m.ConnAck(False, 0).encode(), 0.0)
    s.receive(m.encode_publish("a", b"x"), 8.0)
    s.publish("t", b"x")
    s.tick(8.0)
    assert s.tick(16.0) == b""  # heard at 8, sent (stamped) at 8
    assert s.tick(18.0) == m.PINGREQ_BYTES
    assert 0 < s.next_tick(18.0) <= 5.0


def test_keepalive_zero_disables_ping_and_expiry() -> None:
    s = m.ClientSession("c", 0)
    s.connect(now=0.0)
    assert s.tick(1e6) == b""
    assert not s.expired


def test_server_only_packets_are_errors_from_a_server() -> None:
    s = connected_session()
    with pytest.raises(m.MqttProtocolError, match="must not send SUBSCRIBE"):
        s.receive(m.Subscribe(1, (("a", 0),)).encode(), 1.0)
    s2 = connected_session()
    with pytest.raises(m.MqttProtocolError, match="second CONNACK"):
        s2.receive(m.ConnAck(False, 0).encode(), 1.0)


def test_max_inflight_validation() -> None:
    with pytest.raises(ValueError, match="max_inflight"):
        m.ClientSession("c", 10, max_inflight=0)
