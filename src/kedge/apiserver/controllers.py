"""The few control loops an API server without kube-controller-manager still needs.

- scheduling: binds pods without a node (the pure decision is kedge.apiserver.scheduling);
- namespaces: empties a terminating namespace, then removes it;
- compaction: trims the event history watchers resume from.

Each loop is woken by storage events (through `notify`) and also runs periodically, so a missed wake-up
only delays work.
"""

import asyncio
import logging
from typing import Any

from kedge.apiserver import scheduling
from kedge.apiserver.errors import ApiError
from kedge.apiserver.objects import rfc3339
from kedge.apiserver.rest import Rest
from kedge.apiserver.storage import ADDED, DELETED, Event

log = logging.getLogger(__name__)

#: How often unschedulable pods and terminating namespaces are retried without a wake-up.
RETRY_INTERVAL = 5.0
COMPACT_INTERVAL = 60.0


class Controllers:
    def __init__(self, rest: Rest) -> None:
        self.rest = rest
        self.storage = rest.storage
        self._schedule = asyncio.Event()
        self._namespaces = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def notify(self, event: Event) -> None:
        """Called for every committed event: wake the loops the event concerns."""
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
        """Bind every pending pod that fits somewhere; mark the rest Unschedulable. Returns binds."""
        pods = [s.obj for s in self.storage.list("pods").items]
        pending = [
            p
            for p in pods
            if not (p.get("spec") or {}).get("nodeName") and not p["metadata"].get("deletionTimestamp")
        ]
        if not pending:
            return 0
        nodes = [s.obj for s in self.storage.list("nodes").items]
        counts: dict[str, int] = {}
        requested: dict[str, dict[str, int]] = {}
        for p in pods:
            node = (p.get("spec") or {}).get("nodeName")
            if node and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                _place(counts, requested, node, p)
        bound = 0
        for pod in sorted(pending, key=lambda p: p["metadata"].get("creationTimestamp", "")):
            meta = pod["metadata"]
            try:
                decision = scheduling.schedule(pod, nodes, counts, requested)
            except scheduling.QuantityError as e:
                decision = scheduling.Decision(None, "Unschedulable", str(e))
            if decision is scheduling.NOT_OURS or (decision.node is None and not decision.reason):
                continue
            try:
                if decision.node is not None:
                    self.rest.bind(meta["namespace"], meta["name"], decision.node, uid=meta.get("uid"))
                    _place(counts, requested, decision.node, pod)
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


def _place(
    counts: dict[str, int], requested: dict[str, dict[str, int]], node: str, pod: dict[str, Any]
) -> None:
    """Account a pod on a node: its count and its resource requests."""
    counts[node] = counts.get(node, 0) + 1
    per = requested.setdefault(node, {})
    for k, v in scheduling.pod_requests(pod).items():
        per[k] = per.get(k, 0) + v
