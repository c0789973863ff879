"""MetaStore: the edge's `meta` table behind a MetaIndex, run against both _core twins."""

import tempfile
from pathlib import Path

import apsw
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedge._core import store as core_store
from kedge.edge.metamanager.store import MetaStore, MetaStoreError

POD = b'{"metadata":{"name":"web","namespace":"default","resourceVersion":"7"}}'


@pytest.fixture
def open_store(store_mod, tmp_path):
    """open_store() → a MetaStore on tmp_path/meta.db using the twin under test; closed at teardown."""
    opened: list[MetaStore] = []

    def _open(path: Path | None = None, **kw) -> MetaStore:
        s = MetaStore(path or tmp_path / "meta.db", index_factory=store_mod.MetaIndex, **kw)
        opened.append(s)
        return s

    yield _open
    for s in opened:
        s.close()


def _disk(path: Path) -> dict[str, tuple[str, bytes, int]]:
    """The rows on disk, read through a connection of its own."""
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return {
            k: (t, v, rv)
            for k, t, v, rv in conn.execute("SELECT key, type, value, resource_version FROM meta")
        }
    finally:
        conn.close()


def test_default_index_is_the_selector_module(tmp_path):
    with MetaStore(tmp_path / "m.db") as s:
        assert isinstance(s._index, core_store.MetaIndex)


def test_round_trip_and_reopen(open_store, tmp_path):
    s = open_store()
    assert s.put("default/pod/web", "pod", POD, 7) is True
    assert s.put("default/configmap/cfg", "configmap", b'{"data":{}}', 3) is True
    assert s.put("null/node/edge-1", "node", b"{}") is True
    assert s.put("membership/detail", "membership", b"[]") is True  # two segments: by key only
    assert s.get("default/pod/web") == ("pod", POD, 7)
    assert "default/pod/web" in s and len(s) == 4
    assert s.commit() == 4
    s.close()

    r = open_store()
    assert r.dirty_count() == 0, "loading is not a change"
    assert r.keys() == ["default/configmap/cfg", "default/pod/web", "membership/detail", "null/node/edge-1"]
    assert r.get("default/pod/web") == ("pod", POD, 7)
    assert r.get("membership/detail") == ("membership", b"[]", 0)
    assert r.query_prefix("default/pod") == [("default/pod/web", "pod", POD, 7)]
    assert r.query_prefix("default/configmap/") == [("default/configmap/cfg", "configmap", b'{"data":{}}', 3)]
    assert r.query_type("node") == [("null/node/edge-1", "node", b"{}", 0)]
    assert r.commit() == 0


def test_schema_is_kubeedge_meta_plus_rv(open_store, tmp_path):
    open_store().close()
    conn = apsw.Connection(str(tmp_path / "meta.db"))
    try:
        cols = [
            (name, typ, notnull, pk)
            for _, name, typ, notnull, _, pk in conn.execute("PRAGMA table_info(meta)")
        ]
        assert cols == [
            ("key", "TEXT", 0, 1),
            ("type", "TEXT", 1, 0),
            ("value", "BLOB", 1, 0),
            ("resource_version", "INTEGER", 1, 0),
        ]
        assert conn.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
    finally:
        conn.close()


def test_rows_reach_disk_only_on_commit(open_store, tmp_path):
    s = open_store()
    s.put("default/pod/a", "pod", b"1", 1)
    assert _disk(tmp_path / "meta.db") == {}
    assert s.dirty_count() == 1
    assert s.commit() == 1
    assert _disk(tmp_path / "meta.db") == {"default/pod/a": ("pod", b"1", 1)}
    assert s.dirty_count() == 0


def test_stale_rv_is_refused_and_not_written(open_store, tmp_path):
    s = open_store()
    assert s.put("default/pod/a", "pod", b"v10", 10)
    s.commit()
    assert s.put("default/pod/a", "pod", b"v9", 9) is False
    assert s.get("default/pod/a") == ("pod", b"v10", 10)
    assert s.dirty_count() == 0 and s.commit() == 0
    assert s.put("default/pod/a", "pod", b"v10b", 10) is True  # equal rv replaces
    assert s.put("default/pod/a", "pod", b"v0", 0) is True  # rv 0 always replaces
    s.commit()
    s.close()
    r = open_store()
    assert r.get("default/pod/a") == ("pod", b"v0", 0)
    assert r.put("default/pod/a", "pod", b"v1", 1) is True


def test_rv_survives_reopen_for_staleness(open_store):
    s = open_store()
    s.put("default/pod/a", "pod", b"v5", 5)
    s.close()
    r = open_store()
    assert r.put("default/pod/a", "pod", b"v4", 4) is False
    assert r.get("default/pod/a") == ("pod", b"v5", 5)


def test_deletes(open_store, tmp_path):
    s = open_store()
    s.put("default/pod/a", "pod", b"a", 1)
    s.put("default/pod/b", "pod", b"b", 1)
    s.commit()
    assert s.delete("default/pod/a") is True
    assert s.delete("default/pod/a") is False
    assert s.delete("default/pod/never") is False
    assert s.get("default/pod/a") is None
    assert set(_disk(tmp_path / "meta.db")) == {"default/pod/a", "default/pod/b"}  # not yet committed
    assert s.commit() == 1
    assert set(_disk(tmp_path / "meta.db")) == {"default/pod/b"}
    # Put then delete before a commit: nothing on disk, and the delete of an unwritten key is harmless.
    s.put("default/pod/c", "pod", b"c", 1)
    s.delete("default/pod/c")
    assert s.commit() == 1
    s.close()
    r = open_store()
    assert r.keys() == ["default/pod/b"]
    assert r.query_prefix("default/pod") == [("default/pod/b", "pod", b"b", 1)]


def test_queries_after_reopen(open_store):
    s = open_store()
    for ns in ("default", "kube-system"):
        for name in ("b", "a", "c/with/slash"):
            s.put("%s/pod/%s" % (ns, name), "pod", ("%s:%s" % (ns, name)).encode(), 1)
    s.put("default/secret/s", "secret", b"s", 2)
    s.close()
    r = open_store()
    assert [k for k, *_ in r.query_prefix("default/pod")] == [
        "default/pod/a",
        "default/pod/b",
        "default/pod/c/with/slash",
    ]
    assert len(r.query_type("pod")) == 6
    assert r.query_type("secret") == [("default/secret/s", "secret", b"s", 2)]
    assert r.query_type("device") == []
    with pytest.raises(ValueError):
        r.query_prefix("default")


def test_many_puts_are_one_transaction(open_store, tmp_path):
    s = open_store()
    commits = []
    s._conn.set_commit_hook(lambda: commits.append(1) or False)
    for i in range(1000):
        s.put("default/pod/p%04d" % i, "pod", b"x" * 200, i + 1)
    for i in range(0, 1000, 10):
        s.delete("default/pod/p%04d" % i)
    s.put("default/pod/p0001", "pod", b"newest", 5000)  # re-dirtied key: written once, newest state
    assert commits == []
    assert s.commit() == 1000
    assert commits == [1]
    disk = _disk(tmp_path / "meta.db")
    assert len(disk) == 900
    assert disk["default/pod/p0001"] == ("pod", b"newest", 5000)


def test_failing_commit_keeps_keys_dirty(open_store, tmp_path):
    s = open_store()
    s.put("default/pod/ok", "pod", b"ok", 1)
    s.commit()
    s.put("default/pod/a", "pod", b"a", 1)
    s.put("default/pod/bad", "pod", b"bad", 1)
    s.delete("default/pod/ok")
    # A real SQLite failure halfway through the batch, set up from another connection.
    other = apsw.Connection(str(tmp_path / "meta.db"))
    try:
        other.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON meta WHEN NEW.key = 'default/pod/bad'"
            " BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
        )
        with pytest.raises(apsw.ConstraintError, match="refused by test"):
            s.commit()
        assert s.dirty_count() == 3
        assert _disk(tmp_path / "meta.db") == {"default/pod/ok": ("pod", b"ok", 1)}, "rolled back whole"
        s.put("default/pod/a", "pod", b"a2", 2)  # changed while dirty: the later commit writes the newest
        other.execute("DROP TRIGGER refuse")
    finally:
        other.close()
    assert s.commit() == 3
    assert _disk(tmp_path / "meta.db") == {
        "default/pod/a": ("pod", b"a2", 2),
        "default/pod/bad": ("pod", b"bad", 1),
    }


def test_busy_database_fails_commit_then_recovers(open_store, tmp_path):
    s = open_store(busy_timeout_ms=0)
    s.put("default/pod/a", "pod", b"a", 1)
    other = apsw.Connection(str(tmp_path / "meta.db"))
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(apsw.BusyError):
            s.commit()
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert s.dirty_count() == 1
    assert s.commit() == 1


def test_close_commits(open_store, tmp_path):
    s = open_store()
    s.put("default/pod/a", "pod", b"a", 1)
    s.close()
    s.close()  # idempotent
    assert _disk(tmp_path / "meta.db") == {"default/pod/a": ("pod", b"a", 1)}
    with pytest.raises(MetaStoreError, match="closed"):
        s.commit()


def test_one_owner_at_a_time(open_store, tmp_path):
    s = open_store()
    with pytest.raises(MetaStoreError, match="in use"):
        open_store()
    s.close()
    open_store().put("default/pod/a", "pod", b"a", 1)


@pytest.mark.parametrize(
    ("args", "exc", "words"),
    [
        ((1, "pod", b"v", 1), TypeError, "key"),
        (("", "pod", b"v", 1), TypeError, "key"),
        (("default/pod/a", None, b"v", 1), TypeError, "type of default/pod/a"),
        (("default/pod/a", "pod", "text", 1), TypeError, "value of default/pod/a must be bytes, got str"),
        (("default/pod/a", "pod", b"v", -1), ValueError, "resourceVersion of default/pod/a"),
        (("default/pod/a", "pod", b"v", "7"), ValueError, "resourceVersion of default/pod/a"),
        (("default/pod/a", "pod", b"v", True), ValueError, "resourceVersion of default/pod/a"),
    ],
)
def test_bad_put_names_what_is_wrong(open_store, args, exc, words):
    s = open_store()
    with pytest.raises(exc, match=words):
        s.put(*args)
    assert len(s) == 0 and s.dirty_count() == 0


def test_malformed_row_on_disk_is_a_clear_error(open_store, tmp_path):
    open_store().close()
    conn = apsw.Connection(str(tmp_path / "meta.db"))
    try:
        conn.execute("INSERT INTO meta VALUES ('default/pod/x', 'pod', 'text, not a blob', 1)")
    finally:
        conn.close()
    with pytest.raises(MetaStoreError, match="malformed meta row"):
        open_store()
    # The failed open released the lock and the file.
    conn = apsw.Connection(str(tmp_path / "meta.db"))
    try:
        conn.execute("DELETE FROM meta")
    finally:
        conn.close()
    assert len(open_store()) == 0


_keys = st.sampled_from(["default/pod/%s" % n for n in "abcde"] + ["kube/configmap/x", "membership/detail"])
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _keys, st.binary(max_size=8), st.integers(0, 5)),
        st.tuples(st.just("delete"), _keys),
        st.tuples(st.just("commit")),
    ),
    max_size=40,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops)
def test_reopen_restores_exactly_what_was_committed(store_mod, ops):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "meta.db"
        model: dict[str, tuple[str, bytes, int]] = {}
        committed: dict[str, tuple[str, bytes, int]] = {}
        s = MetaStore(path, index_factory=store_mod.MetaIndex)
        try:
            for op in ops:
                if op[0] == "put":
                    _, key, value, rv = op
                    old = model.get(key)
                    fresh = old is None or rv == 0 or old[2] <= rv
                    typ = key.split("/")[1] if key.count("/") == 2 else "membership"
                    assert s.put(key, typ, value, rv) is fresh
                    if fresh:
                        model[key] = (typ, value, rv)
                elif op[0] == "delete":
                    assert s.delete(op[1]) is (model.pop(op[1], None) is not None)
                else:
                    s.commit()
                    committed = dict(model)
                assert _disk(path) == committed
        finally:
            s.close()  # commits the rest
        r = MetaStore(path, index_factory=store_mod.MetaIndex)
        try:
            assert r.keys() == sorted(model)
            assert all(r.get(k) == v for k, v in model.items())
            assert r.query_prefix("default/pod") == sorted(
                (k, *v) for k, v in model.items() if k.startswith("default/pod/")
            )
        finally:
            r.close()
