"""kedge.cloud.cloudhub.cursors: per-node delivery cursors in SQLite, one row per node, written in batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from kedge.cloud.cloudhub.cursors import CursorStore, decode_cursor, encode_cursor
from kedge.proto.delivery import Cursor

A = {"uid-a": (10, "default/pod/a"), "uid-b": (12, "null/node/edge-1")}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CursorStore]:
    s = CursorStore(tmp_path / "hub" / "cursors.db")
    yield s
    s.close()


def test_encoding_round_trips() -> None:
    assert decode_cursor(encode_cursor(A)) == A
    assert decode_cursor(encode_cursor({})) == {}


def test_save_then_load_round_trips(store: CursorStore) -> None:
    assert store.save([("edge-1", encode_cursor(A))]) == 1
    assert store.load("edge-1") == A
    assert store.load("edge-unknown") == {}
    assert store.nodes() == ["edge-1"]


def test_nothing_to_save(store: CursorStore) -> None:
    assert store.save([]) == 0
    assert store.save(iter(())) == 0


def test_a_later_save_replaces_and_none_removes(store: CursorStore) -> None:
    store.save([("n", encode_cursor({"k": (1, "default/pod/a")}))])
    store.save([("n", encode_cursor({"k": (7, "default/pod/a2")}))])
    assert store.load("n") == {"k": (7, "default/pod/a2")}
    store.save([("n", None)])
    assert store.load("n") == {}
    assert store.nodes() == []


def test_the_last_row_of_a_node_wins_within_one_batch(store: CursorStore) -> None:
    one, two = encode_cursor({"k": (1, "r")}), encode_cursor({"k": (3, "r")})
    store.save([("n", one), ("n", None), ("n", two)])
    assert store.load("n") == {"k": (3, "r")}
    store.save([("n", one), ("n", None)])
    assert store.load("n") == {}


def test_nodes_are_isolated(store: CursorStore) -> None:
    store.save(
        [("edge-1", encode_cursor({"k": (1, "default/pod/a")})), ("edge-2", encode_cursor({"k": (9, "x")}))]
    )
    store.forget_node("edge-1")
    assert store.load("edge-1") == {}
    assert store.load("edge-2") == {"k": (9, "x")}


def test_reopen_keeps_the_rows(tmp_path: Path) -> None:
    s = CursorStore(tmp_path / "c.db")
    big = {"k%d" % i: (i, "default/pod/p%d" % i) for i in range(500)}
    s.save([("n", encode_cursor(big))])
    s.close()
    s = CursorStore(tmp_path / "c.db")
    try:
        assert s.load("n") == big
    finally:
        s.close()


def test_an_interrupted_batch_leaves_the_previous_state(store: CursorStore) -> None:
    store.save([("n", encode_cursor({"k": (1, "default/pod/a")}))])

    def rows() -> Iterator[tuple[str, bytes | None]]:
        yield ("n", encode_cursor({"k": (2, "default/pod/a")}))
        raise RuntimeError("the process is dying")

    with pytest.raises(RuntimeError):
        store.save(rows())
    assert store.load("n") == {"k": (1, "default/pod/a")}
    with pytest.raises(apsw.ConstraintError):  # NOT NULL fails inside the transaction: all rolled back
        store.save([("m", encode_cursor({})), (None, b"x")])  # type: ignore[list-item]
    assert store.load("m") == {}
    assert store.load("n") == {"k": (1, "default/pod/a")}


def test_a_corrupt_row_is_reported_and_resynced(store: CursorStore, caplog: pytest.LogCaptureFixture) -> None:
    store.save([("n", b"\xc1 not msgpack")])
    assert store.load("n") == {}
    assert "delivery cursor of node n" in caplog.text and "resyncing it fully" in caplog.text


def test_a_cursor_persists_through_its_dirty_flag(store: CursorStore) -> None:
    """CloudHub's flow: acks mark the cursor dirty, the dirty cursor is saved, a restart loads it."""
    cur = Cursor()
    cur.record("u1", 3, "default/pod/a", False)
    cur.record("u2", 4, "default/pod/b", False)
    assert cur.dirty
    store.save([("edge-1", encode_cursor(cur.entries))])
    cur.dirty = False
    cur.record("u1", 0, "default/pod/a", True)
    store.save([("edge-1", encode_cursor(cur.entries))])
    assert Cursor(store.load("edge-1")).entries == {"u2": (4, "default/pod/b")}
