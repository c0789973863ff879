"""kedge.cloud.edgecontroller.locations: which ConfigMaps and Secrets each edge node's pods reference."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.cloud.edgecontroller.locations import Locations, Ref, pod_refs
from kedge.model import constants as c


def cm(name: str, ns: str = "default") -> Ref:
    return Ref(c.CONFIGMAP, ns, name)


def secret(name: str, ns: str = "default") -> Ref:
    return Ref(c.SECRET, ns, name)


def pod(spec: dict[str, Any], ns: str | None = "default") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "uid": "u"}
    if ns is not None:
        meta["namespace"] = ns
    return {"metadata": meta, "spec": spec}


# -- pod_refs ----------------------------------------------------------------------------------------


def test_every_kind_of_reference_is_found() -> None:
    spec = {
        "volumes": [
            {"name": "a", "configMap": {"name": "vol-cm"}},
            {"name": "b", "secret": {"secretName": "vol-secret"}},
            {
                "name": "c",
                "projected": {
                    "sources": [
                        {"configMap": {"name": "proj-cm"}},
                        {"secret": {"name": "proj-secret"}},
                        {"serviceAccountToken": {"path": "token"}},
                    ]
                },
            },
            {"name": "d", "emptyDir": {}},
        ],
        "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "init-cm"}}]}],
        "containers": [
            {
                "name": "app",
                "env": [
                    {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "x"}}},
                    {"name": "Y", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "y"}}},
                    {"name": "Z", "value": "plain"},
                    {"name": "F", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "envFrom": [{"secretRef": {"name": "from-secret"}}, {"prefix": "P_"}],
            }
        ],
        "ephemeralContainers": [{"name": "e", "envFrom": [{"configMapRef": {"name": "debug-cm"}}]}],
        "imagePullSecrets": [{"name": "registry"}],
    }
    assert pod_refs(pod(spec, "web")) == {
        cm("vol-cm", "web"),
        secret("vol-secret", "web"),
        cm("proj-cm", "web"),
        secret("proj-secret", "web"),
        cm("init-cm", "web"),
        cm("env-cm", "web"),
        secret("env-secret", "web"),
        secret("from-secret", "web"),
        cm("debug-cm", "web"),
        secret("registry", "web"),
    }


def test_a_name_used_twice_is_one_reference_and_types_stay_apart() -> None:
    spec = {
        "volumes": [{"configMap": {"name": "same"}}, {"secret": {"secretName": "same"}}],
        "containers": [{"envFrom": [{"configMapRef": {"name": "same"}}]}],
    }
    assert pod_refs(pod(spec)) == {cm("same"), secret("same")}


def test_a_pod_without_namespace_is_in_default() -> None:
    assert pod_refs(pod({"volumes": [{"configMap": {"name": "x"}}]}, ns=None)) == {cm("x")}


@pytest.mark.parametrize(
    "spec",
    [
        {"volumes": "not a list"},
        {
            "volumes": [
                None,
                3,
                "x",
                {"configMap": "x"},
                {"configMap": {"name": 7}},
                {"secret": {"name": "x"}},
            ]
        },
        {"volumes": [{"projected": {"sources": {"configMap": {"name": "x"}}}}, {"projected": []}]},
        {"containers": [{"env": [{"valueFrom": "x"}, {"valueFrom": {"configMapKeyRef": None}}]}]},
        {"containers": {"name": "not a list"}},
        {"imagePullSecrets": [{"name": ""}, {"nom": "x"}]},
        {"volumes": [{"configMap": {"name": ""}}]},
    ],
)
def test_malformed_specs_reference_nothing(spec: dict[str, Any]) -> None:
    assert pod_refs(pod(spec)) == frozenset()


@pytest.mark.parametrize("obj", [{}, {"metadata": "x", "spec": {}}, {"metadata": {}, "spec": None}])
def test_malformed_pods_reference_nothing(obj: dict[str, Any]) -> None:
    assert pod_refs(obj) == frozenset()


# -- Locations ---------------------------------------------------------------------------------------


def test_first_pod_gains_and_last_pod_loses_a_reference() -> None:
    loc = Locations()
    assert loc.set_pod("p1", "n1", [cm("a"), secret("s")]) == ([cm("a"), secret("s")], [])
    assert loc.set_pod("p2", "n1", [cm("a")]) == ([], [])  # n1 has it already
    assert loc.nodes_of(cm("a")) == {"n1"}
    assert loc.remove_pod("p1") == ("n1", [secret("s")])  # p2 still uses a
    assert loc.remove_pod("p2") == ("n1", [cm("a")])
    assert loc.nodes_of(cm("a")) == frozenset()
    assert loc.refs_of("n1") == []
    assert len(loc) == 0


def test_references_are_per_node() -> None:
    loc = Locations()
    assert loc.set_pod("p1", "n1", [cm("a")]) == ([cm("a")], [])
    assert loc.set_pod("p2", "n2", [cm("a")]) == ([cm("a")], [])  # n2 needs its own copy
    assert loc.nodes_of(cm("a")) == {"n1", "n2"}
    assert loc.remove_pod("p1") == ("n1", [cm("a")])
    assert loc.nodes_of(cm("a")) == {"n2"}


def test_an_update_reports_the_difference() -> None:
    loc = Locations()
    loc.set_pod("p1", "n1", [cm("a"), cm("b")])
    assert loc.set_pod("p1", "n1", [cm("b"), secret("c")]) == ([secret("c")], [cm("a")])
    assert loc.set_pod("p1", "n1", [cm("b"), secret("c")]) == ([], [])
    assert loc.refs_of("n1") == [cm("b"), secret("c")]


def test_pods_and_nodes_are_tracked() -> None:
    loc = Locations()
    loc.set_pod("p1", "n1", [])
    loc.set_pod("p2", "n1", [])
    loc.set_pod("p3", "n2", [])
    assert sorted(loc.pods_of("n1")) == ["p1", "p2"]
    assert loc.node_of("p3") == "n2"
    assert loc.node_of("nope") == ""
    loc.remove_pod("p1")
    assert loc.pods_of("n1") == ["p2"]
    assert loc.remove_pod("p1") == ("", [])  # twice: nothing


def test_a_pod_changing_node_must_be_removed_first() -> None:
    loc = Locations()
    loc.set_pod("p1", "n1", [cm("a")])
    with pytest.raises(ValueError, match="pod p1 is on node n1; remove it before placing it on n2"):
        loc.set_pod("p1", "n2", [cm("a")])
    assert loc.remove_pod("p1") == ("n1", [cm("a")])
    assert loc.set_pod("p1", "n2", [cm("a")]) == ([cm("a")], [])


REFS = st.sampled_from([cm("a"), cm("b"), secret("a"), secret("s", "other")])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(["p1", "p2", "p3", "p4"]), st.sampled_from(["n1", "n2"]),
                  st.frozensets(REFS)),
        st.tuples(st.just("remove"), st.sampled_from(["p1", "p2", "p3", "p4"])),
    ),
    max_size=40,
)  # fmt: skip


@given(OPS)
def test_gains_and_losses_replay_to_the_references_of_the_pods(ops: list[tuple]) -> None:
    """Applying every reported gain and loss to a per-node set always gives exactly the union of the
    references of that node's pods."""
    loc = Locations()
    pods: dict[str, tuple[str, frozenset[Ref]]] = {}
    held: dict[str, set[Ref]] = {}  # what each node was told to have
    for op in ops:
        if op[0] == "set":
            _, uid, node, refs = op
            if uid in pods and pods[uid][0] != node:
                old_node, lost = loc.remove_pod(uid)
                held[old_node] -= set(lost)
                del pods[uid]
            gained, lost = loc.set_pod(uid, node, refs)
            assert not set(gained) & held.get(node, set())  # never gained twice
            held.setdefault(node, set()).update(gained)
            assert set(lost) <= held[node]
            held[node] -= set(lost)
            pods[uid] = (node, refs)
        else:
            node, lost = loc.remove_pod(op[1])
            if op[1] in pods:
                assert node == pods.pop(op[1])[0]
                held[node] -= set(lost)
            else:
                assert (node, lost) == ("", [])
        for n in ("n1", "n2"):
            want = set().union(*(r for pn, r in pods.values() if pn == n))
            assert held.get(n, set()) == want
            assert set(loc.refs_of(n)) == want
            assert sorted(loc.pods_of(n)) == sorted(u for u, (pn, _) in pods.items() if pn == n)
        for ref in [cm("a"), cm("b"), secret("a"), secret("s", "other")]:
            assert loc.nodes_of(ref) == {n for n in ("n1", "n2") if ref in held.get(n, set())}
