"""kedge.cloud.cloudhub.cursors: per-node delivery cursors in SQLite, written in batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from kedge.cloud.cloudhub.cursors import CursorStore
from kedge.proto.delivery import Cursor


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CursorStore]:
    s = CursorStore(tmp_path / "hub" / "cursors.db")
    yield s
    s.close()


def test_apply_then_load_round_trips(store: CursorStore) -> None:
    n = store.apply([("edge-1", "uid-a", 10, "default/pod/a"), ("edge-1", "uid-b", 12, "null/node/edge-1")])
    assert n == 2
    assert store.load("edge-1") == {"uid-a": (10, "default/pod/a"), "uid-b": (12, "null/node/edge-1")}
    assert store.load("edge-unknown") == {}


def test_nothing_to_apply(store: CursorStore) -> None:
    assert store.apply([]) == 0
    assert store.apply(iter(())) == 0


def test_upsert_replaces_version_and_resource(store: CursorStore) -> None:
    store.apply([("n", "k", 1, "default/pod/a")])
    store.apply([("n", "k", 7, "default/pod/a2")])
    assert store.load("n") == {"k": (7, "default/pod/a2")}


def test_negative_rv_deletes_the_row(store: CursorStore) -> None:
    store.apply([("n", "k1", 1, "default/pod/a"), ("n", "k2", 2, "default/pod/b")])
    assert store.apply([("n", "k1", -1, "default/pod/a"), ("n", "gone", -1, "default/pod/x")]) == 2
    assert store.load("n") == {"k2": (2, "default/pod/b")}


def test_the_last_row_for_a_key_wins_within_one_batch(store: CursorStore) -> None:
    store.apply([("n", "k", 1, "r"), ("n", "k", -1, "r"), ("n", "k", 3, "r")])
    assert store.load("n") == {"k": (3, "r")}
    store.apply([("n", "k", 4, "r"), ("n", "k", -1, "r")])
    assert store.load("n") == {}


def test_nodes_are_isolated(store: CursorStore) -> None:
    store.apply([("edge-1", "k", 1, "default/pod/a"), ("edge-2", "k", 9, "default/pod/z")])
    store.apply([("edge-1", "k", -1, "default/pod/a")])
    assert store.load("edge-1") == {}
    assert store.load("edge-2") == {"k": (9, "default/pod/z")}
    store.forget_node("edge-2")
    assert store.load("edge-2") == {}


def test_reopen_after_close_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    s = CursorStore(path)
    s.apply([("n", "k%d" % i, i, "default/pod/p%d" % i) for i in range(500)])
    s.close()
    s = CursorStore(path)
    try:
        rows = s.load("n")
        assert len(rows) == 500 and rows["k499"] == (499, "default/pod/p499")
        assert s._conn.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
    finally:
        s.close()


def test_creates_its_directory_private(tmp_path: Path) -> None:
    s = CursorStore(tmp_path / "a" / "b" / "c.db")
    s.close()
    assert (tmp_path / "a" / "b").stat().st_mode & 0o777 == 0o700


def test_a_failing_generator_leaves_the_previous_state(store: CursorStore) -> None:
    store.apply([("n", "k", 1, "default/pod/a")])

    def rows() -> Iterator[tuple[str, str, int, str]]:
        yield ("n", "k", 2, "default/pod/a")
        yield ("n", "k2", 2, "default/pod/b")
        raise RuntimeError("the producer died midway")

    with pytest.raises(RuntimeError, match="midway"):
        store.apply(rows())
    assert store.load("n") == {"k": (1, "default/pod/a")}


def test_a_row_failing_inside_the_transaction_rolls_all_back(store: CursorStore) -> None:
    store.apply([("n", "k", 1, "default/pod/a")])
    bad = [("n", "k", 2, "default/pod/a"), ("n", "new", 3, "default/pod/b"), ("n", "broken", 4, None)]
    with pytest.raises(apsw.ConstraintError):
        store.apply(bad)  # type: ignore[arg-type]
    assert store.load("n") == {"k": (1, "default/pod/a")}
    # the store is still usable after the rollback
    store.apply([("n", "k", 5, "default/pod/a")])
    assert store.load("n") == {"k": (5, "default/pod/a")}


def test_a_cursor_persists_through_its_dirty_rows(store: CursorStore) -> None:
    """CloudHub's flow: acks mark the cursor dirty, the dirty rows are applied, a restart loads them."""
    cur = Cursor(store.load("edge-1"))
    cur.record("u1", 5, "default/pod/a", False)
    cur.record("u2", 6, "default/pod/b", False)
    store.apply([("edge-1", k, rv, res) for k, (rv, res) in cur.take_dirty().items()])
    cur.record("u1", 0, "default/pod/a", True)
    cur.record("u2", 8, "default/pod/b", False)
    store.apply([("edge-1", k, rv, res) for k, (rv, res) in cur.take_dirty().items()])
    again = Cursor(store.load("edge-1"))
    assert again.entries == cur.entries == {"u2": (8, "default/pod/b")}
    assert again.acked_rv("u1") == -1
