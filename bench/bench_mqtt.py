"""MQTT micro benchmarks: what EventBus and every mapper pay per message in kedge's own MQTT client
(kedge.proto.mqtt, pure Python: measured here so a regression on the per-message path shows)."""

from kedge.proto.mqtt import ClientSession, Parser, Publish

N = 1_000
TOPIC = "$hw/events/device/default/dev-0042/twin/update"
PAYLOAD = b'{"event_id":"e","timestamp":1,"twin":{"temperature":{"actual":{"value":"21.5"}}}}'
CONNACK = bytes((0x20, 2, 0, 0))


def _session() -> ClientSession:
    s = ClientSession("bench", 30)
    s.connect(0.0)
    s.receive(CONNACK, 0.0)
    return s


def test_parse_1000_publishes(benchmark) -> None:
    """Decode 1,000 QoS 0 PUBLISH packets arriving in one read."""
    data = Publish(TOPIC, PAYLOAD).encode() * N

    def run() -> int:
        return len(Parser().feed(data))

    assert benchmark(run) == N


def test_session_receive_1000_qos1(benchmark) -> None:
    """The session's receive path for 1,000 QoS 1 publishes: decode, queue the PUBACKs, message events."""
    data = b"".join(Publish(TOPIC, PAYLOAD, qos=1, packet_id=i + 1).encode() for i in range(N))

    def run() -> int:
        return len(_session().receive(data, 0.0))

    assert benchmark(run) >= N


def test_session_publish_1000_qos0(benchmark) -> None:
    """Encode 1,000 QoS 0 publishes through the session (EventBus's publisher, a mapper's reports)."""

    def run() -> int:
        s = _session()
        return sum(len(s.publish(TOPIC, PAYLOAD, 0) or b"") for _ in range(N))

    assert benchmark(run) > N * len(PAYLOAD)
