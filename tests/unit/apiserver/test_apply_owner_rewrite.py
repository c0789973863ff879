"""record_update's fast path for a manager rewriting values it alone owns (lease renewals, status
heartbeats) gives exactly the managedFields of the general path, and is taken where it should be."""

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import kedge.apiserver.apply as apply_mod
from kedge.apiserver.apply import record_update
from kedge.apiserver.smp_meta import meta_for

POD = meta_for("", "Pod")
LEASE = meta_for("coordination.k8s.io", "Lease")
TIMES = ["2024-05-01T10:%02d:%02dZ" % (m, s) for m in range(60) for s in (0, 30)]


@contextmanager
def general_path_only() -> Iterator[None]:
    saved = apply_mod._owner_rewrite
    apply_mod._owner_rewrite = lambda *a, **k: None  # type: ignore[assignment]
    try:
        yield
    finally:
        apply_mod._owner_rewrite = saved  # type: ignore[assignment]


@contextmanager
def counting_fast_path() -> Iterator[list[bool]]:
    taken: list[bool] = []
    saved = apply_mod._owner_rewrite

    def spy(*a: Any, **k: Any) -> Any:
        out = saved(*a, **k)
        taken.append(out is not None)
        return out

    apply_mod._owner_rewrite = spy  # type: ignore[assignment]
    try:
        yield taken
    finally:
        apply_mod._owner_rewrite = saved  # type: ignore[assignment]


def both(old: dict[str, Any] | None, new: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """record_update with and without the fast path: they must agree to the byte."""
    fast = record_update(copy.deepcopy(old), copy.deepcopy(new), **kw)
    with general_path_only():
        slow = record_update(copy.deepcopy(old), copy.deepcopy(new), **kw)
    assert fast == slow
    assert list(fast["metadata"].get("managedFields", [])) == list(slow["metadata"].get("managedFields", []))
    return fast


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "uid": "u-1", "labels": {"app": "x"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1"}]},
        "status": {"phase": "Pending"},
    }


MANAGERS = [("kubelet", "status"), ("kubelet", ""), ("kubectl", ""), ("controller", "status")]

MUTATIONS = st.one_of(
    st.tuples(st.just("label"), st.sampled_from(["a", "b"]), st.sampled_from(["1", "2"])),
    st.tuples(st.just("unlabel"), st.sampled_from(["a", "b"]), st.none()),
    st.tuples(st.just("phase"), st.sampled_from(["Pending", "Running"]), st.none()),
    st.tuples(
        st.just("condition"), st.sampled_from(["Ready", "Initialized"]), st.sampled_from(["True", "False"])
    ),
    st.tuples(st.just("image"), st.sampled_from(["busybox:1", "busybox:2"]), st.none()),
    st.tuples(st.just("nothing"), st.none(), st.none()),
)


def mutate(obj: dict[str, Any], what: tuple[str, Any, Any], when: str) -> dict[str, Any]:
    new = copy.deepcopy(obj)
    kind, a, b = what
    if kind == "label":
        new["metadata"].setdefault("labels", {})[a] = b
    elif kind == "unlabel":
        new["metadata"].get("labels", {}).pop(a, None)
    elif kind == "phase":
        new["status"]["phase"] = a
    elif kind == "condition":
        conditions = new["status"].setdefault("conditions", [])
        for c in conditions:
            if c["type"] == a:
                c["status"], c["lastProbeTime"] = b, when
                break
        else:
            conditions.append({"type": a, "status": b, "lastProbeTime": when})
    elif kind == "image":
        new["spec"]["containers"][0]["image"] = a
    return new


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(MANAGERS), MUTATIONS), min_size=1, max_size=12))
def test_the_fast_path_agrees_with_the_general_one(writes: list[tuple[tuple[str, str], Any]]) -> None:
    obj = both(None, pod(), manager="creator", now=TIMES[0], api_version="v1", meta=POD)
    for i, ((manager, sub), what) in enumerate(writes, start=1):
        new = mutate(obj, what, TIMES[i])
        reset = () if sub else ("status",)
        obj = both(
            obj, new, manager=manager, now=TIMES[i], api_version="v1", meta=POD, subresource=sub,
            reset_fields=reset,
        )  # fmt: skip


def lease(renew: str) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "n1", "namespace": "kube-node-lease", "uid": "u-2"},
        "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": renew},
    }


LEASE_V1 = "coordination.k8s.io/v1"


def created_lease() -> dict[str, Any]:
    return both(None, lease(TIMES[0]), manager="cloudcore", now=TIMES[0], api_version=LEASE_V1, meta=LEASE)


def renew(old: dict[str, Any], when: str, manager: str = "cloudcore") -> dict[str, Any]:
    new = copy.deepcopy(old)
    new["spec"]["renewTime"] = when.replace("Z", ".000000Z")
    return both(old, new, manager=manager, now=when, api_version=LEASE_V1, meta=LEASE)


def test_a_lease_renewal_takes_the_fast_path_and_moves_only_the_time() -> None:
    obj = created_lease()
    with counting_fast_path() as taken:
        renewed = renew(obj, TIMES[1])
        again = renew(renewed, TIMES[2])
    assert taken == [True, True]
    [entry] = again["metadata"]["managedFields"]
    assert entry["time"] == TIMES[2] and entry["manager"] == "cloudcore"
    assert entry["fieldsV1"] == obj["metadata"]["managedFields"][0]["fieldsV1"]


def test_another_manager_taking_a_field_over_takes_the_general_path() -> None:
    obj = created_lease()
    with counting_fast_path() as taken:
        other = renew(obj, TIMES[1], manager="kubectl")
    assert taken == [False]
    managers = {e["manager"]: e for e in other["metadata"]["managedFields"]}
    assert set(managers) == {"cloudcore", "kubectl"}
    assert "f:renewTime" in managers["kubectl"]["fieldsV1"]["f:spec"]
    assert "f:renewTime" not in managers["cloudcore"]["fieldsV1"]["f:spec"]


def test_new_fields_and_edited_managed_fields_take_the_general_path() -> None:
    obj = created_lease()
    grown = copy.deepcopy(obj)
    grown["spec"]["leaseTransitions"] = 1
    cleared = copy.deepcopy(obj)
    cleared["metadata"]["managedFields"] = []
    with counting_fast_path() as taken:
        both(obj, grown, manager="cloudcore", now=TIMES[1], api_version=LEASE_V1, meta=LEASE)
        out = both(obj, cleared, manager="cloudcore", now=TIMES[1], api_version=LEASE_V1, meta=LEASE)
    assert taken == [False, False]
    assert "managedFields" not in out["metadata"]


def test_the_fast_path_leaves_its_inputs_alone() -> None:
    obj = created_lease()
    new = copy.deepcopy(obj)
    new["spec"]["renewTime"] = "2024-05-01T10:00:30.000000Z"
    old_copy, new_copy = copy.deepcopy(obj), copy.deepcopy(new)
    out = record_update(obj, new, manager="cloudcore", now=TIMES[1], api_version=LEASE_V1, meta=LEASE)
    assert obj == old_copy and new == new_copy
    out["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["x"] = {}
    assert obj == old_copy
