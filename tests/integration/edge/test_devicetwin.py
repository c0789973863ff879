"""DeviceTwin on a real beehive and its SQLite tables: answers after the write, reports to the cloud
coalesced, offline reports sent on reconnect (latest wins), everything back after a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import apsw
import msgspec
import pytest

from kedge.beehive import Context, Module, Runtime
from kedge.edge.devicetwin.module import DeviceTwin
from kedge.edge.devicetwin.store import TwinStore
from kedge.edge.edgehub.hub import CLOUD_CONNECTED, CLOUD_DISCONNECTED, CONNECTION_RESOURCE
from kedge.model import constants as c
from kedge.model.message import Message, new_message
from tests.unit.edge.test_devicetwin_engine import MODEL, NODE, device

D = "$hw/events/device/default/counter/"
WAIT = 10.0


class Sink(Module):
    """Stands where EventBus / EdgeHub sit, recording what DeviceTwin hands them."""

    def __init__(self, name: str, group: str) -> None:
        self.name = name
        self.group = group
        self.got: list[Message] = []
        self.changed = asyncio.Event()

    async def start(self, ctx: Context) -> None:
        while True:
            self.got.extend(await ctx.receive_many(self.name, 256))
            self.changed.set()

    async def wait_for(self, pred, what: str) -> Message:
        async def find() -> Message:
            while True:
                for m in self.got:
                    if pred(m):
                        return m
                self.changed.clear()
                await self.changed.wait()

        try:
            return await asyncio.wait_for(find(), WAIT)
        except TimeoutError:
            pytest.fail(
                "%s never reached %s; got %s" % (what, self.name, [m.route.resource for m in self.got])
            )

    def topic(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(m.content) for m in self.got if m.route.resource == topic]


class Edge:
    def __init__(self, db: Path, objects: dict[str, list[dict]], report_interval: float = 0.3) -> None:
        self.ctx = Context()
        self.store = TwinStore(db)

        def cloud_objects():
            enc = msgspec.json.encode
            return [enc(d) for d in objects["devices"]], [enc(m) for m in objects["models"]]

        self.twin = DeviceTwin(self.store, NODE, cloud_objects, report_interval=report_interval)
        self.bus = Sink(c.EVENTBUS, c.BUS_GROUP)
        self.hub = Sink(c.EDGEHUB, c.EDGEHUB_GROUP)
        self.runtime = Runtime(self.ctx)
        for m in (self.twin, self.bus, self.hub):
            self.runtime.register(m)
        self.task = asyncio.create_task(self.runtime.run(handle_signals=False))

    async def stop(self) -> None:
        self.runtime.stop()
        await self.task
        self.store.close()

    def cloud(self, op: str, rtype: str, obj: dict) -> None:
        meta = obj["metadata"]
        self.ctx.send_nowait(
            c.TWIN,
            new_message(
                source=c.METAMANAGER,
                group=c.GROUP_RESOURCE,
                operation=op,
                resource="%s/%s/%s" % (meta["namespace"], rtype, meta["name"]),
                content=msgspec.Raw(msgspec.json.encode(obj)),
            ),
        )

    def mqtt(self, topic: str, payload: Any) -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.ctx.send_nowait(
            c.TWIN,
            new_message(
                source=c.EVENTBUS, group=c.GROUP_USER, operation=c.PUBLISH, resource=topic, content=raw
            ),
        )

    def connection(self, state: str) -> None:
        self.ctx.send_nowait(
            c.TWIN,
            new_message(
                source=c.EDGEHUB,
                group=c.EDGEHUB_GROUP,
                operation=c.CONNECT,
                resource=CONNECTION_RESOURCE,
                content=state,
            ),
        )

    async def result(self, topic: str, event_id: str) -> dict[str, Any]:
        m = await self.bus.wait_for(
            lambda m: m.route.resource == topic and json.loads(m.content).get("event_id") == event_id, topic
        )
        return json.loads(m.content)

    async def report(self, value: str) -> dict[str, Any]:
        def pred(m: Message) -> bool:
            if not m.route.resource.endswith("/twin/edge_updated"):
                return False
            return m.content["twin"].get("status", {}).get("actual", {}).get("value") == value

        m = await self.hub.wait_for(pred, "edge_updated with status %s" % value)
        return m.content


def stored_actual(db: Path) -> dict[str, str]:
    conn = apsw.Connection(str(db))
    try:
        return dict(conn.execute("SELECT name, actual FROM device_twin WHERE deviceid='default/counter'"))
    finally:
        conn.close()


async def test_report_answered_after_it_is_stored(tmp_path: Path) -> None:
    db = tmp_path / "edge.db"
    edge = Edge(db, {"devices": [], "models": []})
    try:
        edge.cloud(c.INSERT, c.DEVICEMODEL, MODEL)
        edge.cloud(c.INSERT, c.DEVICE, device())
        await edge.bus.wait_for(lambda m: m.route.resource.endswith("/membership/updated"), "membership")
        edge.mqtt(D + "twin/update", {"event_id": "e1", "twin": {"status": {"actual": {"value": "5"}}}})
        res = await edge.result(D + "twin/update/result", "e1")
        assert res["twin"]["status"]["actual"]["value"] == "5"
        assert stored_actual(db)["status"] == "5"  # on disk before the answer went out
        edge.mqtt(D + "twin/update", b"{broken")
        bad = await edge.bus.wait_for(
            lambda m: m.route.resource == D + "twin/update/result" and b"malformed" in m.content,
            "error result",
        )
        assert json.loads(bad.content)["code"] == 400
        assert stored_actual(db)["status"] == "5"
        assert edge.hub.got == []  # the cloud was never connected: nothing sent
    finally:
        await edge.stop()


async def test_offline_reports_reach_the_cloud_on_reconnect_latest_wins(tmp_path: Path) -> None:
    db = tmp_path / "edge.db"
    objects = {"devices": [device()], "models": [MODEL]}
    edge = Edge(db, objects)
    try:
        for i in range(1, 21):
            edge.mqtt(
                D + "twin/update", {"event_id": "e%d" % i, "twin": {"status": {"actual": {"value": str(i)}}}}
            )
        await edge.result(D + "twin/update/result", "e20")
        assert edge.hub.got == []
    finally:
        await edge.stop()
    # reboot while offline, then the cloud comes back
    edge = Edge(db, objects)
    try:
        edge.connection(CLOUD_CONNECTED)
        report = await edge.report("20")
        assert report["twin"]["status"]["actual_version"]["edge"] == 20
        await asyncio.sleep(0)  # nothing else pending: exactly one message carried the 20 offline reports
        assert len([m for m in edge.hub.got if m.route.resource.endswith("edge_updated")]) == 1
        assert edge.hub.got[0].route.resource == "device/default/counter/twin/edge_updated"
        assert edge.hub.got[0].route.operation == c.UPDATE
    finally:
        await edge.stop()
    # handed over before the restart: not sent again
    edge = Edge(db, objects)
    try:
        edge.connection(CLOUD_CONNECTED)
        edge.mqtt(D + "twin/get", {"event_id": "g"})
        got = await edge.result(D + "twin/get/result", "g")
        assert got["twin"]["status"]["actual"]["value"] == "20"
        assert got["twin"]["status"]["expected"]["value"] == "OFF"  # desired survives the reboot
        assert not [m for m in edge.hub.got if m.route.resource.endswith("edge_updated")]
    finally:
        await edge.stop()


async def test_connected_bursts_are_coalesced(tmp_path: Path) -> None:
    edge = Edge(tmp_path / "edge.db", {"devices": [device()], "models": [MODEL]}, report_interval=0.3)
    try:
        edge.connection(CLOUD_CONNECTED)
        edge.mqtt(D + "twin/update", {"event_id": "a", "twin": {"status": {"actual": {"value": "a"}}}})
        await edge.report("a")  # the first report after a quiet period goes at once
        for v in "bcdef":
            edge.mqtt(D + "twin/update", {"event_id": v, "twin": {"status": {"actual": {"value": v}}}})
        await edge.result(D + "twin/update/result", "f")
        await edge.report("f")  # one folded report at the end of the interval, with the latest value
        values = [
            m.content["twin"]["status"]["actual"]["value"]
            for m in edge.hub.got
            if m.route.resource.endswith("edge_updated")
        ]
        assert values == ["a", "f"]
        edge.connection(CLOUD_DISCONNECTED)
        edge.mqtt(D + "state/update", {"event_id": "s", "state": "online"})
        await edge.result(D + "state/update/result", "s")
        assert not [m for m in edge.hub.got if m.route.resource.endswith("state/update")]
        edge.connection(CLOUD_CONNECTED)
        m = await edge.hub.wait_for(lambda m: m.route.resource.endswith("/state/update"), "state")
        assert m.content["device"]["state"] == "online"
    finally:
        await edge.stop()


async def test_device_removed_by_the_cloud_is_gone_after_restart(tmp_path: Path) -> None:
    db = tmp_path / "edge.db"
    edge = Edge(db, {"devices": [device()], "models": [MODEL]})
    try:
        edge.cloud(c.DELETE, c.DEVICE, device())
        m = await edge.bus.wait_for(lambda m: m.route.resource.endswith("/membership/updated"), "membership")
        assert json.loads(m.content)["removed_devices"] == [{"id": "default/counter", "name": "counter"}]
    finally:
        await edge.stop()
    assert stored_actual(db) == {}
