"""The few control loops an API server without kube-controller-manager still needs.

- scheduling: binds pods without a node (the pure decision is kedge.apiserver.scheduling);
- namespaces: empties a terminating namespace, then removes it;
- compaction: trims the event history watchers resume from;
- node lifecycle: marks silent nodes Unknown, taints nodes that are not Ready and evicts the pods that
  do not tolerate it (the pure decisions are kedge.apiserver.nodelifecycle).

Scheduling and namespaces are woken by storage events (through `notify`) and also run periodically, so
a missed wake-up only delays work; node lifecycle runs every monitor period, as kube's does. Writes go
through Rest, as a client's would, so watchers see them.
"""

import asyncio
import copy
import logging
from collections.abc import Callable, Mapping
from typing import Any

from kedge.apiserver import nodelifecycle, scheduling
from kedge.apiserver.clustercache import ClusterCache
from kedge.apiserver.errors import ApiError
from kedge.apiserver.nodelifecycle import NodeLifecycleSettings
from kedge.apiserver.objects import rfc3339
from kedge.apiserver.registry import ResourceInfo
from kedge.apiserver.request import Target
from kedge.apiserver.rest import Rest
from kedge.apiserver.storage import ADDED, DELETED, Event

log = logging.getLogger(__name__)

#: How often unschedulable pods and terminating namespaces are retried without a wake-up.
RETRY_INTERVAL = 5.0
COMPACT_INTERVAL = 60.0
#: The User-Agent of node lifecycle writes: managedFields name kube's controller manager, as on a cluster.
LIFECYCLE_AGENT = "kube-controller-manager"


class Controllers:
    def __init__(self, rest: Rest, *, node_lifecycle: NodeLifecycleSettings | None = None) -> None:
        self.rest = rest
        self.storage = rest.storage
        self.lifecycle = node_lifecycle or NodeLifecycleSettings()
        self._schedule = asyncio.Event()
        self._namespaces = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        # node name -> what the monitor last saw of it; when it first saw NoExecute taints on it
        self._health: dict[str, nodelifecycle.Health] = {}
        self._taint_seen: dict[str, float] = {}
        #: nodes, leases and pods as the loops need them, kept from the events `notify` is given
        self.cache = ClusterCache(self.storage)
        self._next_node = 0  # where the next pod's node search starts (kube-scheduler's nextStartNodeIndex)

    def notify(self, event: Event) -> None:
        """Called for every committed event, in commit order: keep the cache, wake the loops the event
        concerns."""
        self.cache.apply(event)
        res = event.res
        if res == "pods":
            if event.type != DELETED and not (event.obj.get("spec") or {}).get("nodeName"):
                self._schedule.set()
            elif event.type == DELETED:
                self._schedule.set()  # freed capacity
        elif res == "nodes":
            self._schedule.set()
        elif res == "namespaces" and event.type != ADDED and event.obj["metadata"].get("deletionTimestamp"):
            self._namespaces.set()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(
                self._loop(self._schedule, self.schedule_pending), name="apiserver:scheduler"
            ),
            asyncio.create_task(
                self._loop(self._namespaces, self.finish_namespaces), name="apiserver:namespaces"
            ),
            asyncio.create_task(self._compactor(), name="apiserver:compactor"),
            asyncio.create_task(
                self._periodic(self.lifecycle.monitor_period, self.monitor_nodes),
                name="apiserver:nodelifecycle",
            ),
        ]
        self._schedule.set()
        self._namespaces.set()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _loop(self, wake: asyncio.Event, work: Any) -> None:
        while True:
            try:
                await asyncio.wait_for(wake.wait(), RETRY_INTERVAL)
            except TimeoutError:
                pass
            wake.clear()
            try:
                work()
            except Exception:
                log.exception("control loop %s failed; retrying", work.__name__)
            await asyncio.sleep(0)  # let a burst of writes settle before the next pass

    async def _periodic(self, period: float, work: Callable[[], Any]) -> None:
        while True:
            try:
                work()
            except Exception:
                log.exception("control loop %s failed; retrying", work.__name__)
            await asyncio.sleep(period)

    async def _compactor(self) -> None:
        while True:
            await asyncio.sleep(COMPACT_INTERVAL)
            try:
                removed = self.storage.compact(now=self.rest.clock())
                if removed:
                    log.debug("compacted %d events (compacted revision %d)", removed, self.storage.compacted)
            except Exception:
                log.exception("compaction failed")

    # -- scheduling ---------------------------------------------------------------------------

    def schedule_pending(self) -> int:
        """Bind every pending pod that fits somewhere; mark the rest Unschedulable. Returns binds.

        Reads the cache, not storage: a bind's event updates the node's count before the next pod is
        placed. In large clusters each pod's search stops at kube-scheduler's number of feasible nodes,
        and the next pod's search starts where it stopped."""
        cache = self.cache
        if not cache.pending:
            return 0
        nodes = list(cache.node_infos.values())
        enough = scheduling.feasible_nodes_to_find(len(nodes))
        pending = sorted(cache.pending.items(), key=lambda kv: kv[1]["metadata"].get("creationTimestamp", ""))
        bound = 0
        # Pods that fit nowhere cost a look at every node. Binds during a pass only take capacity away,
        # so a pod shaped like one that fit nowhere fits nowhere either: it gets the same decision without
        # the search (kube-scheduler's old equivalence cache). Without this, a cluster whose nodes all
        # went NotReady spent each pass scanning every node for every pending pod, and the event loop
        # with it.
        unfit: dict[bytes, scheduling.Decision] = {}
        for key, pod in pending:
            if key not in cache.pending:
                continue  # bound or deleted meanwhile
            meta = pod["metadata"]
            try:
                shape = scheduling.placement_shape(pod)
                decision = unfit.get(shape)
                if decision is None:
                    decision, examined = scheduling.schedule_sampled(
                        pod, nodes, cache.counts, cache.requested, start=self._next_node, enough=enough
                    )
                    if nodes:
                        self._next_node = (self._next_node + examined) % len(nodes)
                    if decision.node is None and decision.reason == scheduling.REASON_UNSCHEDULABLE:
                        unfit[shape] = decision
            except scheduling.QuantityError as e:
                decision = scheduling.Decision(None, "Unschedulable", str(e))
            if decision is scheduling.NOT_OURS or (decision.node is None and not decision.reason):
                continue
            try:
                if decision.node is not None:
                    self.rest.bind(meta["namespace"], meta["name"], decision.node, uid=meta.get("uid"))
                    bound += 1
                else:
                    self._mark_unschedulable(pod, decision)
            except ApiError as e:
                if e.code not in (404, 409):
                    raise
        return bound

    def _mark_unschedulable(self, pod: dict[str, Any], decision: scheduling.Decision) -> None:
        status = pod.get("status") or {}
        current = next((c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), None)
        if (
            current
            and current.get("reason") == decision.reason
            and current.get("message") == decision.message
        ):
            return  # unchanged: writing again would only wake every watcher
        condition = scheduling.pod_scheduled_condition(decision, rfc3339(self.rest.clock()))
        conditions = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"] + [
            condition
        ]
        meta = pod["metadata"]
        stored = self.storage.get("pods", meta["namespace"], meta["name"])
        if stored is None:
            return
        new = {**stored.obj, "status": {**(stored.obj.get("status") or {}), "conditions": conditions}}
        self.storage.update(
            "pods", meta["namespace"], meta["name"], new, expect_rev=stored.rev, now=self.rest.clock()
        )

    # -- namespaces ---------------------------------------------------------------------------

    def finish_namespaces(self) -> None:
        for stored in self.storage.list("namespaces").items:
            ns = stored.obj
            if not ns["metadata"].get("deletionTimestamp"):
                continue
            name = ns["metadata"]["name"]
            remaining = self.rest.delete_namespace_contents(name)
            if remaining:  # pods still terminating on their nodes: the periodic pass comes back
                continue
            current = self.storage.get("namespaces", "", name)
            if current is not None:
                self.storage.delete("namespaces", "", name, expect_rev=current.rev, now=self.rest.clock())

    # -- node lifecycle -----------------------------------------------------------------------

    def monitor_nodes(self) -> None:
        """One pass of kube's node lifecycle and taint-eviction controllers over every node."""
        now = self.rest.clock()
        nodes_info, pods_info = self._info("nodes"), self._info("pods")
        leases = self.cache.leases
        nodes: dict[str, Mapping[str, Any]] = {}
        for name, node in list(self.cache.nodes.items()):  # our own writes below update the cache
            decision = nodelifecycle.decide_node(
                node, leases.get(name), self._health.get(name), now, self.lifecycle
            )
            self._health[name] = decision.health
            if decision.conditions is not None:
                log.info(
                    "node %s: no status for %.0f s, marking it Unknown", name, now - decision.health.probe
                )
                node = self._write(
                    nodes_info, "", name, "status", _with(node, "status", "conditions", decision.conditions)
                )
            if node is not None and decision.taints is not None:
                node = self._write(nodes_info, "", name, "", _with(node, "spec", "taints", decision.taints))
            if node is not None:
                nodes[name] = node
        for gone in self._health.keys() - nodes.keys():
            del self._health[gone]
        for name, node in nodes.items():
            if nodelifecycle.noexecute_taints(node):
                self._taint_seen.setdefault(name, now)
            else:
                self._taint_seen.pop(name, None)
        for gone in self._taint_seen.keys() - nodes.keys():
            del self._taint_seen[gone]
        troubled = {
            n: node
            for n, node in nodes.items()
            if nodelifecycle.ready_status(node) not in (None, "True") or n in self._taint_seen
        }
        if not troubled:
            return
        # Only the troubled nodes' pods are read (and decoded): listing every pod each pass cost seconds
        # at 50,000 pods, while the leases this controller judges waited behind it.
        keys = sorted(k for n in troubled for k in self.cache.on_node.get(n, ()))
        pods = [s.obj for s in (self.storage.get("pods", ns, name) for ns, name in keys) if s is not None]
        for pod in pods:
            node = troubled[pod["spec"]["nodeName"]]
            if nodelifecycle.ready_status(node) not in (None, "True"):
                conditions = nodelifecycle.not_ready_conditions(pod, now)
                if conditions is not None:
                    meta = pod["metadata"]
                    self._write(
                        pods_info,
                        meta["namespace"],
                        meta["name"],
                        "status",
                        _with(pod, "status", "conditions", conditions),
                    )
        for pod in nodelifecycle.due_evictions(pods, troubled, now, taint_seen=self._taint_seen):
            self._evict(pods_info, pod, now)

    def _evict(self, info: ResourceInfo, pod: Mapping[str, Any], now: float) -> None:
        """As kube's taint manager: mark the pod DisruptionTarget, then delete it (gracefully)."""
        meta = pod["metadata"]
        ns, name = meta["namespace"], meta["name"]
        log.info("evicting pod %s/%s from node %s (NoExecute taint)", ns, name, pod["spec"]["nodeName"])
        stored = self.storage.get("pods", ns, name)
        if stored is None or stored.obj["metadata"].get("uid") != meta.get("uid"):
            return
        current = stored.obj
        conditions = nodelifecycle.disruption_conditions(current, now)
        if conditions is not None:
            marked = _with(current, "status", "conditions", conditions)
            if self._write(info, ns, name, "status", marked) is None:
                return
        try:
            self.rest.delete(Target(info, ns, name), {"preconditions": {"uid": meta.get("uid")}}, {})
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("evicting pod %s/%s failed: %s", ns, name, e.message)

    def _write(
        self, info: ResourceInfo, ns: str, name: str, subresource: str, obj: dict[str, Any]
    ) -> dict[str, Any] | None:
        """An update through Rest (the object's resourceVersion guards it); None when it did not happen:
        gone or changed meanwhile, the next pass decides again."""
        try:
            return self.rest.update(Target(info, ns, name, subresource), obj, {}, LIFECYCLE_AGENT).obj
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("node lifecycle: writing %s %s/%s failed: %s", info.plural, ns, name, e.message)
            return None

    def _info(self, plural: str) -> ResourceInfo:
        info = self.rest.registry.get("", "v1", plural)
        assert info is not None
        return info


def _with(obj: Mapping[str, Any], section: str, key: str, value: Any) -> dict[str, Any]:
    """A deep copy of obj with obj[section][key] = value; an empty list removes the key, as kube omits
    empty lists."""
    new = copy.deepcopy(dict(obj))
    part = new.setdefault(section, {})
    if value == []:
        part.pop(key, None)
    else:
        part[key] = value
    return new
