"""What the control loops read on every pass, kept up to date from the committed events.

The scheduler and the node lifecycle controller used to list (and decode) every pod, node and lease from
SQLite on each pass: with 100,000 pods a scheduling pass cost seconds, and a pass runs for every burst of
new pods. kube-scheduler and kube-controller-manager work from informer caches for the same reason. This
cache is filled once from storage, then follows each event (`apply`), in commit order, before any loop
reads it. It holds nodes and node leases whole (the lifecycle decisions read them), pending pods whole
(the scheduler places them), and of each bound pod only what placement needs: its node and requests.
"""

from __future__ import annotations

from typing import Any

from kedge.apiserver import scheduling
from kedge.apiserver.nodelifecycle import LEASE_NAMESPACE
from kedge.apiserver.storage import DELETED, Event, Storage

LEASES = "leases.coordination.k8s.io"
_DONE = ("Succeeded", "Failed")


class ClusterCache:
    def __init__(self, storage: Storage) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        #: what the scheduler's filters read of each node, derived once per node version
        self.node_infos: dict[str, scheduling.NodeInfo] = {}
        self.leases: dict[str, dict[str, Any]] = {}  # kube-node-lease/<node>
        #: pods without a node, not being deleted: (namespace, name) → pod
        self.pending: dict[tuple[str, str], dict[str, Any]] = {}
        #: non-terminated pods bound to each node, and the sum of their requests
        self.counts: dict[str, int] = {}
        self.requested: dict[str, dict[str, int]] = {}
        self._placed: dict[tuple[str, str], tuple[str, dict[str, int]]] = {}
        #: every pod bound to each node, finished ones included (node lifecycle reads a troubled node's)
        self.on_node: dict[str, set[tuple[str, str]]] = {}
        self._node_of: dict[tuple[str, str], str] = {}
        for s in storage.list("nodes").items:
            self._set_node(s.obj["metadata"]["name"], s.obj)
        for s in storage.list(LEASES, LEASE_NAMESPACE).items:
            self.leases[s.obj["metadata"]["name"]] = s.obj
        for s in storage.list("pods").items:
            meta = s.obj["metadata"]
            self._add_pod((meta["namespace"], meta["name"]), s.obj)

    def apply(self, event: Event) -> None:
        res = event.res
        if res == "pods":
            key = (event.ns, event.name)
            self._remove_pod(key)
            if event.type != DELETED:
                self._add_pod(key, event.obj)
        elif res == "nodes":
            if event.type == DELETED:
                self.nodes.pop(event.name, None)
                self.node_infos.pop(event.name, None)
            else:
                self._set_node(event.name, event.obj)
        elif res == LEASES and event.ns == LEASE_NAMESPACE:
            if event.type == DELETED:
                self.leases.pop(event.name, None)
            else:
                self.leases[event.name] = event.obj

    def _set_node(self, name: str, node: dict[str, Any]) -> None:
        self.nodes[name] = node
        self.node_infos[name] = scheduling.NodeInfo(node)

    def _add_pod(self, key: tuple[str, str], pod: dict[str, Any]) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            self._node_of[key] = node
            self.on_node.setdefault(node, set()).add(key)
            if (pod.get("status") or {}).get("phase") in _DONE:
                return
            try:
                want = scheduling.pod_requests(pod)
            except scheduling.QuantityError:
                want = {}  # admission refuses such quantities; a stored one must not stop the loops
            self._placed[key] = (node, want)
            self.counts[node] = self.counts.get(node, 0) + 1
            per = self.requested.setdefault(node, {})
            for k, v in want.items():
                per[k] = per.get(k, 0) + v
        elif not pod["metadata"].get("deletionTimestamp"):
            self.pending[key] = pod

    def _remove_pod(self, key: tuple[str, str]) -> None:
        self.pending.pop(key, None)
        bound = self._node_of.pop(key, None)
        if bound is not None:
            keys = self.on_node[bound]
            keys.discard(key)
            if not keys:
                del self.on_node[bound]
        placed = self._placed.pop(key, None)
        if placed is None:
            return
        node, want = placed
        left = self.counts[node] - 1
        if left:
            self.counts[node] = left
        else:
            del self.counts[node]
        per = self.requested.get(node)
        if per is not None:
            for k, v in want.items():
                per[k] -= v
            if not left:
                del self.requested[node]
