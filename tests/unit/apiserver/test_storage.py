"""kedge.apiserver.storage: revisions, errors with kube-apiserver's wording, snapshots, paging, compaction."""

import base64
import gc
import json
import logging
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kedge.apiserver.errors import ApiError
from kedge.apiserver.storage import (
    ADDED,
    DELETED,
    MODIFIED,
    SCHEMA_VERSION,
    ContinueExpired,
    Event,
    ListResult,
    Storage,
    StorageError,
    Stored,
    split_resource,
)

CM = "configmaps"
LATER = 1e12  # a compaction `now` after every write that took the wall clock


def cm(name: str, ns: str = "default", uid: str = "", **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if uid:
        meta["uid"] = uid
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def rv(stored: Stored | Event) -> str:
    return stored.obj["metadata"]["resourceVersion"]


def names(result: ListResult[Stored]) -> list[str]:
    return [s.obj["metadata"]["name"] for s in result.items]


def keys(result: ListResult[Stored]) -> list[str]:
    return [
        "%s/%s" % (s.obj["metadata"].get("namespace", ""), s.obj["metadata"]["name"]) for s in result.items
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Storage]:
    with Storage(str(tmp_path / "kedge.db")) as s:
        yield s


@pytest.fixture
def events(store: Storage) -> list[Event]:
    seen: list[Event] = []
    store.listener = seen.append
    return seen


def token(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


def decode_token(value: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


# -- create / get ---------------------------------------------------------------------------------------


def test_empty_store_is_at_revision_zero(store: Storage) -> None:
    assert (store.revision, store.compacted) == (0, 0)
    assert store.get(CM, "default", "a") is None
    assert store.count(CM) == 0
    assert store.events_since(0) == []


def test_create_stores_the_object_with_its_revision_and_leaves_the_callers_dict_alone(store: Storage) -> None:
    obj = cm("a", k="v")
    created = store.create(CM, "default", "a", obj, now=100.0)
    assert created.rev == 1 == store.revision
    assert rv(created) == "1"
    assert "resourceVersion" not in obj["metadata"]
    assert created.obj == {**obj, "metadata": {**obj["metadata"], "resourceVersion": "1"}}
    # Canonical JSON: sorted keys, so equal objects have equal bytes.
    assert created.data == (
        b'{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap",'
        b'"metadata":{"name":"a","namespace":"default","resourceVersion":"1"}}'
    )
    got = store.get(CM, "default", "a")
    assert got is not None
    assert (got.rev, got.data) == (created.rev, created.data)


def test_create_overwrites_a_resource_version_the_caller_left_in(store: Storage) -> None:
    obj = cm("a")
    obj["metadata"]["resourceVersion"] = "999"
    assert rv(store.create(CM, "default", "a", obj)) == "1"


def test_create_of_an_existing_object_is_409_already_exists(store: Storage, events: list[Event]) -> None:
    store.create(CM, "default", "a", cm("a"))
    with pytest.raises(ApiError) as err:
        store.create(CM, "default", "a", cm("a", k="other"))
    assert (err.value.code, err.value.reason) == (409, "AlreadyExists")
    assert err.value.message == 'configmaps "a" already exists'
    assert store.revision == 1
    assert [e.type for e in events] == [ADDED]
    assert store.get(CM, "default", "a").obj["data"] == {}  # type: ignore[union-attr]


def test_already_exists_names_the_group_of_the_resource(store: Storage) -> None:
    store.create("devices.devices.kubeedge.io", "edge", "d1", {"metadata": {"name": "d1"}})
    with pytest.raises(ApiError) as err:
        store.create("devices.devices.kubeedge.io", "edge", "d1", {"metadata": {"name": "d1"}})
    assert err.value.message == 'devices.devices.kubeedge.io "d1" already exists'
    assert err.value.details == {"kind": "devices", "name": "d1", "group": "devices.kubeedge.io"}


def test_same_name_in_other_namespaces_and_resources_is_another_object(store: Storage) -> None:
    store.create(CM, "a", "x", cm("x", "a"))
    store.create(CM, "b", "x", cm("x", "b"))
    store.create("secrets", "a", "x", {"metadata": {"name": "x"}})
    store.create("nodes", "", "x", {"metadata": {"name": "x"}})
    assert store.revision == 4
    assert store.get(CM, "b", "x").rev == 2  # type: ignore[union-attr]
    assert store.get("nodes", "", "x").rev == 4  # type: ignore[union-attr]


def test_stored_and_event_decode_once(store: Storage, events: list[Event]) -> None:
    created = store.create(CM, "default", "a", cm("a"))
    assert created.obj is created.obj
    assert events[0].obj is events[0].obj
    assert events[0].obj == created.obj
    assert repr(created) == "Stored(rev=1, %d bytes)" % len(created.data)
    assert repr(events[0]) == "Event(ADDED configmaps default/a rev=1)"


def test_split_resource() -> None:
    assert split_resource("pods") == ("pods", "")
    assert split_resource("deployments.apps") == ("deployments", "apps")
    assert split_resource("devices.devices.kubeedge.io") == ("devices", "devices.kubeedge.io")


# -- update ---------------------------------------------------------------------------------------------


def test_update_writes_a_new_revision_and_reports_the_previous_version(
    store: Storage, events: list[Event]
) -> None:
    first = store.create(CM, "default", "a", cm("a", k="1"))
    store.create(CM, "default", "b", cm("b"))
    updated = store.update(CM, "default", "a", cm("a", k="2"), now=5.0)
    assert (updated.rev, rv(updated), updated.obj["data"]) == (3, "3", {"k": "2"})
    assert store.get(CM, "default", "a").data == updated.data  # type: ignore[union-attr]
    last = events[-1]
    assert (last.type, last.rev, last.data, last.prev) == (MODIFIED, 3, updated.data, first.data)


def test_update_with_the_current_revision_succeeds_and_with_another_is_409(store: Storage) -> None:
    store.create(CM, "default", "a", cm("a"))
    assert store.update(CM, "default", "a", cm("a", k="1"), expect_rev=1).rev == 2
    with pytest.raises(ApiError) as err:
        store.update(CM, "default", "a", cm("a", k="2"), expect_rev=1)
    assert (err.value.code, err.value.reason) == (409, "Conflict")
    assert err.value.message == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert store.revision == 2


def test_update_of_a_missing_object_is_404(store: Storage) -> None:
    with pytest.raises(ApiError) as err:
        store.update("deployments.apps", "default", "web", {"metadata": {"name": "web"}})
    assert (err.value.code, err.value.reason) == (404, "NotFound")
    assert err.value.message == 'deployments.apps "web" not found'
    assert store.revision == 0


def test_update_that_changes_nothing_writes_nothing(store: Storage, events: list[Event]) -> None:
    created = store.create(CM, "default", "a", cm("a", k="v"))
    # Same content in another key order, with a stale resourceVersion: still unchanged.
    same = {"data": {"k": "v"}, "metadata": {"namespace": "default", "name": "a", "resourceVersion": "7"}}
    same.update(apiVersion="v1", kind="ConfigMap")
    unchanged = store.update(CM, "default", "a", same)
    assert (unchanged.rev, unchanged.data) == (created.rev, created.data)
    assert store.revision == 1
    assert len(events) == 1
    # A change of the same length is still a change.
    assert store.update(CM, "default", "a", cm("a", k="w")).rev == 2


# -- delete ---------------------------------------------------------------------------------------------


def test_delete_returns_the_object_at_the_deletion_revision(store: Storage, events: list[Event]) -> None:
    created = store.create(CM, "default", "a", cm("a", uid="u-1", k="v"))
    deleted = store.delete(CM, "default", "a", now=9.0)
    assert (deleted.rev, rv(deleted)) == (2, "2")
    assert deleted.obj["data"] == {"k": "v"}
    assert store.get(CM, "default", "a") is None
    assert store.count(CM) == 0
    last = events[-1]
    assert (last.type, last.rev, last.data, last.prev) == (DELETED, 2, deleted.data, created.data)


def test_delete_of_a_missing_object_is_404(store: Storage) -> None:
    with pytest.raises(ApiError) as err:
        store.delete("pods", "default", "p")
    assert (err.value.code, err.value.message) == (404, 'pods "p" not found')


def test_delete_preconditions_answer_as_kube_apiserver(store: Storage) -> None:
    store.create("deployments.apps", "default", "web", {"kind": "Deployment", "metadata": {"uid": "u-1"}})
    with pytest.raises(ApiError) as err:
        store.delete("deployments.apps", "default", "web", expect_uid="u-2")
    assert (err.value.code, err.value.reason) == (409, "Conflict")
    assert err.value.message == (
        'Operation cannot be fulfilled on Deployment.apps "web": the UID in the precondition (u-2) does not '
        "match the UID in record (u-1). The object might have been deleted and then recreated"
    )
    assert err.value.details == {"kind": "Deployment", "name": "web", "group": "apps"}
    with pytest.raises(ApiError) as err:
        store.delete("deployments.apps", "default", "web", expect_uid="u-1", expect_rev=7)
    assert err.value.message == (
        'Operation cannot be fulfilled on Deployment.apps "web": the ResourceVersion in the precondition (7) '
        "does not match the ResourceVersion in record (1). The object might have been modified"
    )
    assert store.revision == 1
    assert store.delete("deployments.apps", "default", "web", expect_uid="u-1", expect_rev=1).rev == 2


def test_delete_precondition_names_the_resource_when_the_object_has_no_kind(store: Storage) -> None:
    store.create(CM, "default", "a", {"metadata": {"name": "a"}})
    with pytest.raises(ApiError) as err:
        store.delete(CM, "default", "a", expect_uid="u-9")
    assert err.value.message.startswith('Operation cannot be fulfilled on configmaps "a": the UID in the ')
    assert "(u-9) does not match the UID in record ()" in err.value.message


def test_a_deleted_name_can_be_created_again(store: Storage, events: list[Event]) -> None:
    store.create(CM, "default", "a", cm("a", k="1"))
    store.delete(CM, "default", "a")
    again = store.create(CM, "default", "a", cm("a", k="2"))
    assert again.rev == 3
    assert [(e.type, e.rev, e.prev is None) for e in events] == [
        (ADDED, 1, True),
        (DELETED, 2, False),
        (ADDED, 3, True),
    ]
    assert [e.type for e in store.events_since(0)] == [ADDED, DELETED, ADDED]


# -- revisions ------------------------------------------------------------------------------------------

_ops = st.lists(
    st.tuples(
        st.sampled_from(["create", "update", "delete"]), st.sampled_from(["a", "b", "c"]), st.text("xyz")
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(_ops)
def test_every_write_takes_the_next_revision_and_the_log_replays_to_the_state(
    ops: list[tuple[str, str, str]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp, Storage(tmp + "/kedge.db") as store:
        model: dict[str, bytes] = {}
        for op, name, value in ops:
            before = store.revision
            try:
                if op == "create":
                    model[name] = store.create(CM, "ns", name, cm(name, "ns", v=value)).data
                elif op == "update":
                    old = model.get(name)
                    stored = store.update(CM, "ns", name, cm(name, "ns", v=value))
                    model[name] = stored.data
                    if old is not None and stored.data == old:
                        assert store.revision == before
                        continue
                else:
                    store.delete(CM, "ns", name)
                    del model[name]
            except ApiError as err:
                assert err.code == (409 if op == "create" else 404)
                assert (name in model) == (op == "create")
                assert store.revision == before
                continue
            assert store.revision == before + 1
        assert {s.obj["metadata"]["name"]: s.data for s in store.list(CM).items} == model
        replay: dict[str, bytes] = {}
        history = store.events_since(0)
        assert [e.rev for e in history] == list(range(1, store.revision + 1))
        for e in history:
            assert rv(e) == str(e.rev)
            if e.type == DELETED:
                del replay[e.name]
            else:
                replay[e.name] = e.data
        assert replay == model


def test_state_survives_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "kedge.db")
    with Storage(path) as store:
        store.create(CM, "default", "a", cm("a"), now=0.0)
        store.create(CM, "default", "b", cm("b"), now=0.0)
        store.delete(CM, "default", "b", now=0.0)
        store.compact(now=1000.0, keep_revisions=1, min_age=0)
    with Storage(path) as store:
        assert (store.revision, store.compacted) == (3, 2)
        assert store.get(CM, "default", "a").rev == 1  # type: ignore[union-attr]
        assert store.create(CM, "default", "c", cm("c")).rev == 4


def test_revision_survives_compacting_every_event_away(tmp_path: Path) -> None:
    path = str(tmp_path / "kedge.db")
    with Storage(path) as store:
        store.create(CM, "default", "a", cm("a"), now=0.0)
        store.delete(CM, "default", "a", now=0.0)
        assert store.compact(now=1000.0, keep_revisions=0, min_age=0) == 2
    with Storage(path) as store:
        assert (store.revision, store.compacted) == (2, 2)
        assert store.create(CM, "default", "a", cm("a")).rev == 3


# -- events_since / compaction --------------------------------------------------------------------------


def test_events_since_filters_by_resource_and_namespace(store: Storage) -> None:
    store.create(CM, "a", "x", cm("x", "a"))
    store.create("secrets", "a", "s", {"metadata": {"name": "s"}})
    store.create(CM, "b", "y", cm("y", "b"))
    store.update(CM, "a", "x", cm("x", "a", k="1"))
    assert [(e.rev, e.type) for e in store.events_since(0, CM)] == [(1, ADDED), (3, ADDED), (4, MODIFIED)]
    assert [e.rev for e in store.events_since(1, CM, "a")] == [4]
    assert [e.rev for e in store.events_since(2)] == [3, 4]
    assert store.events_since(4) == []
    assert store.events_since(100) == []
    modified = store.events_since(3)[0]
    assert (modified.res, modified.ns, modified.name) == (CM, "a", "x")
    assert modified.prev == store.events_since(0)[0].data


def test_compaction_keeps_the_newest_revisions_and_current_objects(store: Storage) -> None:
    for i in range(10):
        store.create(CM, "default", "o%d" % i, cm("o%d" % i), now=0.0)  # revisions 1..10
    for i in range(5):
        store.update(CM, "default", "o%d" % i, cm("o%d" % i, k="x"), now=0.0)  # 11..15
    store.delete(CM, "default", "o9", now=0.0)  # 16
    # Nothing is older than keep_revisions=16.
    assert store.compact(now=1000.0, keep_revisions=16, min_age=0) == 0
    removed = store.compact(now=1000.0, keep_revisions=3, min_age=0)  # compacts up to 13
    assert store.compacted == 13
    # Gone: o0..o2's first versions (replaced at 11..13). o3, o4 first versions stay: 14, 15 need them.
    assert removed == 3
    for i in range(9):
        assert store.get(CM, "default", "o%d" % i) is not None
    assert [e.rev for e in store.events_since(13)] == [14, 15, 16]
    assert store.events_since(13)[0].prev == store.list(CM, revision=13).items[3].data
    with pytest.raises(ApiError) as err:
        store.events_since(12)
    assert (err.value.code, err.value.reason, err.value.message) == (
        410,
        "Expired",
        "too old resource version: 12 (13)",
    )
    # Everything: only the 9 live objects' versions remain.
    assert store.compact(now=1000.0, keep_revisions=0, min_age=0) == 16 - 9 - 3
    assert store.compacted == 16
    assert store.events_since(16) == []
    assert store.count(CM) == 9
    assert [s.rev for s in store.list(CM).items] == [11, 12, 13, 14, 15, 6, 7, 8, 9]


def test_compaction_spares_events_younger_than_min_age(store: Storage) -> None:
    store.create(CM, "default", "a", cm("a"), now=100.0)
    store.update(CM, "default", "a", cm("a", k="1"), now=200.0)
    store.update(CM, "default", "a", cm("a", k="2"), now=300.0)
    store.update(CM, "default", "a", cm("a", k="3"), now=400.0)
    # At now=500, min_age=250: only events written at or before 250 may go (revisions 1, 2).
    assert store.compact(now=500.0, keep_revisions=0, min_age=250.0) == 1  # revision 1, replaced by 2
    assert store.compacted == 2
    assert [e.rev for e in store.events_since(2)] == [3, 4]
    assert store.compact(now=500.0, keep_revisions=0, min_age=250.0) == 0
    assert store.compact(now=10_000.0, keep_revisions=0, min_age=250.0) == 2
    assert store.compacted == 4


def test_compact_rejects_bad_arguments_and_open_transactions(store: Storage) -> None:
    with pytest.raises(ValueError, match=r"keep_revisions \(-1\) and min_age \(0\) must be >= 0"):
        store.compact(now=0.0, keep_revisions=-1, min_age=0)
    with store.transaction(), pytest.raises(StorageError, match="inside transaction"):
        store.compact(now=0.0)


# -- list -----------------------------------------------------------------------------------------------


def populate(store: Storage) -> None:
    for ns in ("b", "a", "c"):
        for name in ("z", "m", "a"):
            store.create(CM, ns, name, cm(name, ns, v=ns + name))
    store.create("secrets", "a", "s", {"metadata": {"name": "s", "namespace": "a"}})


def test_list_orders_by_namespace_then_name(store: Storage) -> None:
    populate(store)
    everything = store.list(CM)
    assert keys(everything) == ["a/a", "a/m", "a/z", "b/a", "b/m", "b/z", "c/a", "c/m", "c/z"]
    assert (everything.revision, everything.continue_token, everything.remaining) == (10, None, None)
    assert names(store.list(CM, "b")) == ["a", "m", "z"]
    assert store.list(CM, "nope").items == []
    assert store.count(CM) == 9
    assert store.count(CM, "c") == 3
    assert store.count("secrets") == 1


def test_list_raw_returns_the_stored_bytes(store: Storage) -> None:
    populate(store)
    raw = store.list_raw(CM, "a")
    assert raw.items == [s.data for s in store.list(CM, "a").items]
    assert raw.items[0] == store.get(CM, "a", "a").data  # type: ignore[union-attr]
    page = store.list_raw(CM, limit=2)
    assert page.items == [s.data for s in store.list(CM).items[:2]]
    assert page.remaining == 7


def test_cluster_scoped_resources_list_with_or_without_namespace(store: Storage) -> None:
    for name in ("n2", "n1", "n3"):
        store.create("nodes", "", name, {"metadata": {"name": name}})
    assert names(store.list("nodes")) == ["n1", "n2", "n3"]
    first = store.list("nodes", limit=2)
    assert decode_token(first.continue_token)["start"] == "n2\x00"  # type: ignore[arg-type]
    assert names(store.list("nodes", limit=2, continue_token=first.continue_token)) == ["n3"]


def test_paging_walks_every_object_once_with_counts(store: Storage) -> None:
    populate(store)
    seen: list[str] = []
    page = store.list(CM, limit=4)
    pages = [page]
    while page.continue_token:
        page = store.list(CM, limit=4, continue_token=page.continue_token)
        pages.append(page)
    for p in pages:
        seen += keys(p)
    assert seen == keys(store.list(CM))
    assert [(len(p.items), p.remaining, p.revision) for p in pages] == [(4, 5, 10), (4, 1, 10), (1, None, 10)]
    assert decode_token(pages[0].continue_token) == {"v": "meta.k8s.io/v1", "rv": 10, "start": "b/a\x00"}  # type: ignore[arg-type]
    # Within a namespace the key is the name alone.
    in_b = store.list(CM, "b", limit=2)
    assert decode_token(in_b.continue_token)["start"] == "m\x00"  # type: ignore[arg-type]
    assert names(store.list(CM, "b", limit=2, continue_token=in_b.continue_token)) == ["z"]


def test_a_page_that_ends_exactly_at_the_end_has_no_continue(store: Storage) -> None:
    populate(store)
    last = store.list(CM, "a", limit=3)
    assert (len(last.items), last.continue_token, last.remaining) == (3, None, None)


def test_later_pages_show_the_snapshot_of_the_first(store: Storage) -> None:
    populate(store)
    first = store.list(CM, limit=4)  # a/a a/m a/z b/a at revision 10
    before = {k: s.data for k, s in zip(keys(store.list(CM)), store.list(CM).items, strict=True)}
    # Writes between pages, before and after the cursor.
    store.create(CM, "a", "b", cm("b", "a"))  # before the cursor: never shown
    store.create(CM, "b", "b", cm("b", "b"))  # after the cursor, but newer than the snapshot
    store.update(CM, "b", "m", cm("m", "b", v="new"))  # shown as it was
    store.delete(CM, "c", "a")  # shown: it existed at revision 10
    store.delete(CM, "b", "z")
    store.create(CM, "b", "z", cm("z", "b", v="again"))  # deleted and recreated: the old one
    store.create("secrets", "b", "s", {"metadata": {"name": "s"}})  # another resource: irrelevant
    second = store.list(CM, limit=3, continue_token=first.continue_token)
    assert keys(second) == ["b/m", "b/z", "c/a"]
    assert [s.data for s in second.items] == [before["b/m"], before["b/z"], before["c/a"]]
    assert second.revision == 10
    assert second.remaining == 2  # c/m, c/z at revision 10
    third = store.list(CM, limit=3, continue_token=second.continue_token)
    assert keys(third) == ["c/m", "c/z"]
    assert third.continue_token is None
    # The raw path shows the same snapshot.
    assert store.list_raw(CM, limit=3, continue_token=first.continue_token).items == [
        s.data for s in second.items
    ]


def test_snapshot_counts_objects_created_and_deleted_since(store: Storage) -> None:
    populate(store)
    first = store.list(CM, "c", limit=1)  # c/a of a, m, z
    store.delete(CM, "c", "m")
    store.create(CM, "c", "n", cm("n", "c"))
    second = store.list(CM, "c", limit=1, continue_token=first.continue_token)
    assert (names(second), second.remaining) == (["m"], 1)


def test_list_at_an_exact_revision(store: Storage) -> None:
    store.create(CM, "d", "a", cm("a", "d", v="1"))
    store.create(CM, "d", "b", cm("b", "d", v="1"))
    store.update(CM, "d", "a", cm("a", "d", v="2"))
    store.delete(CM, "d", "b")
    store.create(CM, "d", "c", cm("c", "d"))
    assert [(s.obj["metadata"]["name"], s.rev) for s in store.list(CM, revision=2).items] == [
        ("a", 1),
        ("b", 2),
    ]
    assert [(s.obj["metadata"]["name"], s.rev) for s in store.list(CM, revision=3).items] == [
        ("a", 3),
        ("b", 2),
    ]
    assert names(store.list(CM, "d", revision=4)) == ["a"]
    at1 = store.list(CM, revision=1)
    assert (names(at1), at1.revision) == (["a"], 1)
    assert store.list(CM, revision=0).items == []
    store.compact(now=LATER, keep_revisions=2, min_age=0)  # compacted = 3
    assert names(store.list(CM, revision=3)) == ["a", "b"]
    with pytest.raises(ApiError) as err:
        store.list(CM, revision=2)
    assert (err.value.code, err.value.reason, err.value.message) == (
        410,
        "Expired",
        "The resourceVersion for the provided list is too old.",
    )
    with pytest.raises(ApiError) as err:
        store.list(CM, revision=6)
    assert (err.value.code, err.value.reason, err.value.message) == (
        504,
        "Timeout",
        "Too large resource version: 6, current: 5",
    )
    assert err.value.details == {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]
    }


def test_predicate_fills_pages_with_matching_objects(store: Storage) -> None:
    populate(store)

    def odd(s: Stored) -> bool:
        return s.obj["metadata"]["name"] != "m"

    first = store.list(CM, limit=3, predicate=odd)
    assert keys(first) == ["a/a", "a/z", "b/a"]
    assert first.remaining is None
    second = store.list_raw(CM, limit=3, predicate=odd, continue_token=first.continue_token)
    assert [json.loads(d)["metadata"]["name"] for d in second.items] == ["z", "a", "z"]
    assert second.continue_token is None
    assert names(store.list(CM, predicate=lambda s: False)) == []


def test_predicate_page_that_scans_to_the_end_has_no_continue(store: Storage) -> None:
    populate(store)
    only_c = store.list(CM, limit=5, predicate=lambda s: s.obj["metadata"]["namespace"] == "c")
    assert (keys(only_c), only_c.continue_token) == (["c/a", "c/m", "c/z"], None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64!", "illegal base64 data at input byte 3"),
        ("eyJ2Ij=", "illegal base64 data at input byte 6"),
        (
            token({"v": "meta.k8s.io/v2", "rv": 1, "start": "a"}),
            "server does not recognize this encoded version",
        ),
        (token({"v": "meta.k8s.io/v1", "rv": 0, "start": "a"}), "incorrect encoded start resourceVersion"),
        (token({"v": "meta.k8s.io/v1", "rv": 1, "start": ""}), "encoded start key empty"),
        (token({"v": "meta.k8s.io/v1", "rv": 1, "start": "../x"}), "continue key is not valid: ../x"),
        (token({"v": "meta.k8s.io/v1", "rv": 1, "start": "a//b"}), "continue key is not valid: a//b"),
        (
            token({"v": "meta.k8s.io/v1", "rv": "1", "start": "a"}),
            "continue key is not valid: Expected `int`",
        ),
        (base64.urlsafe_b64encode(b"[1,").rstrip(b"=").decode(), "continue key is not valid: "),
    ],
)
def test_malformed_continue_tokens_are_400(store: Storage, value: str, message: str) -> None:
    with pytest.raises(ApiError) as err:
        store.list(CM, limit=1, continue_token=value)
    assert (err.value.code, err.value.reason) == (400, "BadRequest")
    assert err.value.message.startswith("invalid continue token: continue key is not valid")
    assert message in err.value.message


def test_continue_with_a_resource_version_is_400(store: Storage) -> None:
    populate(store)
    page = store.list(CM, limit=1)
    with pytest.raises(ApiError) as err:
        store.list(CM, limit=1, continue_token=page.continue_token, revision=10)
    assert (err.value.code, err.value.message) == (
        400,
        "specifying resource version is not allowed when using continue",
    )


def test_continue_from_the_future_is_too_large(store: Storage) -> None:
    with pytest.raises(ApiError) as err:
        store.list(CM, continue_token=token({"v": "meta.k8s.io/v1", "rv": 5, "start": "a\x00"}))
    assert (err.value.code, err.value.message) == (504, "Too large resource version: 5, current: 0")


def test_a_compacted_continue_is_410_with_a_token_to_go_on_at_the_latest_revision(store: Storage) -> None:
    populate(store)
    first = store.list(CM, limit=4)
    store.create(CM, "b", "b", cm("b", "b"))
    store.delete(CM, "c", "a")
    store.compact(now=LATER, keep_revisions=0, min_age=0)
    with pytest.raises(ContinueExpired) as err:
        store.list(CM, limit=4, continue_token=first.continue_token)
    assert (err.value.code, err.value.reason) == (410, "Expired")
    assert err.value.message == (
        "The provided continue parameter is too old to display a consistent list result. You can start a "
        "new list without the continue parameter, or use the continue token in this response to retrieve "
        "the remainder of the results. Continuing with the provided token results in an inconsistent list "
        "- objects that were created, modified, or deleted between the time the first chunk was returned "
        "and now may show up in the list."
    )
    status = err.value.status()
    assert status["metadata"] == {"continue": err.value.continue_token}
    assert (status["code"], status["reason"]) == (410, "Expired")
    assert decode_token(err.value.continue_token) == {"v": "meta.k8s.io/v1", "rv": -1, "start": "b/a\x00"}
    # The inconsistent continuation: today's objects after the key, and consistent pages from there on.
    rest = store.list(CM, limit=4, continue_token=err.value.continue_token)
    assert keys(rest) == ["b/b", "b/m", "b/z", "c/m"]
    assert rest.revision == store.revision
    assert decode_token(rest.continue_token)["rv"] == store.revision  # type: ignore[arg-type]
    assert keys(store.list(CM, limit=4, continue_token=rest.continue_token)) == ["c/z"]


# -- listener and transactions --------------------------------------------------------------------------


def test_listener_sees_each_committed_write_in_order(store: Storage, events: list[Event]) -> None:
    committed: list[int] = []
    store.listener = lambda e: (events.append(e), committed.append(store.revision))
    store.create(CM, "default", "a", cm("a"))
    store.update(CM, "default", "a", cm("a", k="1"))
    store.delete(CM, "default", "a")
    assert [(e.type, e.rev) for e in events] == [(ADDED, 1), (MODIFIED, 2), (DELETED, 3)]
    assert committed == [1, 2, 3]  # the revision is already visible to the listener


def test_a_failing_listener_does_not_undo_the_write(store: Storage, caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    store.listener = broken
    with caplog.at_level(logging.ERROR, logger="kedge.apiserver.storage"):
        created = store.create(CM, "default", "a", cm("a"))
    assert store.get(CM, "default", "a").rev == created.rev  # type: ignore[union-attr]
    assert "storage listener failed on ADDED configmaps default/a at revision 1" in caplog.text


def test_transaction_commits_together_and_delivers_after_commit(store: Storage, events: list[Event]) -> None:
    store.create(CM, "default", "a", cm("a"))
    with store.transaction() as tx:
        assert tx is store
        store.create(CM, "default", "b", cm("b"))
        store.delete(CM, "default", "a")
        assert store.revision == 3
        assert store.get(CM, "default", "a") is None  # the transaction sees its own writes
        assert len(events) == 1  # nothing delivered before commit
    assert [(e.type, e.name, e.rev) for e in events] == [(ADDED, "a", 1), (ADDED, "b", 2), (DELETED, "a", 3)]
    assert names(store.list(CM)) == ["b"]


def test_transaction_rolled_back_by_an_exception_leaves_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "kedge.db")
    with Storage(path) as store:
        seen: list[Event] = []
        store.listener = seen.append
        store.create(CM, "default", "a", cm("a"))
        with pytest.raises(KeyError), store.transaction():
            store.create(CM, "default", "b", cm("b"))
            store.update(CM, "default", "a", cm("a", k="1"))
            raise KeyError("stop")
        assert store.revision == 1
        assert names(store.list(CM)) == ["a"]
        assert store.get(CM, "default", "a").rev == 1  # type: ignore[union-attr]
        assert len(seen) == 1
        assert store.create(CM, "default", "b", cm("b")).rev == 2  # revision 2 was never used
    with Storage(path) as store:
        assert [e.rev for e in store.events_since(0)] == [1, 2]


def test_an_api_error_inside_a_transaction_leaves_it_usable(store: Storage, events: list[Event]) -> None:
    store.create(CM, "default", "a", cm("a"))
    with store.transaction():
        with pytest.raises(ApiError):
            store.create(CM, "default", "a", cm("a"))
        with pytest.raises(ApiError):
            store.delete(CM, "default", "missing")
        store.create(CM, "default", "b", cm("b"))
    assert [e.rev for e in events] == [1, 2]
    assert names(store.list(CM)) == ["a", "b"]


def test_nested_transactions_are_savepoints(store: Storage, events: list[Event]) -> None:
    with store.transaction():
        store.create(CM, "default", "a", cm("a"))
        with pytest.raises(RuntimeError), store.transaction():
            store.create(CM, "default", "b", cm("b"))
            raise RuntimeError("undo b only")
        with store.transaction():
            store.create(CM, "default", "c", cm("c"))
    assert [(e.name, e.rev) for e in events] == [("a", 1), ("c", 2)]
    assert names(store.list(CM)) == ["a", "c"]


def test_a_write_failing_inside_sqlite_dooms_the_transaction(store: Storage, events: list[Event]) -> None:
    with pytest.raises(StorageError, match="transaction rolled back: a write in it failed"):  # noqa: SIM117
        with store.transaction():
            store.create(CM, "default", "a", cm("a"))
            with pytest.raises(apsw.ConstraintError):
                store.create(CM, None, "b", cm("b"))  # type: ignore[arg-type]
            with pytest.raises(StorageError, match="a write in it failed"):
                store.create(CM, "default", "c", cm("c"))
    assert (store.revision, store.count(CM), events) == (0, 0, [])


def test_a_failed_standalone_write_rolls_back(store: Storage) -> None:
    with pytest.raises(apsw.ConstraintError):
        store.create(CM, None, "b", cm("b"))  # type: ignore[arg-type]
    assert store.create(CM, "default", "a", cm("a")).rev == 1


# -- the database file ----------------------------------------------------------------------------------


def test_a_second_owner_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "kedge.db")
    with Storage(path), pytest.raises(StorageError, match="is in use by another kedge API server"):
        Storage(path)
    Storage(path).close()  # free again once closed


def test_the_database_is_in_wal_mode_with_the_current_schema(tmp_path: Path) -> None:
    path = str(tmp_path / "kedge.db")
    Storage(path).close()
    conn = apsw.Connection(path)
    assert conn.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [
        (SCHEMA_VERSION,)
    ]
    conn.close()


def test_a_database_from_a_newer_kedge_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "kedge.db")
    Storage(path).close()
    conn = apsw.Connection(path)
    conn.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(StorageError, match="has schema version 99, newer than this kedge supports"):
        Storage(path)
    conn = apsw.Connection(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))
    conn.close()
    Storage(path).close()


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "other.db")
    conn = apsw.Connection(path)
    conn.execute("CREATE TABLE things(x)")
    conn.close()
    with pytest.raises(StorageError, match=r"is not a kedge API server database \(tables \['things'\]\)"):
        Storage(path)


def test_closing_twice_and_closing_inside_a_transaction(tmp_path: Path) -> None:
    path = str(tmp_path / "kedge.db")
    store = Storage(path)
    transaction = store.transaction()
    transaction.__enter__()
    store.create(CM, "default", "a", cm("a"))
    store.close()
    store.close()
    assert transaction.__exit__(RuntimeError, RuntimeError("late"), None) is False
    with Storage(path) as again:
        assert again.revision == 0


def test_python_memory_stays_flat_with_100000_objects(tmp_path: Path) -> None:
    """Nothing per object stays in Python: only SQLite's page cache (64 MiB) holds data in memory."""
    with Storage(str(tmp_path / "kedge.db")) as store:
        body = {"metadata": {"name": "", "namespace": "default"}, "data": {"k": "v" * 64}}
        gc.collect()
        blocks = sys.getallocatedblocks()
        for batch in range(20):
            with store.transaction():
                for i in range(5000):
                    store.create(CM, "ns%d" % (i % 10), "cm-%d-%d" % (batch, i), body, now=0.0)
        assert store.count(CM) == 100_000
        assert store.list_raw(CM, "ns3", limit=10).remaining == 9_990
        gc.collect()
        grown = sys.getallocatedblocks() - blocks
        assert grown < 1000, "%d Python memory blocks more after 100,000 creates" % grown
        assert apsw.memory_used() < 80 * 1024 * 1024


def test_data_is_msgspec_json(store: Storage) -> None:
    created = store.create(CM, "default", "a", cm("a", k="ü"))
    assert msgspec.json.decode(created.data)["data"] == {"k": "ü"}
