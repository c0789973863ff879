"""kedge.edge.edgehub.outbox: the edge's durable upstream queue in SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from kedge.edge.edgehub.outbox import Outbox
from kedge.model import constants as c
from kedge.model.message import Message, new_message


def status(i: int, **kw) -> Message:
    return new_message(
        source=c.EDGED,
        group=c.GROUP_RESOURCE,
        operation=c.UPDATE,
        resource="default/podstatus/p%d" % i,
        content={"seq": i},
        **kw,
    )


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Outbox]:
    b = Outbox(tmp_path / "edge" / "outbox.db")
    yield b
    b.close()


def ids(rows: list[tuple[int, Message]]) -> list[str]:
    return [m.header.msg_id for _, m in rows]


def test_add_then_pending_in_order(box: Outbox) -> None:
    msgs = [status(i) for i in range(5)]
    box.add_many(msgs[:2])
    box.add_many(msgs[2:])
    assert len(box) == 5
    rows = box.pending()
    assert rows == [(seq, m) for seq, m in rows]
    assert [m for _, m in rows] == msgs  # the whole message survives the round trip
    seqs = [s for s, _ in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5


def test_pending_pages_with_limit_and_after(box: Outbox) -> None:
    msgs = [status(i) for i in range(7)]
    box.add_many(msgs)
    first = box.pending(3)
    assert ids(first) == [m.header.msg_id for m in msgs[:3]]
    rest = box.pending(10, after=first[-1][0])
    assert ids(rest) == [m.header.msg_id for m in msgs[3:]]
    assert box.pending(10, after=rest[-1][0]) == []


def test_remove_by_msg_id(box: Outbox) -> None:
    msgs = [status(i) for i in range(4)]
    box.add_many(msgs)
    assert box.remove([msgs[1].header.msg_id, msgs[3].header.msg_id, "unknown"]) == 2
    assert len(box) == 2
    assert ids(box.pending()) == [msgs[0].header.msg_id, msgs[2].header.msg_id]
    assert box.remove([msgs[1].header.msg_id]) == 0  # already gone
    assert box.remove([]) == 0
    assert len(box) == 2


def test_duplicate_msg_id_is_ignored(box: Outbox) -> None:
    m = status(1)
    box.add_many([m])
    box.add_many([m, status(2)])
    twin = status(3, msg_id=m.header.msg_id)
    box.add_many([twin])
    assert len(box) == 2
    rows = box.pending()
    assert rows[0][1] == m  # the first copy stays
    assert len(rows) == 2


def test_capacity_drops_the_oldest_and_keeps_the_count(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", capacity=3)
    try:
        msgs = [status(i) for i in range(5)]
        box.add_many(msgs[:2])
        box.add_many(msgs[2:4])
        assert len(box) == 3
        assert ids(box.pending()) == [m.header.msg_id for m in msgs[1:4]]
        box.add_many([msgs[4], msgs[3]])  # one new, one duplicate
        assert len(box) == 3
        assert ids(box.pending()) == [m.header.msg_id for m in msgs[2:5]]
        box.add_many([status(10 + i) for i in range(6)])  # a batch larger than the capacity
        assert len(box) == 3
        assert [m.content["seq"] for _, m in box.pending()] == [13, 14, 15]
        ((n,),) = box._conn.execute("SELECT COUNT(*) FROM outbox").fetchall()
        assert n == 3
    finally:
        box.close()


@pytest.mark.parametrize("capacity", [0, -1])
def test_capacity_must_be_positive(tmp_path: Path, capacity: int) -> None:
    with pytest.raises(ValueError, match="outbox capacity must be >= 1"):
        Outbox(tmp_path / "o.db", capacity=capacity)


def test_reopen_keeps_rows_and_count(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = Outbox(path)
    msgs = [status(i) for i in range(3)]
    box.add_many(msgs)
    box.remove([msgs[0].header.msg_id])
    box.close()
    box = Outbox(path)
    try:
        assert len(box) == 2
        assert ids(box.pending()) == [m.header.msg_id for m in msgs[1:]]
        box.add_many([status(9)])
        assert len(box) == 3
        assert box.pending()[-1][0] > box.pending()[-2][0]  # seq keeps growing after a reopen
    finally:
        box.close()


def test_raw_json_content_passes_through(box: Outbox) -> None:
    raw = msgspec.Raw(b'{"status":{"phase":"Running"},"z":1,"a":2}')
    m = status(1)
    m = Message(m.header, m.route, raw)
    box.add_many([m])
    ((_, back),) = box.pending()
    assert bytes(back.content) == bytes(raw)


def test_in_memory_outbox(tmp_path: Path) -> None:
    box = Outbox(":memory:")
    try:
        box.add_many([status(1)])
        assert len(box) == 1
    finally:
        box.close()
