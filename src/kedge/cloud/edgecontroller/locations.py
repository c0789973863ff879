"""Which edge node needs which ConfigMap and Secret: KubeEdge's location cache, from pod specs.

A node gets a ConfigMap or Secret only while one of its pods references it (volumes, projected volume
sources, env valueFrom, envFrom, and imagePullSecrets for secrets). `Locations` counts references per
(node, object) over the pods delivered to edge nodes, and each change of a pod answers which references
its node gained (send the object before the pod) and lost (send a delete). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from kedge.model.podrefs import pod_references


class Ref(NamedTuple):
    """An object a pod references: type (`configmap` or `secret`), namespace (the pod's), name."""

    type: str
    namespace: str
    name: str


def pod_refs(pod: dict[str, Any]) -> frozenset[Ref]:
    """Every ConfigMap and Secret the pod references (a malformed part of the spec references nothing)."""
    meta = pod.get("metadata")
    if not isinstance(meta, dict) or not isinstance(pod.get("spec"), dict):
        return frozenset()
    ns = meta.get("namespace") or "default"
    return frozenset(Ref(t, ns, n) for t, n in pod_references(pod))


class Locations:
    """Pods delivered to edge nodes (uid → node and references) and reference counts per node."""

    __slots__ = ("_by_node", "_count", "_nodes", "_pods")

    def __init__(self) -> None:
        self._pods: dict[str, tuple[str, frozenset[Ref]]] = {}
        self._by_node: dict[str, set[str]] = {}  # node → uids of its pods
        self._count: dict[str, dict[Ref, int]] = {}  # node → ref → pods referencing it
        self._nodes: dict[Ref, set[str]] = {}  # ref → nodes with a pod referencing it

    def set_pod(self, uid: str, node: str, refs: Iterable[Ref]) -> tuple[list[Ref], list[Ref]]:
        """Pod `uid` runs on `node` with these references (added or updated). Returns the references
        `node` gained (no other pod of it had them) and lost (no pod of it has them any more), sorted.
        A pod moving to another node is removed first (`remove_pod`)."""
        new = frozenset(refs)
        old = self._pods.get(uid)
        if old is not None and old[0] != node:
            raise ValueError("pod %s is on node %s; remove it before placing it on %s" % (uid, old[0], node))
        before = old[1] if old is not None else frozenset()
        self._pods[uid] = (node, new)
        self._by_node.setdefault(node, set()).add(uid)
        gained = [r for r in new - before if self._inc(node, r)]
        lost = [r for r in before - new if self._dec(node, r)]
        return sorted(gained), sorted(lost)

    def remove_pod(self, uid: str) -> tuple[str, list[Ref]]:
        """Forget pod `uid`; returns (its node, references that node lost). ('', []) if unknown."""
        old = self._pods.pop(uid, None)
        if old is None:
            return "", []
        node, refs = old
        uids = self._by_node[node]
        uids.discard(uid)
        if not uids:
            del self._by_node[node]
        return node, sorted(r for r in refs if self._dec(node, r))

    def _inc(self, node: str, ref: Ref) -> bool:
        counts = self._count.setdefault(node, {})
        n = counts.get(ref, 0)
        counts[ref] = n + 1
        if n == 0:
            self._nodes.setdefault(ref, set()).add(node)
            return True
        return False

    def _dec(self, node: str, ref: Ref) -> bool:
        counts = self._count[node]
        n = counts[ref] - 1
        if n:
            counts[ref] = n
            return False
        del counts[ref]
        if not counts:
            del self._count[node]
        nodes = self._nodes[ref]
        nodes.discard(node)
        if not nodes:
            del self._nodes[ref]
        return True

    # -- queries -----------------------------------------------------------------------------------

    def node_of(self, uid: str) -> str:
        """The node pod `uid` was delivered to; '' if none."""
        entry = self._pods.get(uid)
        return "" if entry is None else entry[0]

    def nodes_of(self, ref: Ref) -> frozenset[str]:
        """Nodes with at least one pod referencing `ref`."""
        return frozenset(self._nodes.get(ref, ()))

    def refs_of(self, node: str) -> list[Ref]:
        """References of `node`'s pods, sorted."""
        return sorted(self._count.get(node, ()))

    def pods_of(self, node: str) -> list[str]:
        """Uids of the pods delivered to `node`."""
        return list(self._by_node.get(node, ()))

    def __len__(self) -> int:
        return len(self._pods)
