"""DeviceTwin, the beehive module (KubeEdge's `twin`): the engine's effects made real.

Per batch of inbox messages (MQTT requests from EventBus, Device/DeviceModel objects MetaManager
committed, EdgeHub's connect notices): the engine decides, the changed rows go to SQLite in one
transaction, and only then are the MQTT answers published (through EventBus) — an answered update is
on disk. A failed write answers nothing as done: the in-memory state is reloaded from the database and
the batch's requests get a 500 result.

Reported twins and device states go to the cloud (EdgeHub's durable outbox, KubeEdge's
`device/<id>/twin/edge_updated` and `.../state/update`) while the cloud is connected, at most once per
device per `report_interval` with the latest values (a device reporting every 100 ms does not become
10 messages/s upstream). While the cloud is away nothing is queued: the rows remember what the cloud has
not seen (`synced_edge`), and all of it is sent, latest values only, when the cloud is back.
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
from kedge.edge.devicetwin.engine import Effects, TwinEngine
from kedge.edge.devicetwin.entries import DeviceSpecError
from kedge.edge.devicetwin.store import TwinStore
from kedge.edge.edgehub.hub import CLOUD_CONNECTED, CLOUD_DISCONNECTED
from kedge.model import constants as c
from kedge.model.message import Message, new_message
from kedge.model.resource import ResourceError, parse_wire
from kedge.proto.coalesce import Coalescer

log = logging.getLogger(__name__)

BATCH = 256
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

#: (devices, models) the edge holds, as JSON bytes (MetaManager's rows) — read at start
CloudObjects = Callable[[], tuple[list[bytes], list[bytes]]]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _content_obj(msg: Message) -> Any:
    content = msg.content
    if type(content) is msgspec.Raw:
        return _decode(bytes(content))
    if isinstance(content, bytes | str):
        return _decode(content)
    return content


class DeviceTwin(Module):
    name = c.TWIN
    group = c.TWIN_GROUP
    capacity = 4096

    def __init__(
        self,
        store: TwinStore,
        node: str,
        cloud_objects: CloudObjects,
        *,
        report_interval: float = 1.0,
        clock: Callable[[], int] = _now_ms,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.engine = TwinEngine(node)
        self.cloud_objects = cloud_objects
        self.clock = clock
        self.monotonic = monotonic
        self.coalescer: Coalescer[str] = Coalescer(report_interval)
        self.cloud_connected = False
        #: updates: devices whose twins or state a batch (edge requests, cloud Device changes) changed
        self.stats = {"requests": 0, "published": 0, "reports": 0, "write_errors": 0, "updates": 0}
        self._ctx: Context | None = None
        self._wake = asyncio.Event()

    async def start(self, ctx: Context) -> None:
        self._ctx = ctx
        self._restore()
        flusher = asyncio.create_task(self._flush_loop(ctx), name="devicetwin-reports")
        try:
            while True:
                await self.handle(ctx, await ctx.receive_many(self.name, BATCH))
        finally:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)

    def _restore(self) -> None:
        devices_raw, models_raw = self.cloud_objects()
        fx = Effects()
        self.engine.restore(self.store.load(), _decoded(devices_raw), _decoded(models_raw), self.clock(), fx)
        self._write(fx)

    # -- one batch --------------------------------------------------------------------------------

    async def handle(self, ctx: Context, batch: list[Message]) -> None:
        fx = Effects()
        engine = self.engine
        now = self.clock()
        requests = 0
        for msg in batch:
            r = msg.route
            op = r.operation
            try:
                if r.source == c.EVENTBUS and op == c.PUBLISH:
                    requests += 1
                    engine.request(r.resource, _payload(msg.content), now, fx)
                elif op == c.CONNECT and r.group == c.EDGEHUB_GROUP:
                    self._connection(msg.content, fx)
                elif op in (c.INSERT, c.UPDATE, c.PATCH, c.DELETE):
                    self._cloud_object(msg, now, fx)
                else:
                    log.debug("devicetwin ignores %s %s from %s", op, r.resource, r.source)
            except (DeviceSpecError, ResourceError, msgspec.DecodeError, TypeError, ValueError) as e:
                log.warning("devicetwin cannot use %s %s from %s: %s", op, r.resource, r.source, e)
        self.stats["requests"] += requests
        if self._write(fx):
            self.stats["updates"] += len(fx.changed) + len(fx.removed)
        else:
            fx = self._failed(batch, now)
        for topic, payload in fx.publishes:
            await self._publish(ctx, topic, payload)
        if fx.report and self.cloud_connected:
            self._offer(fx.report)

    def _cloud_object(self, msg: Message, now: int, fx: Effects) -> None:
        res = parse_wire(msg.route.resource)
        if res.type == c.DEVICE:
            if msg.route.operation == c.DELETE:
                self.engine.device_deleted("%s/%s" % (res.namespace, res.name), now, fx)
            else:
                self.engine.device_changed(_content_obj(msg), now, fx)
        elif res.type == c.DEVICEMODEL:
            if msg.route.operation == c.DELETE:
                self.engine.model_deleted("%s/%s" % (res.namespace, res.name))
            else:
                self.engine.model_changed(_content_obj(msg), now, fx)

    def _connection(self, content: Any, fx: Effects) -> None:
        if content == CLOUD_CONNECTED:
            self.cloud_connected = True
            for dev_id in self.engine.unsynced():
                fx.report[dev_id] = None
        elif content == CLOUD_DISCONNECTED:
            self.cloud_connected = False

    def _write(self, fx: Effects) -> bool:
        records = self.engine.records
        changed = [records[i] for i in fx.changed if i in records]
        try:
            self.store.write(changed, list(fx.removed))
        except Exception as e:
            self.stats["write_errors"] += 1
            log.error("devicetwin cannot write %d devices to %s: %s", len(changed), self.store.path, e)
            return False
        return True

    def _failed(self, batch: list[Message], now: int) -> Effects:
        """After a failed write: back to what the database holds; each request answered 500."""
        fx = Effects()
        try:
            devices, models = (_decoded(raws) for raws in self.cloud_objects())
            self.engine = TwinEngine(self.engine.node)
            self.engine.restore(self.store.load(), devices, models, now, Effects())
        except Exception as e:  # the database is unusable: keep serving from memory, loudly
            log.error("devicetwin cannot reload %s: %s", self.store.path, e)
        for msg in batch:
            if msg.route.source == c.EVENTBUS and msg.route.operation == c.PUBLISH:
                fx.publish(
                    msg.route.resource + "/result",
                    {"event_id": "", "timestamp": now, "code": 500, "reason": "cannot store the update"},
                )
        return fx

    async def _publish(self, ctx: Context, topic: str, payload: dict[str, Any]) -> None:
        if not ctx.router.has_module(c.EVENTBUS):
            log.debug("no eventbus: %s not published", topic)
            return
        msg = new_message(
            source=c.TWIN, group=c.BUS_GROUP, operation=c.PUBLISH, resource=topic, content=_encode(payload)
        )
        await ctx.send(c.EVENTBUS, msg)  # waits for room: a slow broker slows twin processing, bounded
        self.stats["published"] += 1

    # -- reports to the cloud ---------------------------------------------------------------------

    def _offer(self, devices: dict[str, None]) -> None:
        now = self.monotonic()
        send = [d for d in devices if self.coalescer.offer(d, now)]
        if send:
            self._report(send)
        self._wake.set()

    def _report(self, devices: list[str]) -> None:
        ctx = self._ctx
        if ctx is None or not self.cloud_connected:
            return
        now = self.clock()
        fx = Effects()
        messages: list[Message] = []
        for dev_id in devices:
            for resource, content in self.engine.cloud_report(dev_id, now):
                messages.append(
                    new_message(
                        source=c.TWIN,
                        group=c.GROUP_RESOURCE,
                        operation=c.UPDATE,
                        resource=resource,
                        content=content,
                    )
                )
            fx.changed[dev_id] = None
        for m in messages:
            try:
                ctx.send_nowait(c.EDGEHUB, m)
            except Exception as e:  # a full hub inbox: mark as unsent again so the next round retries
                log.warning("cannot hand %s to edgehub: %s", m.route.resource, e)
                self._resend_later(m.route.resource)
            else:
                self.stats["reports"] += 1
        self._write(fx)

    def _resend_later(self, resource: str) -> None:
        dev_id = "/".join(resource.split("/")[1:3])
        rec = self.engine.records.get(dev_id)
        if rec is None:
            return
        if resource.endswith("/state/update"):
            rec.state_synced = False
        else:
            rec.synced.clear()
        self.coalescer.offer(dev_id, self.monotonic())  # now folded: due when this interval ends

    async def _flush_loop(self, ctx: Context) -> None:
        """Send the folded reports when their interval ends."""
        await run_at_deadlines(self.coalescer.next_deadline, self._report_due, self._wake, self.monotonic)

    def _report_due(self, now: float) -> None:
        due = self.coalescer.due(now)
        if due:
            self._report(due)


def _payload(content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode()
    if type(content) is msgspec.Raw:
        return bytes(content)
    return _encode(content)


def _decoded(raws: list[bytes]) -> list[dict[str, Any]]:
    out = []
    for raw in raws:
        try:
            obj = _decode(raw)
        except msgspec.DecodeError as e:
            log.warning("devicetwin skips an undecodable stored object: %s", e)
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out
