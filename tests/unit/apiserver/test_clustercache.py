"""The control loops' cache follows events exactly as a fresh listing would see storage, and large
clusters are searched in samples, as kube-scheduler does."""

from __future__ import annotations

import json
from pathlib import Path

from kedge.apiserver import scheduling
from kedge.apiserver.clustercache import LEASES, ClusterCache
from kedge.apiserver.storage import ADDED, DELETED, MODIFIED, Event, Storage


def _ev(kind: str, res: str, ns: str, name: str, obj: dict, rev: int = 1) -> Event:
    return Event(kind, res, ns, name, rev, json.dumps(obj).encode(), None)


def _pod(name: str, node: str = "", phase: str = "", cpu: str = "100m", deleting: bool = False) -> dict:
    meta = {"name": name, "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    pod = {
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
        "status": {"phase": phase} if phase else {},
    }
    if node:
        pod["spec"]["nodeName"] = node
    return pod


def test_pods_move_from_pending_to_placed_and_free_their_node(tmp_path: Path) -> None:
    st = Storage(str(tmp_path / "db"))
    try:
        c = ClusterCache(st)
        c.apply(_ev(ADDED, "pods", "default", "a", _pod("a")))
        assert list(c.pending) == [("default", "a")] and c.counts == {}
        c.apply(_ev(MODIFIED, "pods", "default", "a", _pod("a", node="n1")))
        assert c.pending == {} and c.counts == {"n1": 1} and c.requested == {"n1": {"cpu": 100}}
        c.apply(_ev(ADDED, "pods", "default", "b", _pod("b", node="n1", cpu="250m")))
        assert c.counts == {"n1": 2} and c.requested["n1"]["cpu"] == 350
        c.apply(_ev(MODIFIED, "pods", "default", "a", _pod("a", node="n1", phase="Succeeded")))
        assert c.counts == {"n1": 1} and c.requested["n1"]["cpu"] == 250  # finished pods free capacity
        assert c.on_node == {"n1": {("default", "a"), ("default", "b")}}  # but stay on their node
        c.apply(_ev(DELETED, "pods", "default", "b", _pod("b", node="n1", cpu="250m")))
        assert c.counts == {} and c.requested == {}
        c.apply(_ev(DELETED, "pods", "default", "a", _pod("a", node="n1", phase="Succeeded")))
        assert c.on_node == {}
        c.apply(_ev(ADDED, "pods", "default", "gone", _pod("gone", deleting=True)))
        assert c.pending == {}  # a pod being deleted is not placed
    finally:
        st.close()


def test_nodes_and_leases(tmp_path: Path) -> None:
    st = Storage(str(tmp_path / "db"))
    try:
        c = ClusterCache(st)
        node = {"metadata": {"name": "n1"}}
        c.apply(_ev(ADDED, "nodes", "", "n1", node))
        lease = {"metadata": {"name": "n1", "namespace": "kube-node-lease"}}
        c.apply(_ev(ADDED, LEASES, "kube-node-lease", "n1", lease))
        c.apply(_ev(ADDED, LEASES, "elsewhere", "x", {"metadata": {"name": "x"}}))
        assert list(c.nodes) == ["n1"] and list(c.leases) == ["n1"]
        c.apply(_ev(DELETED, "nodes", "", "n1", node))
        c.apply(_ev(DELETED, LEASES, "kube-node-lease", "n1", lease))
        assert c.nodes == {} and c.leases == {}
    finally:
        st.close()


def test_feasible_nodes_to_find_follows_kube_scheduler() -> None:
    assert scheduling.feasible_nodes_to_find(50) == 50
    assert scheduling.feasible_nodes_to_find(100) == 100  # 50 % of 100 is 50, but at least 100
    assert scheduling.feasible_nodes_to_find(1000) == 420  # 50 - 8 = 42 %
    assert scheduling.feasible_nodes_to_find(10000) == 500  # the 5 % floor
    assert scheduling.feasible_nodes_to_find(5000) == 500  # 50 - 40 = 10 %


def _node(name: str) -> dict:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        },
    }


def test_sampled_search_stops_at_enough_and_rotates() -> None:
    nodes = scheduling.node_infos(_node("n%03d" % i) for i in range(200))
    pod = _pod("p")
    decision, examined = scheduling.schedule_sampled(pod, nodes, {}, {}, start=150, enough=10)
    assert examined == 10 and decision.node == "n150"  # the first of the sample with the fewest pods
    decision, examined = scheduling.schedule_sampled(pod, nodes, {"n195": 0}, {}, start=195, enough=10)
    assert examined == 10 and decision.node == "n000"  # wrapped around: n195..n199, n000..n004; by name
    full, examined = scheduling.schedule_sampled(pod, nodes, {}, {})
    assert examined == 200 and full == scheduling.schedule(pod, [n.node for n in nodes], {}, {})


def test_a_pass_searches_once_per_pod_shape_when_nothing_fits(tmp_path: Path, monkeypatch) -> None:
    """Every node NotReady, 30 pending pods of two shapes: one full search per shape, every pod marked
    Unschedulable with the message its own search would have given."""
    from kedge.apiserver.builtin import new_registry
    from kedge.apiserver.controllers import Controllers
    from kedge.apiserver.request import Target
    from kedge.apiserver.rest import Rest

    st = Storage(str(tmp_path / "db"))
    reg = new_registry()
    rest = Rest(st, reg, clock=lambda: 1_700_000_000.0)
    controllers = Controllers(rest)

    def on_commit(event: Event) -> None:
        rest.observe(event)
        controllers.notify(event)

    st.listener = on_commit
    try:
        rest.create(Target(reg.get("", "v1", "namespaces")), {"metadata": {"name": "default"}}, {}, "t")
        for i in range(120):
            node = _node("n%03d" % i)
            node["status"]["conditions"][0]["status"] = "Unknown"
            rest.create(Target(reg.get("", "v1", "nodes")), node, {}, "t")
        pods = Target(reg.get("", "v1", "pods"), "default")
        for i in range(30):
            pod = {"metadata": {"name": "p%02d" % i}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
            if i % 2:
                pod["spec"]["nodeSelector"] = {"disk": "ssd"}
            rest.create(pods, pod, {}, "t")
        searches = []
        real = scheduling.schedule_sampled

        def counting(*args, **kw):
            searches.append(args[0]["metadata"]["name"])
            return real(*args, **kw)

        monkeypatch.setattr(scheduling, "schedule_sampled", counting)
        assert controllers.schedule_pending() == 0
        assert searches == ["p00", "p01"]
        for name, shape in (("p02", "plain"), ("p03", "selector")):
            monkeypatch.setattr(scheduling, "schedule_sampled", real)
            pod = st.get("pods", "default", name).obj
            [cond] = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
            own, _ = real(pod, list(controllers.cache.node_infos.values()), {}, {})
            assert (cond["reason"], cond["message"]) == (own.reason, own.message), shape
            assert cond["message"].startswith("0/120 nodes are available")
    finally:
        st.close()
