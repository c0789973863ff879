"""MetaIndex: both twins, exact behaviour, plus a model-based comparison against a plain dict."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedge._core import store


def test_selector_exports_metaindex():
    assert store.__all__ == ["MetaIndex"]
    assert isinstance(store.COMPILED, bool)


# -- put / get / load / delete -------------------------------------------------------------------


def test_put_get_contains_len(store_mod):
    idx = store_mod.MetaIndex()
    assert len(idx) == 0
    assert idx.get("default/pod/nginx") is None
    assert "default/pod/nginx" not in idx
    assert idx.put("default/pod/nginx", "pod", b"v1", 5) is True
    assert idx.get("default/pod/nginx") == ("pod", b"v1", 5)
    assert "default/pod/nginx" in idx
    assert len(idx) == 1
    assert idx.put("default/pod/nginx", "pod", b"v2", 6) is True
    assert idx.get("default/pod/nginx") == ("pod", b"v2", 6)
    assert len(idx) == 1


def test_default_rv_is_zero(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("null/node/n1", "node", b"x")
    assert idx.get("null/node/n1") == ("node", b"x", 0)


def test_stale_rv_is_rejected_and_changes_nothing(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("default/pod/a", "pod", b"new", 10)
    idx.drain(10)
    assert idx.put("default/pod/a", "podx", b"old", 9) is False
    assert idx.get("default/pod/a") == ("pod", b"new", 10)
    assert idx.dirty_count() == 0
    assert idx.query_type("podx") == []
    assert [r[0] for r in idx.query_type("pod")] == ["default/pod/a"]


def test_equal_rv_replaces(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("default/pod/a", "pod", b"one", 10)
    assert idx.put("default/pod/a", "pod", b"two", 10) is True
    assert idx.get("default/pod/a") == ("pod", b"two", 10)


def test_rv_zero_always_replaces(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("default/pod/a", "pod", b"one", 10)
    assert idx.put("default/pod/a", "pod", b"two", 0) is True
    assert idx.get("default/pod/a") == ("pod", b"two", 0)
    # The stored rv is now 0, so any rv is newer.
    assert idx.put("default/pod/a", "pod", b"three", 3) is True
    assert idx.get("default/pod/a") == ("pod", b"three", 3)


def test_load_is_not_journaled_but_respects_rv(store_mod):
    idx = store_mod.MetaIndex()
    assert idx.load("default/pod/a", "pod", b"v", 7) is None
    assert idx.get("default/pod/a") == ("pod", b"v", 7)
    assert idx.dirty_count() == 0
    idx.load("default/pod/a", "pod", b"old", 6)
    assert idx.get("default/pod/a") == ("pod", b"v", 7)
    idx.load("default/pod/a", "pod", b"w", 8)
    assert idx.get("default/pod/a") == ("pod", b"w", 8)
    assert idx.dirty_count() == 0
    assert idx.query_prefix("default/pod") == [("default/pod/a", "pod", b"w", 8)]


def test_delete(store_mod):
    idx = store_mod.MetaIndex()
    idx.load("default/pod/a", "pod", b"v", 1)
    assert idx.delete("default/pod/a") is True
    assert idx.get("default/pod/a") is None
    assert "default/pod/a" not in idx
    assert len(idx) == 0
    assert idx.delete("default/pod/a") is False
    assert idx.drain(10) == [("default/pod/a", None, None, 0, True)]
    # Deleting a missing key journals nothing.
    assert idx.delete("nope") is False
    assert idx.dirty_count() == 0


def test_delete_forgets_rv(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("default/pod/a", "pod", b"v", 10)
    idx.delete("default/pod/a")
    assert idx.put("default/pod/a", "pod", b"again", 2) is True
    assert idx.get("default/pod/a") == ("pod", b"again", 2)


def test_keys_sorted(store_mod):
    idx = store_mod.MetaIndex()
    for k in ("b/pod/x", "a/pod/y", "membership/detail", "c"):
        idx.put(k, "t", b"")
    idx.put("b/pod/x", "t", b"again")
    assert idx.keys() == ["a/pod/y", "b/pod/x", "c", "membership/detail"]
    idx.delete("a/pod/y")
    assert idx.keys() == ["b/pod/x", "c", "membership/detail"]
    idx.mark_dirty(["ghost"])  # journaled but absent: not a key
    assert idx.keys() == ["b/pod/x", "c", "membership/detail"]
    assert "ghost" not in idx
    assert len(idx) == 3
    idx.put("a/pod/y", "t", b"")
    assert idx.keys() == ["a/pod/y", "b/pod/x", "c", "membership/detail"]


def test_get_returns_stored_tuple_shape(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("default/pod/a", "pod", b"v", 2**40)
    got = idx.get("default/pod/a")
    assert type(got) is tuple
    assert got == ("pod", b"v", 2**40)


def test_unhashable_type_changes_nothing(store_mod):
    idx = store_mod.MetaIndex()
    with pytest.raises(TypeError):
        idx.put("default/pod/a", ["pod"], b"v", 1)
    assert len(idx) == 0
    assert idx.dirty_count() == 0
    assert idx.query_prefix("default/pod") == []
    idx.put("default/pod/a", "pod", b"v", 1)
    with pytest.raises(TypeError):
        idx.put("default/pod/a", ["pod"], b"w", 2)
    assert idx.get("default/pod/a") == ("pod", b"v", 1)
    assert idx.query_type("pod") == [("default/pod/a", "pod", b"v", 1)]
    assert idx.query_prefix("default/pod") == [("default/pod/a", "pod", b"v", 1)]
    assert idx.delete("default/pod/a") is True


def test_non_ascii_keys(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("défaut/pod/a", "pod", b"1", 1)
    idx.put("ns/pod/名前", "pod", b"2", 1)  # wide name, narrow prefix
    idx.put("ns/pod/b", "pod", b"3", 1)
    idx.put("ns/💡/x", "💡", b"4", 1)
    assert [r[0] for r in idx.query_prefix("défaut/pod")] == ["défaut/pod/a"]
    assert [r[0] for r in idx.query_prefix("ns/pod")] == ["ns/pod/b", "ns/pod/名前"]
    assert [r[0] for r in idx.query_prefix("ns/💡")] == ["ns/💡/x"]
    idx.delete("ns/pod/名前")
    idx.delete("ns/pod/b")
    assert idx.query_prefix("ns/pod") == []
    idx.put("ns/pod/名前", "pod", b"5", 2)
    assert idx.query_prefix("ns/pod") == [("ns/pod/名前", "pod", b"5", 2)]


def test_many_prefixes(store_mod):
    # More prefixes than any small cache of buckets: every key still lands in its own prefix.
    idx = store_mod.MetaIndex()
    for ns in range(300):
        for name in ("a", "b"):
            idx.put(f"ns{ns}/pod/{name}", "pod", b"", ns)
    for ns in range(0, 300, 7):
        assert [r[0] for r in idx.query_prefix(f"ns{ns}/pod")] == [f"ns{ns}/pod/a", f"ns{ns}/pod/b"]
    for ns in range(300):
        idx.delete(f"ns{ns}/pod/a")
    for ns in range(300):
        idx.put(f"ns{ns}/pod/c", "pod", b"", ns)
    for ns in range(0, 300, 7):
        assert [r[0] for r in idx.query_prefix(f"ns{ns}/pod")] == [f"ns{ns}/pod/b", f"ns{ns}/pod/c"]
    assert len(idx.query_type("pod")) == 600


# -- prefix / type queries -----------------------------------------------------------------------


def _fill(idx):
    idx.put("default/pod/b", "pod", b"2", 2)
    idx.put("default/pod/a", "pod", b"1", 1)
    idx.put("default/pod/a/b/c", "pod", b"3", 3)  # the name may contain '/'
    idx.put("default/podx/a", "podx", b"4", 4)  # a longer type must not leak into 'default/pod'
    idx.put("default/configmap/cm", "configmap", b"5", 5)
    idx.put("kube-system/pod/a", "pod", b"6", 6)
    idx.put("null/node/n1", "node", b"7", 7)
    idx.put("membership/detail", "membership", b"8", 8)  # two segments: not prefix-indexed
    idx.put("default", "weird", b"9", 9)


def test_query_prefix(store_mod):
    idx = store_mod.MetaIndex()
    _fill(idx)
    assert idx.query_prefix("default/pod") == [
        ("default/pod/a", "pod", b"1", 1),
        ("default/pod/a/b/c", "pod", b"3", 3),
        ("default/pod/b", "pod", b"2", 2),
    ]
    assert idx.query_prefix("default/pod/") == idx.query_prefix("default/pod")
    assert idx.query_prefix("default/configmap") == [("default/configmap/cm", "configmap", b"5", 5)]
    assert idx.query_prefix("null/node") == [("null/node/n1", "node", b"7", 7)]
    assert idx.query_prefix("default/secret") == []
    assert idx.query_prefix("membership/detail") == []


def test_query_prefix_rejects_other_shapes(store_mod):
    idx = store_mod.MetaIndex()
    _fill(idx)
    for bad in ("default", "", "default/pod/a", "/", "a/b/c/"):
        with pytest.raises(ValueError, match="<ns>/<type>"):
            idx.query_prefix(bad)


def test_query_prefix_empty_segments(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("default//x", "t", b"")
    idx.put("/pod/y", "pod", b"")
    idx.put("default/pod/", "pod", b"")  # empty name: still three segments
    # One trailing '/' is dropped, so an empty type needs 'default//'; 'default/' means 'default'.
    assert [r[0] for r in idx.query_prefix("default//")] == ["default//x"]
    with pytest.raises(ValueError, match="got 'default'"):
        idx.query_prefix("default/")
    assert [r[0] for r in idx.query_prefix("/pod")] == ["/pod/y"]
    assert [r[0] for r in idx.query_prefix("default/pod")] == ["default/pod/"]


def test_query_prefix_follows_updates_deletes_and_type_changes(store_mod):
    idx = store_mod.MetaIndex()
    _fill(idx)
    assert [r[0] for r in idx.query_prefix("default/pod")] == [
        "default/pod/a",
        "default/pod/a/b/c",
        "default/pod/b",
    ]
    # Update: the query sees the new value (its cached order is still valid).
    idx.put("default/pod/b", "pod", b"22", 20)
    assert idx.query_prefix("default/pod")[-1] == ("default/pod/b", "pod", b"22", 20)
    # Insert and delete after a query invalidate the cached order.
    idx.put("default/pod/0", "pod", b"0", 1)
    idx.delete("default/pod/a/b/c")
    assert [r[0] for r in idx.query_prefix("default/pod")] == [
        "default/pod/0",
        "default/pod/a",
        "default/pod/b",
    ]
    # Type change: prefix index is by key, type index follows the type column.
    idx.put("default/pod/a", "mirror", b"m", 30)
    assert idx.query_prefix("default/pod")[1] == ("default/pod/a", "mirror", b"m", 30)
    assert [r[0] for r in idx.query_type("mirror")] == ["default/pod/a"]
    assert "default/pod/a" not in [r[0] for r in idx.query_type("pod")]
    # Deleting the last key of a prefix empties it.
    idx.delete("default/configmap/cm")
    assert idx.query_prefix("default/configmap") == []
    idx.put("default/configmap/cm", "configmap", b"back", 1)
    assert idx.query_prefix("default/configmap") == [("default/configmap/cm", "configmap", b"back", 1)]


def test_query_type(store_mod):
    idx = store_mod.MetaIndex()
    _fill(idx)
    assert idx.query_type("pod") == [
        ("default/pod/a", "pod", b"1", 1),
        ("default/pod/a/b/c", "pod", b"3", 3),
        ("default/pod/b", "pod", b"2", 2),
        ("kube-system/pod/a", "pod", b"6", 6),
    ]
    # The type index covers keys outside the prefix index too.
    assert idx.query_type("membership") == [("membership/detail", "membership", b"8", 8)]
    assert idx.query_type("weird") == [("default", "weird", b"9", 9)]
    assert idx.query_type("none") == []
    idx.delete("default")
    assert idx.query_type("weird") == []


def test_query_returns_fresh_lists(store_mod):
    idx = store_mod.MetaIndex()
    _fill(idx)
    first = idx.query_prefix("default/pod")
    first.clear()
    assert len(idx.query_prefix("default/pod")) == 3


# -- dirty journal -------------------------------------------------------------------------------


def test_journal_coalesces_in_first_dirtied_order(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("a/t/1", "t", b"1", 1)
    idx.put("a/t/2", "t", b"2", 1)
    idx.put("a/t/1", "t", b"1b", 2)
    idx.put("a/t/3", "t", b"3", 1)
    assert idx.dirty_count() == 3
    assert idx.drain(100) == [
        ("a/t/1", "t", b"1b", 2, False),
        ("a/t/2", "t", b"2", 1, False),
        ("a/t/3", "t", b"3", 1, False),
    ]
    assert idx.dirty_count() == 0
    assert idx.drain(100) == []


def test_put_then_delete_drains_as_delete_and_back(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("a/t/1", "t", b"1", 1)
    idx.put("a/t/2", "t", b"2", 1)
    idx.delete("a/t/1")
    assert idx.dirty_count() == 2
    assert idx.drain(10) == [("a/t/1", None, None, 0, True), ("a/t/2", "t", b"2", 1, False)]
    idx.load("a/t/3", "t", b"3", 1)
    idx.delete("a/t/3")
    idx.put("a/t/3", "u", b"33", 2)
    assert idx.drain(10) == [("a/t/3", "u", b"33", 2, False)]


def test_deleted_then_revived_key_keeps_its_journal_slot(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("k1", "t", b"1", 1)
    idx.put("k2", "t", b"2", 1)
    idx.delete("k1")
    assert idx.get("k1") is None
    assert "k1" not in idx
    assert len(idx) == 1
    assert idx.delete("k1") is False
    assert idx.put("k1", "t", b"1b", 1) is True  # a deleted key has no rv to be stale against
    idx.mark_dirty(["ghost"])
    idx.put("ghost", "t", b"g", 1)
    assert idx.drain(10) == [
        ("k1", "t", b"1b", 1, False),
        ("k2", "t", b"2", 1, False),
        ("ghost", "t", b"g", 1, False),
    ]
    assert idx.keys() == ["ghost", "k1", "k2"]


def test_drain_in_batches(store_mod):
    idx = store_mod.MetaIndex()
    keys = [f"ns/pod/p{i:03d}" for i in range(10)]
    for i, k in enumerate(keys):
        idx.put(k, "pod", b"%d" % i, i + 1)
    got = []
    sizes = []
    while idx.dirty_count():
        batch = idx.drain(4)
        sizes.append(len(batch))
        got.extend(batch)
    assert sizes == [4, 4, 2]
    assert [r[0] for r in got] == keys
    assert got[3] == ("ns/pod/p003", "pod", b"3", 4, False)


def test_drain_zero_or_negative_takes_nothing(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("a/t/1", "t", b"", 1)
    assert idx.drain(0) == []
    assert idx.drain(-1) == []
    assert idx.dirty_count() == 1


def test_key_dirtied_after_drain_is_journaled_again_at_the_end(store_mod):
    idx = store_mod.MetaIndex()
    for k in ("k1", "k2", "k3"):
        idx.put(k, "t", b"")
    assert [r[0] for r in idx.drain(1)] == ["k1"]
    idx.put("k1", "t", b"again")
    assert [r[0] for r in idx.drain(10)] == ["k2", "k3", "k1"]


def test_mark_dirty(store_mod):
    idx = store_mod.MetaIndex()
    idx.put("a/t/1", "t", b"1", 1)
    idx.put("a/t/2", "t", b"2", 1)
    batch = idx.drain(10)
    assert idx.dirty_count() == 0
    # The write failed: re-journal; meanwhile one key changed and one vanished.
    idx.put("a/t/3", "t", b"3", 1)
    idx.put("a/t/1", "t", b"1b", 2)
    idx.delete("a/t/2")
    idx.mark_dirty([r[0] for r in batch])
    assert idx.dirty_count() == 3
    assert idx.drain(10) == [
        ("a/t/3", "t", b"3", 1, False),
        ("a/t/1", "t", b"1b", 2, False),
        ("a/t/2", None, None, 0, True),
    ]
    # A never-seen key drains as a delete; re-marking a journaled key keeps its place.
    idx.put("a/t/4", "t", b"4", 1)
    idx.mark_dirty(iter(["ghost", "a/t/4"]))
    assert idx.drain(10) == [("a/t/4", "t", b"4", 1, False), ("ghost", None, None, 0, True)]


def test_drain_many_cycles_keeps_order(store_mod):
    # Repeated partial drains while writing: the journal stays a FIFO of first-dirtied keys.
    idx = store_mod.MetaIndex()
    expected = []
    seen = []
    n = 0
    for _ in range(50):
        for _ in range(7):
            k = f"x/t/{n}"
            idx.put(k, "t", b"")
            expected.append(k)
            n += 1
        seen.extend(r[0] for r in idx.drain(5))
    while idx.dirty_count():
        seen.extend(r[0] for r in idx.drain(5))
    assert seen == expected


# -- model-based comparison ----------------------------------------------------------------------

_KEYS = ["a/pod/x", "a/pod/y", "a/pod/x/1", "a/cm/x", "b/pod/x", "a/pod/", "a//x", "m/d", "solo", "a/podx/y"]
_TYPES = ["pod", "cm", "node"]
_PREFIXES = ["a/pod", "a/pod/", "a/cm", "b/pod", "a//", "a/podx", "m/d", "z/z"]


class _Model:
    """The obvious implementation: a dict and a list-as-journal, scanning everything."""

    def __init__(self):
        self.data = {}
        self.journal = []

    def _store(self, key, type, value, rv):
        old = self.data.get(key)
        if old is not None and rv != 0 and old[2] > rv:
            return False
        self.data[key] = (type, value, rv)
        return True

    def _dirty(self, key):
        if key not in self.journal:
            self.journal.append(key)

    def put(self, key, type, value, rv):
        ok = self._store(key, type, value, rv)
        if ok:
            self._dirty(key)
        return ok

    def load(self, key, type, value, rv):
        self._store(key, type, value, rv)

    def delete(self, key):
        if key not in self.data:
            return False
        del self.data[key]
        self._dirty(key)
        return True

    def drain(self, n):
        taken, self.journal = self.journal[: max(n, 0)], self.journal[max(n, 0) :]
        out = []
        for k in taken:
            e = self.data.get(k)
            out.append((k, None, None, 0, True) if e is None else (k, *e, False))
        return out

    def mark_dirty(self, keys):
        for k in keys:
            self._dirty(k)

    def query_prefix(self, prefix):
        p = prefix[:-1] if prefix.endswith("/") else prefix
        ns, _, typ = p.partition("/")
        rows = []
        for k, e in self.data.items():
            parts = k.split("/", 2)
            if len(parts) == 3 and parts[0] == ns and parts[1] == typ:
                rows.append((k, *e))
        return sorted(rows)

    def query_type(self, type):
        return sorted((k, *e) for k, e in self.data.items() if e[0] == type)


_ops = st.one_of(
    st.tuples(
        st.sampled_from(["put", "load"]),
        st.sampled_from(_KEYS),
        st.sampled_from(_TYPES),
        st.binary(max_size=2),
        st.integers(0, 5),
    ),
    st.tuples(st.just("delete"), st.sampled_from(_KEYS)),
    st.tuples(st.just("drain"), st.integers(-1, 4)),
    st.tuples(st.just("mark_dirty"), st.lists(st.sampled_from([*_KEYS, "ghost"]), max_size=3)),
    st.tuples(st.just("query_prefix"), st.sampled_from(_PREFIXES)),
    st.tuples(st.just("query_type"), st.sampled_from(_TYPES)),
)


# The fixture is a module object (stateless), so sharing it across examples is safe.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_ops, max_size=40))
def test_matches_reference_model(store_mod, ops):
    idx = store_mod.MetaIndex()
    model = _Model()
    for op, *args in ops:
        assert getattr(idx, op)(*args) == getattr(model, op)(*args), (op, args)
        assert len(idx) == len(model.data)
        assert idx.dirty_count() == len(model.journal)
    assert idx.keys() == sorted(model.data)
    for k in _KEYS:
        assert idx.get(k) == model.data.get(k)
        assert (k in idx) == (k in model.data)
    assert idx.drain(100) == model.drain(100)
