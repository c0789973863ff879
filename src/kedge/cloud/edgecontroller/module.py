"""The beehive face of the EdgeController: upstream messages in, one task per API call out.

Each message becomes its own task, at most `concurrency` of them talking to the API server at once, so a
slow call (a node's registration) never holds up the others (10,000 nodes' leases and statuses). Messages
about the same object still run in arrival order: each object key has a chain, and a task starts its call
only after the previous task of its key finished. With `max_pending` tasks waiting the module stops
receiving: its inbox fills, CloudHub stops acking, and the edges' outboxes hold the rest.
"""

from __future__ import annotations

import asyncio
import logging

from kedge.beehive import Context, Module
from kedge.cloud.cloudhub.hub import CONNECTED, DISCONNECTED
from kedge.cloud.edgecontroller.upstream import Upstream
from kedge.model import constants as c
from kedge.model.message import Message

log = logging.getLogger(__name__)

#: Resource types that speak about the same object as another type (the pod of a podpatch...).
_SAME_OBJECT = {c.PODPATCH: c.POD, c.PODSTATUS: c.POD, c.NODEPATCH: c.NODE, c.NODESTATUS: c.NODE}


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

    def __init__(self, upstream: Upstream, *, concurrency: int = 64, max_pending: int = 4096) -> None:
        if concurrency < 1 or max_pending < 1:
            raise ValueError("concurrency and max_pending must be >= 1")
        self.upstream = upstream
        self.concurrency = concurrency
        self.max_pending = max_pending
        self._tails: dict[str, asyncio.Task] = {}  # object key → its last task
        self._tasks: set[asyncio.Task] = set()
        self._room = asyncio.Event()
        self._sem: asyncio.Semaphore | None = None

    @property
    def pending(self) -> int:
        """Tasks not finished yet (waiting for their turn, or calling the API)."""
        return len(self._tasks)

    async def start(self, ctx: Context) -> None:
        self._sem = asyncio.Semaphore(self.concurrency)
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
        sem = self._sem
        assert sem is not None
        async with sem:
            try:
                await self.upstream.handle(msg)
            except Exception:  # handle() answers its own failures; this is a last guard
                log.exception("edgecontroller: %s %s failed", msg.route.operation, msg.route.resource)
