"""Cloud → edge: informers on nodes, pods, configmaps and secrets, published to CloudHub per node.

- Edge nodes are the Nodes labelled `node-role.kubernetes.io/edge`; each gets its own Node object.
- A pod bound to an edge node goes to that node (insert, update, delete); a pod leaving the node, or
  the node losing its edge label, is a delete.
- A ConfigMap or Secret goes only to the nodes whose pods reference it (`Locations`), before the first
  pod that references it; when no pod of a node references it any more, the node gets a delete.

Until every informer has listed once, nothing is published and `sync_source` answers None (CloudHub then
leaves a connecting node's objects alone); at that moment every connected node is brought up to date
with `CloudHub.resync`, which also deletes what vanished while cloudcore was away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from kedge.aio.backoff import Backoff
from kedge.cloud.cloudhub.hub import CloudHub
from kedge.cloud.edgecontroller.locations import Locations, Ref, pod_refs
from kedge.cloud.edgecontroller.messages import (
    ADDED,
    DELETED,
    encode,
    event_operation,
    object_message,
    pod_delete,
    uid_of,
)
from kedge.k8s.informer import SYNCED, Informer
from kedge.k8s.ops import KubeOps
from kedge.model import constants as c
from kedge.model.message import Message

log = logging.getLogger(__name__)

EDGE_LABEL = "node-role.kubernetes.io/edge"
#: Only pods bound to some node; the handler keeps those of edge nodes.
BOUND_PODS = "spec.nodeName!="

Obj = dict[str, Any]


class Downstream:
    """Publishes what each edge node should have; `run()` runs the informers until cancelled."""

    def __init__(
        self,
        kube: KubeOps,
        hub: CloudHub,
        *,
        backoff: Callable[[], Backoff] | None = None,
        watch_timeout: int = 300,
    ) -> None:
        self.hub = hub
        opts: dict[str, Any] = {"timeout_seconds": watch_timeout}

        def informer(kind: str, handler: Callable[[str, Obj, int], None], **kwargs: str) -> Informer:
            extra = {"backoff": backoff()} if backoff is not None else {}
            return Informer(kube.lister(kind), handler, kwargs=kwargs, **opts, **extra)

        self.nodes = informer("nodes", self._on_node, label_selector=EDGE_LABEL)
        self.pods = informer("pods", self._on_pod, field_selector=BOUND_PODS)
        self.configmaps = informer("configmaps", self._on_configmap)
        self.secrets = informer("secrets", self._on_secret)
        self._informers = {
            "nodes": self.nodes,
            "pods": self.pods,
            "configmaps": self.configmaps,
            "secrets": self.secrets,
        }
        self.locations = Locations()
        self._edge: dict[str, Obj] = {}  # edge node name → Node
        self._bound: dict[str, dict[str, Obj]] = {}  # node name → uid → pod, for every node
        self._pod_node: dict[str, str] = {}  # uid → the node it is indexed under in _bound
        self._listed: set[str] = set()
        #: True once every informer has listed (and the connected nodes were resynced).
        self.ready = False

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for name, inf in self._informers.items():
                tg.create_task(inf.run(), name="informer-" + name)

    # -- what a node should have -----------------------------------------------------------------

    def sync_source(self, node: str) -> list[tuple[str, Message]] | None:
        """CloudHub's resync source: None until synced, else `current(node)`."""
        return self.current(node) if self.ready else None

    def current(self, node: str) -> list[tuple[str, Message]]:
        """(uid, update message) of everything `node` should have: its Node, the ConfigMaps and Secrets
        its pods reference, its pods — in that order, so references arrive before the pods."""
        nobj = self._edge.get(node)
        if nobj is None:
            return []
        out = [(uid_of(nobj), object_message(c.NODE, c.UPDATE, nobj))]
        for ref in self.locations.refs_of(node):
            obj = self.ref_object(ref)
            if obj is not None:
                out.append((uid_of(obj), object_message(ref.type, c.UPDATE, obj)))
        pods = self._bound.get(node, {})
        for uid in self.locations.pods_of(node):
            pod = pods.get(uid)
            if pod is not None:
                out.append((uid, object_message(c.POD, c.UPDATE, pod)))
        return out

    def ref_object(self, ref: Ref) -> Obj | None:
        inf = self.configmaps if ref.type == c.CONFIGMAP else self.secrets
        return inf.by_name(ref.namespace, ref.name)

    def edge_node(self, name: str) -> Obj | None:
        return self._edge.get(name)

    def pod(self, namespace: str, name: str) -> Obj | None:
        """A bound pod from the informer cache (None: not bound, not there, or not listed yet)."""
        return self.pods.by_name(namespace, name)

    def pod_gone(self, node: str, namespace: str, name: str, uid: str) -> None:
        """The edge reported pod `uid`, which the cloud no longer has: tell the edge to delete it."""
        self._publish(node, pod_delete(namespace, name, uid), uid)
        # The delete drops the name from what CloudHub lets the node speak about; a newer pod of that
        # name on the node must stay speakable, so it is sent again (a no-op for the edge if acked).
        current = self.pods.by_name(namespace, name)
        if current is not None and self.locations.node_of(uid_of(current)) == node:
            self._publish(node, object_message(c.POD, c.UPDATE, current), uid_of(current))

    # -- informer handlers -----------------------------------------------------------------------

    def _listed_one(self, kind: str) -> None:
        if self.ready:
            return
        self._listed.add(kind)
        if len(self._listed) < len(self._informers):
            return
        self.ready = True
        sessions = list(self.hub.sessions)
        log.info(
            "edgecontroller synced: %d edge nodes, %d pods on them; resyncing %d connected nodes",
            len(self._edge),
            len(self.locations),
            len(sessions),
        )
        if self.hub.sync_source is None:  # a hub of its own (tests): resync from this controller alone
            for node in sessions:
                self.hub.resync(node, self.current(node))
        else:  # every controller's objects at once: a resync deletes what its list lacks
            self.hub.resync_connected()

    def _publish(self, node: str, msg: Message, key: str) -> None:
        if self.ready:
            self.hub.publish(node, msg, key)

    def _on_node(self, kind: str, obj: Obj, rv: int) -> None:
        if kind == SYNCED:
            self._listed_one("nodes")
            return
        name = obj["metadata"]["name"]
        op = event_operation(c.NODE, kind)
        if kind == DELETED:  # deleted, or no longer labelled edge
            if self._edge.pop(name, None) is None:
                return
            self._publish(name, object_message(c.NODE, op, obj), uid_of(obj))
            pods = self._bound.get(name, {})
            for uid in self.locations.pods_of(name):
                self._undeliver(uid, pods.get(uid))
            return
        new = name not in self._edge
        self._edge[name] = obj
        self._publish(name, object_message(c.NODE, op, obj), uid_of(obj))
        if new:
            for pod in list(self._bound.get(name, {}).values()):
                self._deliver(name, pod)

    def _on_pod(self, kind: str, pod: Obj, rv: int) -> None:
        if kind == SYNCED:
            self._listed_one("pods")
            return
        uid = uid_of(pod)
        if kind == DELETED:
            self._unindex(uid)
            self._undeliver(uid, pod)
            return
        spec = pod.get("spec")
        node = spec.get("nodeName") if isinstance(spec, dict) else None
        node = node if isinstance(node, str) else ""
        if self._pod_node.get(uid) != node:
            self._unindex(uid)
        if node:
            self._bound.setdefault(node, {})[uid] = pod
            self._pod_node[uid] = node
        if node in self._edge:
            self._deliver(node, pod)
        else:
            self._undeliver(uid, pod)

    def _on_configmap(self, kind: str, obj: Obj, rv: int) -> None:
        self._on_ref(c.CONFIGMAP, "configmaps", kind, obj)

    def _on_secret(self, kind: str, obj: Obj, rv: int) -> None:
        self._on_ref(c.SECRET, "secrets", kind, obj)

    def _on_ref(self, rtype: str, informer: str, kind: str, obj: Obj) -> None:
        if kind == SYNCED:
            self._listed_one(informer)
            return
        meta = obj["metadata"]
        nodes = self.locations.nodes_of(Ref(rtype, meta.get("namespace") or "", meta["name"]))
        if not nodes or not self.ready:
            return
        op = event_operation(rtype, kind)
        content = encode(obj)
        uid = uid_of(obj)
        for node in sorted(nodes):
            self.hub.publish(node, object_message(rtype, op, obj, content), uid)

    # -- pods on nodes ---------------------------------------------------------------------------

    def _unindex(self, uid: str) -> None:
        old = self._pod_node.pop(uid, None)
        if old is not None:
            pods = self._bound[old]
            pods.pop(uid, None)
            if not pods:
                del self._bound[old]

    def _deliver(self, node: str, pod: Obj) -> None:
        """Pod `pod` is on edge node `node`: send the references it adds, the pod, then deletes of the
        references it dropped."""
        uid = uid_of(pod)
        before = self.locations.node_of(uid)
        if before and before != node:
            self._undeliver(uid, pod)
            before = ""
        gained, lost = self.locations.set_pod(uid, node, pod_refs(pod))
        if not self.ready:
            return
        for ref in gained:
            obj = self.ref_object(ref)
            if obj is not None:
                op = event_operation(ref.type, ADDED)
                self.hub.publish(node, object_message(ref.type, op, obj), uid_of(obj))
        self.hub.publish(node, object_message(c.POD, c.UPDATE if before else c.INSERT, pod), uid)
        self._drop_refs(node, lost)

    def _undeliver(self, uid: str, pod: Obj | None) -> None:
        """Pod `uid` is no longer on an edge node it was sent to: a delete, then deletes of the references
        its node no longer needs."""
        node, lost = self.locations.remove_pod(uid)
        if not node or not self.ready:
            return
        if pod is not None:
            self.hub.publish(node, object_message(c.POD, c.DELETE, pod), uid)
        self._drop_refs(node, lost)

    def _drop_refs(self, node: str, refs: list[Ref]) -> None:
        for ref in refs:
            obj = self.ref_object(ref)
            if obj is not None:  # gone already: its own delete went out when it was deleted
                self.hub.publish(node, object_message(ref.type, c.DELETE, obj), uid_of(obj))
