"""The beehive face of the EdgeController: upstream messages in, one task per API call out.

Each message becomes its own task, so a slow call (a node's registration) never holds up the others
(10,000 nodes' leases and statuses). Each kind of call has its own pool of API calls in flight, sized by
KubeEdge's `edgeController.load` workers: lease renewals never queue behind a burst of pod statuses
(one shared pool of 64 let pod statuses at 100 pods/s delay 5,000 nodes' leases past their grace period,
and the nodes went NotReady). Messages about the same object still run in arrival order: each object key
has a chain, and a task starts its call only after the previous task of its key finished. With
`max_pending` tasks waiting the module stops receiving: its inbox fills, CloudHub stops acking, and the
edges' outboxes hold the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from kedge.beehive import Context, Module
from kedge.cloud.cloudhub.hub import CONNECTED, DISCONNECTED
from kedge.cloud.edgecontroller.upstream import Upstream
from kedge.config.cloudcore import EdgeControllerLoad
from kedge.model import constants as c
from kedge.model.message import Message

log = logging.getLogger(__name__)

#: Resource types that speak about the same object as another type (the pod of a podpatch...).
_SAME_OBJECT = {c.PODPATCH: c.POD, c.PODSTATUS: c.POD, c.NODEPATCH: c.NODE, c.NODESTATUS: c.NODE}


#: The pool of each (resource type, operation); anything else goes to DEFAULT_POOL.
POOLS = {
    (c.LEASE, c.UPDATE): "lease",
    (c.LEASE, c.INSERT): "lease",
    (c.PODPATCH, c.PATCH): "pod_status",
    (c.NODEPATCH, c.PATCH): "node_status",
    (c.NODE, c.INSERT): "node",
    (c.POD, c.INSERT): "mirror_pod",
    (c.POD, c.DELETE): "pod_delete",
    (c.CONFIGMAP, c.QUERY): "configmap",
    (c.SECRET, c.QUERY): "secret",
}
DEFAULT_POOL = "other"
#: Calls in flight for what has no KubeEdge worker count (service account tokens, anything new).
DEFAULT_POOL_SIZE = 64


def limits_from(load: EdgeControllerLoad) -> dict[str, int]:
    """The size of every pool, from KubeEdge's `edgeController.load` worker counts (their meaning in
    KubeEdge's upstream controller: one worker, one call in flight)."""
    return {
        "lease": load.create_lease_workers,
        "pod_status": load.patch_pod_workers,
        "node_status": load.patch_node_workers,
        "node": load.create_node_workers,
        "mirror_pod": load.create_pod_works,
        "pod_delete": load.delete_pod_workers,
        "configmap": load.query_config_map_workers,
        "secret": load.query_secret_workers,
        DEFAULT_POOL: DEFAULT_POOL_SIZE,
    }


#: Pool sizes when no configuration gives them: KubeEdge's defaults (for 500 nodes).
DEFAULT_LIMITS = limits_from(EdgeControllerLoad())


def pool_of(resource: str, operation: str) -> str:
    parts = resource.split("/", 5)
    kind = parts[3] if len(parts) >= 5 else ""
    return POOLS.get((kind, operation), DEFAULT_POOL)


def object_key(resource: str) -> str:
    """The chain key of an upstream message: `node/<node>/<ns>/<type>/<name>` with status and patch
    types folded into their object's type (the node's registration runs before its status patches)."""
    parts = resource.split("/", 5)
    if len(parts) >= 5:
        parts[3] = _SAME_OBJECT.get(parts[3], parts[3])
        return "/".join(parts)
    return resource


class EdgeControllerModule(Module):
    name = c.EDGECONTROLLER
    group = c.EDGECONTROLLER
    capacity = 8192

    def __init__(
        self, upstream: Upstream, *, limits: Mapping[str, int] | None = None, max_pending: int = 4096
    ) -> None:
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        if min(self.limits.values()) < 1 or max_pending < 1:
            raise ValueError("pool sizes and max_pending must be >= 1")
        self.upstream = upstream
        self.max_pending = max_pending
        self._tails: dict[str, asyncio.Task] = {}  # object key → its last task
        self._tasks: set[asyncio.Task] = set()
        self._room = asyncio.Event()
        self._pools: dict[str, asyncio.Semaphore] = {}

    @property
    def pending(self) -> int:
        """Tasks not finished yet (waiting for their turn, or calling the API)."""
        return len(self._tasks)

    def open_pools(self) -> None:
        """The pools' semaphores, made on the running loop (start does it; tests call it directly)."""
        self._pools = {name: asyncio.Semaphore(n) for name, n in self.limits.items()}

    async def start(self, ctx: Context) -> None:
        self.open_pools()
        try:
            while True:
                while len(self._tasks) >= self.max_pending:
                    self._room.clear()
                    await self._room.wait()
                for msg in await ctx.receive_many(self.name, 256):
                    self.submit(msg)
        finally:
            tasks = list(self._tasks)
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            self._tails.clear()

    def submit(self, msg: Message) -> asyncio.Task | None:
        """Start the task of one message (None for node connect/disconnect notices, which need none)."""
        r = msg.route
        if r.source == c.CLOUDHUB and r.operation in (CONNECTED, DISCONNECTED):
            log.debug("node %s %s", r.resource.removeprefix("node/"), r.operation)
            return None
        key = object_key(r.resource)
        prev = self._tails.get(key)
        task = asyncio.create_task(self._run(prev, msg), name="edgecontroller:" + key)
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(key, t))
        return task

    def _done(self, key: str, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]
        if len(self._tasks) < self.max_pending:
            self._room.set()

    async def _run(self, prev: asyncio.Task | None, msg: Message) -> None:
        if prev is not None and not prev.done():
            await asyncio.wait((prev,))
        r = msg.route
        async with self._pools[pool_of(r.resource, r.operation)]:
            try:
                await self.upstream.handle(msg)
            except Exception:  # handle() answers its own failures; this is a last guard
                log.exception("edgecontroller: %s %s failed", msg.route.operation, msg.route.resource)
