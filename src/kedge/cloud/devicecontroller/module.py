"""The beehive face of the DeviceController: edge reports in, Device status writes out.

Reports (`device/<ns>/<name>/twin/edge_updated`, `.../state/update`) are folded per device in a
`StatusBook`; the first one after a quiet interval is written at once (low latency at light load), later
ones within the interval become one write when it ends, carrying the latest values. Writes run
`concurrency` at a time, one at a time per device; a write that fails transiently keeps its reports
(under anything newer) and is tried again after the interval. `membership/detail` requests of KubeEdge
edges are dropped, as KubeEdge's cloudcore does (the Device objects sent downstream are the membership).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec

from kedge.aio.deadlines import run_at_deadlines
from kedge.beehive import Context, Module
from kedge.cloud.cloudhub.hub import CONNECTED, DISCONNECTED, split_node
from kedge.cloud.devicecontroller.downstream import DeviceDownstream
from kedge.cloud.devicecontroller.status import Pending, ReportError, StatusBook, parse_resource, status_patch
from kedge.k8s.ops import KubeError, KubeOps
from kedge.model import constants as c
from kedge.model.message import Message

log = logging.getLogger(__name__)

_decode = msgspec.json.Decoder().decode
#: Seconds before a failed write is tried again when the interval is shorter.
MIN_RETRY = 0.5


def _content(content: Any) -> Any:
    if isinstance(content, bytes | bytearray | memoryview | msgspec.Raw):
        return _decode(bytes(content))
    if isinstance(content, str):
        return _decode(content)  # KubeEdge edges double-encode some contents
    return content


class DeviceControllerModule(Module):
    name = c.DEVICECONTROLLER
    group = c.DEVICECONTROLLER
    capacity = 8192

    def __init__(
        self,
        kube: KubeOps,
        downstream: DeviceDownstream,
        *,
        interval: float = 1.0,
        concurrency: int = 16,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.kube = kube
        self.downstream = downstream
        self.book = StatusBook(interval)
        self.interval = interval
        self.clock = clock
        self.concurrency = concurrency
        self.stats = {"reports": 0, "writes": 0, "write_errors": 0, "rejected": 0}
        self._writing: set[str] = set()
        #: device → (its uid, property → status twin fields written to it)
        self._written: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {}
        self._again: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._sem: asyncio.Semaphore | None = None

    async def start(self, ctx: Context) -> None:
        self._sem = asyncio.Semaphore(self.concurrency)
        flusher = asyncio.create_task(self._flush_loop(), name="devicecontroller-status")
        try:
            while True:
                for msg in await ctx.receive_many(self.name, 256):
                    self.handle(msg)
        finally:
            flusher.cancel()
            tasks = [flusher, *self._tasks]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def handle(self, msg: Message) -> None:
        r = msg.route
        if r.source == c.CLOUDHUB and r.operation in (CONNECTED, DISCONNECTED):
            return
        node, resource = split_node(r.resource)
        if resource.startswith(c.MEMBERSHIP):
            log.debug("devicecontroller drops %s %s from node %s", r.operation, resource, node)
            return
        try:
            ns, name, _ = parse_resource(resource)
            placed = self.downstream.node_of(ns, name)
            if node and placed and placed != node:
                # CloudHub let it through (the node was sent the device once); the device has moved since.
                # Checked before the report is folded in: the new node's pending reports must stay.
                log.info(
                    "devicecontroller: report of %s/%s from node %s, which no longer has it", ns, name, node
                )
                return
            content = _content(msg.content)
            dev_id, now = self.book.report(resource, content, self.clock())
        except (ReportError, msgspec.DecodeError) as e:
            self.stats["rejected"] += 1
            log.warning("devicecontroller: unusable report %s from node %s: %s", resource, node, e)
            return
        self.stats["reports"] += 1
        if now:
            self._write(dev_id)
        else:
            self._wake.set()

    # -- writes ----------------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        await run_at_deadlines(self.book.next_deadline, self._write_due, self._wake, self.clock)

    def _write_due(self, now: float) -> None:
        for dev_id in self.book.due(now):
            self._write(dev_id)

    def _write(self, dev_id: str) -> None:
        if dev_id in self._writing:
            self._again.add(dev_id)  # written when the one in flight is done
            return
        pending = self.book.take(dev_id)
        if pending is None:
            return
        self._writing.add(dev_id)
        task = asyncio.create_task(self._patch(dev_id, pending), name="device-status " + dev_id)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _patch(self, dev_id: str, pending: Pending) -> None:
        retry = False
        try:
            sem = self._sem
            assert sem is not None
            async with sem:
                if await self._send(dev_id, pending):
                    self.stats["writes"] += 1
        except KubeError as e:
            self.stats["write_errors"] += 1
            if e.transient:
                retry = True
                log.warning("devicecontroller: status of device %s not written (%s); retrying", dev_id, e)
            else:  # gone, or refused: these reports can never be written
                log.warning("devicecontroller: status of device %s not written: %s", dev_id, e)
        except Exception:
            self.stats["write_errors"] += 1
            log.exception("devicecontroller: status write of device %s failed", dev_id)
        finally:
            self._writing.discard(dev_id)
        if retry:
            self.book.restore(dev_id, pending)
            await asyncio.sleep(max(self.interval, MIN_RETRY))
            self._write(dev_id)
        elif dev_id in self._again:
            self._again.discard(dev_id)
            self._write(dev_id)

    async def _send(self, dev_id: str, pending: Pending) -> bool:
        """One status write; False when there is nothing to write it to or nothing to write."""
        ns, _, name = dev_id.partition("/")
        device = self.downstream.device(ns, name)
        if device is None:  # deleted (or not listed yet): nothing to write to
            self._written.pop(dev_id, None)
            return False
        if not pending.twins and pending.state is None and pending.last_online is None:
            return False  # a report with nothing in it (an empty twin object)
        # The informer's copy may not show our previous writes yet, and a merge patch replaces the twin
        # list whole: what we wrote before goes in again under the new reports. Only what was written to
        # this incarnation (uid) counts, and only once the write succeeded: a refused write must not ride
        # along in every later one.
        uid = device["metadata"].get("uid") or ""
        prev_uid, prev = self._written.get(dev_id, ("", {}))
        written = dict(prev) if prev_uid == uid else {}
        for prop, entry in pending.twins.items():
            written[prop] = {**written.get(prop, {}), **entry}
        full = Pending(written, pending.state, pending.last_online)
        current = device.get("status") or {}
        await self.kube.patch_device_status(ns, name, status_patch(current.get("twins"), full))
        self._written[dev_id] = (uid, written)
        return True
