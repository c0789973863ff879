"""Watch fan-out with a recording sink in place of a socket."""

import asyncio

import msgspec

from kedge.apiserver.storage import ADDED, DELETED, MODIFIED, Event
from kedge.apiserver.watch import MAX_BUFFERED, ChunkSink, Watcher, WatchHub, event_line, transition


class FakeTransport:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.chunks.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing

    def lines(self) -> list[bytes]:
        out = []
        for c in self.chunks:
            size, _, rest = c.partition(b"\r\n")
            assert int(size, 16) == len(rest) - 2 and rest.endswith(b"\r\n")
            out.append(rest[:-2])
        return out


def _event(type_: str, rev: int, labels: dict, prev_labels: dict | None = None, ns: str = "default") -> Event:
    obj = {"metadata": {"name": "a", "namespace": ns, "labels": labels, "resourceVersion": str(rev)}}
    prev = (
        {"metadata": {"name": "a", "namespace": ns, "labels": prev_labels}}
        if prev_labels is not None
        else None
    )
    return Event(
        type_,
        "configmaps",
        ns,
        "a",
        rev,
        msgspec.json.encode(obj),
        msgspec.json.encode(prev) if prev else None,
    )


def _selected(obj) -> bool:
    return (obj["metadata"].get("labels") or {}).get("app") == "x"


def test_transition_turns_selector_changes_into_added_and_deleted() -> None:
    assert transition(_event(ADDED, 2, {"app": "x"}), _selected) == ADDED
    assert transition(_event(ADDED, 2, {"app": "y"}), _selected) is None
    assert transition(_event(MODIFIED, 3, {"app": "x"}, {"app": "x"}), _selected) == MODIFIED
    assert transition(_event(MODIFIED, 3, {"app": "x"}, {"app": "y"}), _selected) == ADDED
    assert transition(_event(MODIFIED, 3, {"app": "y"}, {"app": "x"}), _selected) == DELETED
    assert transition(_event(MODIFIED, 3, {"app": "y"}, {"app": "z"}), _selected) is None
    assert transition(_event(DELETED, 4, {"app": "x"}, {"app": "x"}), _selected) == DELETED


async def test_hub_fans_out_once_encoded_and_respects_namespace_and_floor() -> None:
    hub = WatchHub()
    transports = [FakeTransport() for _ in range(3)]
    all_ns = Watcher("configmaps", "", sink=ChunkSink(transports[0]), matcher=None, encoder=None, floor=0)
    other_ns = Watcher(
        "configmaps", "other", sink=ChunkSink(transports[1]), matcher=None, encoder=None, floor=0
    )
    late = Watcher("configmaps", "", sink=ChunkSink(transports[2]), matcher=None, encoder=None, floor=5)
    for w in (all_ns, other_ns, late):
        hub.add(w)
    ev = _event(ADDED, 5, {})
    hub.publish(ev)
    assert transports[0].lines() == [event_line(ADDED, ev.data)]
    assert transports[1].chunks == [] and transports[2].chunks == []  # other namespace; already had rev 5
    hub.publish(_event(MODIFIED, 6, {}, {}))
    assert len(transports[0].chunks) == 2 and len(transports[2].chunks) == 1
    hub.remove(all_ns)
    assert hub.count("configmaps") == 2


async def test_slow_or_gone_clients_are_closed() -> None:
    hub = WatchHub()
    t = FakeTransport()
    w = Watcher("configmaps", "", sink=ChunkSink(t), matcher=None, encoder=None, floor=0)
    hub.add(w)
    t.buffered = MAX_BUFFERED + 1
    hub.publish(_event(ADDED, 1, {}))
    assert w.closed.done() and t.chunks == []
    t2 = FakeTransport()
    w2 = Watcher("configmaps", "", sink=ChunkSink(t2), matcher=None, encoder=None, floor=0)
    t2.closing = True
    w2.push(b"x")
    assert w2.closed.done()
    await asyncio.sleep(0)


async def test_same_selector_is_evaluated_once_per_event() -> None:
    calls = []

    def matcher(obj) -> bool:
        calls.append(1)
        return True

    hub = WatchHub()
    for _ in range(50):
        hub.add(
            Watcher(
                "configmaps",
                "",
                sink=ChunkSink(FakeTransport()),
                matcher=matcher,
                encoder=None,
                floor=0,
                selector="app=x",
            )
        )
    hub.publish(_event(ADDED, 1, {"app": "x"}))
    assert len(calls) == 1
