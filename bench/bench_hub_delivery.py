"""CloudHub's per-message work without sockets: enqueue → take (window) → encode frame → ack, and the
edge's frame decode. 1,024 messages per round over 256 objects, window 64, both _core twins."""

import pytest

from kedge.model.codec import raw_json
from kedge.model.frames import decode_frame, encode_frame
from kedge.model.message import new_message
from kedge.proto import delivery

N = 1024
OBJECTS = 256
POD = raw_json({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}})


def _messages(base_rv: int) -> list:
    return [
        new_message(
            source="edgecontroller",
            group="resource",
            operation="update",
            resource="default/pod/p-%d" % (i % OBJECTS),
            content=POD,
            resourceversion=str(base_rv + i),
        )
        for i in range(N)
    ]


@pytest.mark.benchmark(group="hub delivery cycle (1,024 msgs)")
def test_delivery_cycle(benchmark, twin, monkeypatch) -> None:
    monkeypatch.setattr(delivery, "Channel", twin("channel").Channel)
    out = delivery.Outbound(capacity=4096, window=64)
    msgs = _messages(0)
    rounds = iter(range(1, 10**9))

    def round_() -> int:
        base = next(rounds) * N
        for i, m in enumerate(msgs):  # new versions of the same objects each round
            m.header.resourceversion = str(base + i)
            out.enqueue(m, m.route.resource)
        sent = 0
        while True:
            batch = out.take(0.0, 64)
            if not batch:
                return sent
            encode_frame(batch)
            for m in batch:
                out.ack(m.header.msg_id)
            sent += len(batch)

    sent = benchmark(round_)
    assert sent == OBJECTS  # 1,024 updates of 256 objects coalesce to the latest of each


@pytest.mark.benchmark(group="hub frame decode (32 msgs)")
def test_frame_decode(benchmark) -> None:
    frame = encode_frame(_messages(1)[:32], ["a" * 36] * 32)
    msgs, acks = benchmark(decode_frame, frame)
    assert len(msgs) == 32 and len(acks) == 32
