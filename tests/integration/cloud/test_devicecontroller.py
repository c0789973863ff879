"""The DeviceController between the embedded API server (device CRDs, real kubernetes_asyncio clients) and
real edges: a CloudHub on loopback with mutual TLS, DeviceDownstream's informers publishing each node's
devices and models, and the DeviceControllerModule on beehive writing the edge's reports into the Device
status. Each edge is an EdgeHub with a recording MetaManager stand-in that acks like MetaManager.

Downstream is observed where the edge sees it (deliveries in order); upstream reports leave the edge
through EdgeHub as its DeviceTwin sends them, pass CloudHub's authorization (the node was sent the
device) and end up in the API server."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from kedge.beehive import Context, Runtime
from kedge.cloud.cloudhub.hub import CloudHub, CloudHubModule, HubSettings
from kedge.cloud.cloudhub.listeners import Listeners, start_listeners
from kedge.cloud.devicecontroller.downstream import DeviceDownstream
from kedge.cloud.devicecontroller.module import DeviceControllerModule
from kedge.edge.edgehub.connect import WEBSOCKET, HubTarget
from kedge.edge.edgehub.outbox import Outbox
from kedge.k8s.client import open_api
from kedge.k8s.informer import ADDED
from kedge.k8s.ops import KubeError, KubeOps
from kedge.model import constants as c
from kedge.model.codec import decode_content
from kedge.model.message import Message, new_message
from tests.hubpki import HubPKI
from tests.integration.apiserver.conftest import embedded  # noqa: F401
from tests.integration.cloud.test_edgecontroller import Edge, fast_backoff
from tests.integration.hub.conftest import eventually

GROUP, VERSION = "devices.kubeedge.io", "v1beta1"
WAIT = 20.0
INTERVAL = 0.5


def model_object(name: str = "thermostat") -> dict[str, Any]:
    return {
        "apiVersion": "%s/%s" % (GROUP, VERSION),
        "kind": "DeviceModel",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "properties": [
                {
                    "name": "setpoint",
                    "type": "INT",
                    "accessMode": "ReadWrite",
                    "minimum": "0",
                    "maximum": "100",
                },
                {"name": "temperature", "type": "INT", "accessMode": "ReadOnly"},
            ]
        },
    }


def device_object(name: str, node: str, setpoint: str = "10", model: str = "thermostat") -> dict[str, Any]:
    return {
        "apiVersion": "%s/%s" % (GROUP, VERSION),
        "kind": "Device",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "deviceModelRef": {"name": model},
            "nodeName": node,
            "properties": [{"name": "setpoint", "desired": {"value": setpoint}}],
        },
    }


def twin_report(value: str, *, prop: str = "setpoint", ts: int = 222) -> dict[str, Any]:
    """An edge_updated report as the edge's DeviceTwin sends it."""
    return {
        "event_id": "ev-%s" % value,
        "timestamp": 123,
        "twin": {
            prop: {
                "optional": True,
                "metadata": {"type": "int"},
                "expected_version": {"cloud": 1, "edge": 0},
                "actual_version": {"cloud": 0, "edge": 3},
                "expected": {"value": "10", "metadata": {"timestamp": 111}},
                "actual": {"value": value, "metadata": {"timestamp": ts}},
            }
        },
    }


class Rig:
    """The embedded API server, a CloudHub with listeners, the DeviceController, and edges."""

    def __init__(self, tmp_path: Path, kubeconfig: str) -> None:
        self.tmp = tmp_path
        self.kubeconfig = kubeconfig
        self.pki = HubPKI(tmp_path / "pki")
        self.edges: dict[str, Edge] = {}
        self._informers: asyncio.Task | None = None

    async def start(self) -> None:
        self.api = await open_api(self.kubeconfig)
        self.custom = client.CustomObjectsApi(self.api)
        self.ctx = Context()
        self.hub = CloudHub(self.ctx, HubSettings(tick=0.1, ack_timeout=2.0))
        self.kube = KubeOps(self.api)
        self.downstream = DeviceDownstream(self.kube, self.hub, backoff=fast_backoff)
        self.hub.add_sync_source(self.downstream.sync_source)
        self.module = DeviceControllerModule(self.kube, self.downstream, interval=INTERVAL)
        self.runtime = Runtime(self.ctx)
        self.runtime.register(CloudHubModule(self.hub))
        self.runtime.register(self.module)
        self._runtime = asyncio.create_task(self.runtime.run(handle_signals=False), name="cloud")
        self.listeners: Listeners = await start_listeners(
            self.hub,
            ca_cert=self.pki.ca_cert,
            ca_path=str(self.pki.ca_path),
            cert_path=str(self.pki.server_cert_path),
            key_path=str(self.pki.server_key_path),
            ws=("127.0.0.1", 0),
            quic=None,
        )
        self._informers = asyncio.create_task(self.downstream.run(), name="device-informers")
        await eventually(lambda: self.downstream.ready, "device informers synced", WAIT)

    async def edge(self, node: str) -> Edge:
        cert, key = self.pki.node_cert(node)
        target = HubTarget(
            WEBSOCKET,
            "127.0.0.1:%d" % self.listeners.ports["websocket"],
            node,
            c.DEFAULT_PROJECT_ID,
            str(self.pki.ca_path),
            str(cert),
            str(key),
            native=True,
            timeout=10.0,
        )
        e = self.edges[node] = Edge(node, target, Outbox(self.tmp / ("%s.outbox.db" % node)))
        await eventually(lambda: node in self.hub.sessions, "node %s connected" % node, WAIT)
        await asyncio.wait_for(e.hub.connected.wait(), WAIT)
        return e

    # -- the API -------------------------------------------------------------------------------------

    async def create(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.custom.create_namespaced_custom_object(GROUP, VERSION, "default", plural, body)

    async def patch(self, plural: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return await self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, "default", plural, name, patch, _content_type="application/merge-patch+json"
        )

    async def patch_status(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return await self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", "devices", name, patch, _content_type="application/merge-patch+json"
        )

    async def get(self, plural: str, name: str) -> dict[str, Any]:
        return await self.custom.get_namespaced_custom_object(GROUP, VERSION, "default", plural, name)

    async def delete(self, plural: str, name: str) -> None:
        await self.custom.delete_namespaced_custom_object(GROUP, VERSION, "default", plural, name)

    async def close(self) -> None:
        for e in self.edges.values():
            await e.stop()
        await self.listeners.close()
        self.runtime.stop()
        await self._runtime
        if self._informers is not None:
            self._informers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._informers
        await self.api.close()


@pytest.fixture
async def rig(tmp_path: Path, embedded) -> AsyncIterator[Rig]:  # noqa: F811
    r = Rig(tmp_path, str(embedded.kubeconfig))
    await r.start()
    yield r
    await r.close()
    await asyncio.sleep(0.05)  # let closed TLS transports finish on this loop


async def until(cond: Callable[[], Any], what: str) -> None:
    await eventually(lambda: bool(cond()), what, WAIT)


def content(msg: Message) -> Any:
    return decode_content(msg)


def device_seen(e: Edge) -> list[tuple[str, str]]:
    """What the edge got from the DeviceController, in order."""
    return [(op, r) for op, r in e.recorder.seen() if "/device" in r]


def report(e: Edge, name: str, body: dict[str, Any], suffix: str = "twin/edge_updated") -> None:
    """A report as the edge's DeviceTwin sends it: group resource, through EdgeHub's outbox."""
    msg = new_message(
        source=c.TWIN,
        group=c.GROUP_RESOURCE,
        operation=c.UPDATE,
        resource="device/default/%s/%s" % (name, suffix),
        content=body,
    )
    e.ctx.send_nowait(c.EDGEHUB, msg)


async def reported(rig: Rig, name: str, prop: str = "setpoint") -> str | None:
    dev = await rig.get("devices", name)
    for t in (dev.get("status") or {}).get("twins") or ():
        if t.get("propertyName") == prop:
            return (t.get("reported") or {}).get("value")
    return None


async def until_reported(rig: Rig, name: str, value: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while (got := await reported(rig, name)) != value:
        assert asyncio.get_running_loop().time() < deadline, "reported value %r, not %r" % (got, value)
        await asyncio.sleep(0.05)


# -- downstream ------------------------------------------------------------------------------------------


async def test_device_lifecycle_reaches_its_node_model_first(rig: Rig) -> None:
    e1 = await rig.edge("edge-1")
    e2 = await rig.edge("edge-2")
    model = await rig.create("devicemodels", model_object())
    await rig.create("devices", device_object("thermo", "edge-1"))
    await until(lambda: e1.recorder.last(c.INSERT, "default/device/thermo"), "device insert")
    assert device_seen(e1) == [
        (c.INSERT, "default/devicemodel/thermostat"),
        (c.INSERT, "default/device/thermo"),
    ]
    ins = e1.recorder.last(c.INSERT, "default/device/thermo")
    assert ins is not None and ins.route.source == c.DEVICECONTROLLER and ins.route.group == c.GROUP_RESOURCE
    assert content(ins)["spec"]["properties"][0]["desired"]["value"] == "10"
    m = e1.recorder.last(c.INSERT, "default/devicemodel/thermostat")
    assert m is not None and content(m)["metadata"]["uid"] == model["metadata"]["uid"]
    assert device_seen(e2) == []

    # a new desired value goes out as an update
    await rig.patch(
        "devices", "thermo", {"spec": {"properties": [{"name": "setpoint", "desired": {"value": "42"}}]}}
    )
    await until(lambda: e1.recorder.last(c.UPDATE, "default/device/thermo"), "device update")
    upd = e1.recorder.last(c.UPDATE, "default/device/thermo")
    assert upd is not None and content(upd)["spec"]["properties"][0]["desired"]["value"] == "42"

    # moved to edge-2: deleted at edge-1 with its (now unused) model, inserted at edge-2 model first
    await rig.patch("devices", "thermo", {"spec": {"nodeName": "edge-2"}})
    await until(lambda: e2.recorder.last(c.INSERT, "default/device/thermo"), "device insert at edge-2")
    await until(
        lambda: e1.recorder.last(c.DELETE, "default/devicemodel/thermostat"), "model delete at edge-1"
    )
    assert device_seen(e1)[3:] == [
        (c.DELETE, "default/device/thermo"),
        (c.DELETE, "default/devicemodel/thermostat"),
    ]
    assert device_seen(e2) == [
        (c.INSERT, "default/devicemodel/thermostat"),
        (c.INSERT, "default/device/thermo"),
    ]
    assert rig.downstream.node_of("default", "thermo") == "edge-2"

    # deleted: the device, then the model, leave edge-2
    await rig.delete("devices", "thermo")
    await until(
        lambda: e2.recorder.last(c.DELETE, "default/devicemodel/thermostat"), "model delete at edge-2"
    )
    assert device_seen(e2)[2:] == [
        (c.DELETE, "default/device/thermo"),
        (c.DELETE, "default/devicemodel/thermostat"),
    ]
    assert rig.downstream.current("edge-1") == [] and rig.downstream.current("edge-2") == []
    assert device_seen(e1)[5:] == []


async def test_a_status_only_change_is_not_sent(rig: Rig) -> None:
    e = await rig.edge("edge-1")
    await rig.create("devicemodels", model_object())
    await rig.create("devices", device_object("thermo", "edge-1"))
    await until(lambda: e.recorder.last(c.INSERT, "default/device/thermo"), "device insert")
    patched = await rig.patch_status(
        "thermo", {"status": {"twins": [{"propertyName": "setpoint", "reported": {"value": "3"}}]}}
    )
    rv = patched["metadata"]["resourceVersion"]
    await until(
        lambda: (d := rig.downstream.device("default", "thermo")) and d["metadata"]["resourceVersion"] == rv,
        "the informer saw the status write",
    )
    # a spec change after it is the next thing the edge gets: the status write sent nothing in between
    await rig.patch(
        "devices", "thermo", {"spec": {"properties": [{"name": "setpoint", "desired": {"value": "11"}}]}}
    )
    await until(lambda: e.recorder.last(c.UPDATE, "default/device/thermo"), "device update")
    assert device_seen(e) == [
        (c.INSERT, "default/devicemodel/thermostat"),
        (c.INSERT, "default/device/thermo"),
        (c.UPDATE, "default/device/thermo"),
    ]


async def test_a_node_connecting_later_is_synced_with_its_devices(rig: Rig) -> None:
    await rig.create("devicemodels", model_object())
    await rig.create("devices", device_object("thermo", "edge-3"))
    await until(lambda: rig.downstream.node_of("default", "thermo") == "edge-3", "device placed")
    e = await rig.edge("edge-3")
    await until(lambda: len(device_seen(e)) == 2, "model and device synced")
    assert [r for _, r in device_seen(e)] == ["default/devicemodel/thermostat", "default/device/thermo"]


async def test_a_device_breaking_its_model_is_not_sent(rig: Rig) -> None:
    """The embedded API server refuses such a device already; a real cluster would not. Its informer
    event is therefore fed to the handler directly."""
    e = await rig.edge("edge-1")
    await rig.create("devicemodels", model_object())
    good = await rig.create("devices", device_object("thermo", "edge-1"))
    await until(lambda: e.recorder.last(c.INSERT, "default/device/thermo"), "device insert")

    bad = copy.deepcopy(good)
    bad["spec"]["properties"][0]["desired"]["value"] = "abc"  # not an INT
    bad["metadata"]["resourceVersion"] = str(int(good["metadata"]["resourceVersion"]) + 1000)
    rig.downstream._on_device(ADDED, bad, 0)
    over = copy.deepcopy(good)
    over["metadata"].update(uid="uid-over", name="over")
    over["spec"]["properties"][0]["desired"]["value"] = "500"  # above maximum
    rig.downstream._on_device(ADDED, over, 0)
    unknown = copy.deepcopy(good)
    unknown["metadata"].update(uid="uid-unknown", name="unknown")
    unknown["spec"]["properties"] = [{"name": "humidity", "desired": {"value": "1"}}]
    rig.downstream._on_device(ADDED, unknown, 0)
    assert rig.downstream.node_of("default", "thermo") == "edge-1"
    assert [uid for uid, _ in rig.downstream.current("edge-1")] == [
        rig.downstream.models.by_name("default", "thermostat")["metadata"]["uid"],  # type: ignore[index]
        good["metadata"]["uid"],
    ]
    # a good change after them goes through; nothing of the bad ones did
    await rig.patch(
        "devices", "thermo", {"spec": {"properties": [{"name": "setpoint", "desired": {"value": "7"}}]}}
    )
    await until(lambda: e.recorder.last(c.UPDATE, "default/device/thermo"), "device update")
    assert device_seen(e) == [
        (c.INSERT, "default/devicemodel/thermostat"),
        (c.INSERT, "default/device/thermo"),
        (c.UPDATE, "default/device/thermo"),
    ]
    upd = e.recorder.last(c.UPDATE, "default/device/thermo")
    assert upd is not None and content(upd)["spec"]["properties"][0]["desired"]["value"] == "7"


# -- upstream ----------------------------------------------------------------------------------------------


async def test_reports_become_the_device_status(rig: Rig) -> None:
    e = await rig.edge("edge-1")
    await rig.create("devicemodels", model_object())
    await rig.create("devices", device_object("thermo", "edge-1"))
    await until(lambda: e.recorder.last(c.INSERT, "default/device/thermo"), "device insert")

    report(e, "thermo", twin_report("7"))
    await until_reported(rig, "thermo", "7")
    dev = await rig.get("devices", "thermo")
    assert dev["status"]["twins"] == [
        {
            "propertyName": "setpoint",
            "reported": {"value": "7", "metadata": {"timestamp": "222", "type": "int"}},
            "observedDesired": {"value": "10", "metadata": {"timestamp": "111", "type": "int"}},
        }
    ]
    report(
        e,
        "thermo",
        {
            "event_id": "s",
            "timestamp": 1,
            "device": {"name": "thermo", "state": "online", "lastOnlineTime": "2026-12-07T10:00:00Z"},
        },
        "state/update",
    )
    await until(lambda: rig.module.stats["writes"] >= 2, "state written")
    dev = await rig.get("devices", "thermo")
    assert dev["status"]["state"] == "online"
    assert dev["status"]["lastOnlineTime"] == "2026-12-07T10:00:00Z"
    assert dev["status"]["twins"][0]["reported"]["value"] == "7"  # the state write kept the twins
    # the status writes came back through the informer and were not sent to the edge
    assert device_seen(e) == [
        (c.INSERT, "default/devicemodel/thermostat"),
        (c.INSERT, "default/device/thermo"),
    ]

    # 20 quick reports: the first written at once, the rest folded into few writes; the last value wins
    await asyncio.sleep(INTERVAL)
    before = rig.module.stats["writes"]
    for i in range(20):
        report(e, "thermo", twin_report(str(100 + i), ts=1000 + i))
    await until(lambda: rig.module.stats["reports"] >= 22, "reports in")
    await until_reported(rig, "thermo", "119")
    await until(lambda: not rig.module._writing and rig.module.book.next_deadline() is None, "writes settled")
    writes = rig.module.stats["writes"] - before
    assert 1 <= writes <= 5, writes
    assert await reported(rig, "thermo") == "119"
    assert rig.module.stats["write_errors"] == 0

    # a malformed report: rejected, nothing written
    writes = rig.module.stats["writes"]
    report(e, "thermo", {"twin": {"setpoint": {"actual": {"value": 7}}}})
    await until(lambda: rig.module.stats["rejected"] == 1, "report rejected")
    assert rig.module.stats["writes"] == writes
    assert rig.module.book.pending == {}
    assert await reported(rig, "thermo") == "119"


async def test_reports_about_devices_the_node_was_not_sent_are_denied(rig: Rig) -> None:
    e1 = await rig.edge("edge-1")
    e2 = await rig.edge("edge-2")
    await rig.create("devicemodels", model_object())
    await rig.create("devices", device_object("thermo", "edge-1"))
    await until(lambda: e1.recorder.last(c.INSERT, "default/device/thermo"), "device insert")
    denied = rig.hub.stats["denied"]
    report(e2, "thermo", twin_report("66"))
    await until(lambda: rig.hub.stats["denied"] > denied, "report denied by the hub")
    assert rig.module.stats["reports"] == 0
    assert await reported(rig, "thermo") is None


def upstream(node: str, name: str, body: dict[str, Any]) -> Message:
    """A report as CloudHub hands it to the DeviceController (node-prefixed, already authorized)."""
    return new_message(
        source=c.TWIN,
        group=c.GROUP_RESOURCE,
        operation=c.UPDATE,
        resource="node/%s/device/default/%s/twin/edge_updated" % (node, name),
        content=body,
    )


async def test_a_late_report_from_the_old_node_drops_nothing_of_the_new_one(rig: Rig) -> None:
    """A device moved: a report from the node it left (let through before the hub knew) is ignored, and
    the new node's reports waiting for the interval's end are still written."""
    await rig.create("devicemodels", model_object())
    await rig.create("devices", device_object("thermo", "edge-1"))
    await until(lambda: rig.downstream.node_of("default", "thermo") == "edge-1", "device placed")
    await rig.patch("devices", "thermo", {"spec": {"nodeName": "edge-2"}})
    await until(lambda: rig.downstream.node_of("default", "thermo") == "edge-2", "device moved")
    rig.module.handle(upstream("edge-2", "thermo", twin_report("1")))  # written at once
    rig.module.handle(upstream("edge-2", "thermo", twin_report("2")))  # due at the interval's end
    rig.module.handle(upstream("edge-1", "thermo", twin_report("99")))  # from the node it left
    assert rig.module.stats["reports"] == 2
    await until_reported(rig, "thermo", "2")
    assert rig.module.book.pending == {}


async def test_a_refused_write_does_not_ride_along_in_later_ones(rig: Rig) -> None:
    """A status write the API server refuses for good is dropped; the reports after it are written."""
    await rig.create("devicemodels", model_object())
    await rig.create("devices", device_object("thermo", "edge-1"))
    await until(lambda: rig.downstream.node_of("default", "thermo") == "edge-1", "device placed")
    real = rig.kube.patch_device_status

    async def refusing(ns: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        for t in patch["status"].get("twins", ()):
            if t.get("reported", {}).get("value") == "bad":
                raise KubeError(422, "temperature: refused", "Invalid")
        return await real(ns, name, patch)

    rig.kube.patch_device_status = refusing  # type: ignore[method-assign]
    try:
        rig.module.handle(upstream("edge-1", "thermo", twin_report("bad", prop="temperature")))
        await until(lambda: rig.module.stats["write_errors"] == 1, "write refused")
        rig.module.handle(upstream("edge-1", "thermo", twin_report("5")))
        await until_reported(rig, "thermo", "5")
        assert rig.module.stats["write_errors"] == 1
        dev = await rig.get("devices", "thermo")
        assert [t["propertyName"] for t in dev["status"]["twins"]] == ["setpoint"]
    finally:
        del rig.kube.patch_device_status


async def test_a_recreated_device_starts_with_a_clean_status(rig: Rig) -> None:
    """What was written to a deleted Device is not written again to a new one of the same name."""
    await rig.create("devicemodels", model_object())
    await rig.create("devices", device_object("thermo", "edge-1"))
    await until(lambda: rig.downstream.node_of("default", "thermo") == "edge-1", "device placed")
    rig.module.handle(upstream("edge-1", "thermo", twin_report("3", prop="temperature")))
    await until(lambda: rig.module.stats["writes"] == 1, "first write")
    await rig.delete("devices", "thermo")
    await until(lambda: rig.downstream.device("default", "thermo") is None, "device gone")
    await rig.create("devices", device_object("thermo", "edge-1"))
    await until(lambda: rig.downstream.node_of("default", "thermo") == "edge-1", "device placed again")
    await asyncio.sleep(INTERVAL)  # out of the first write's interval: the next one goes at once
    rig.module.handle(upstream("edge-1", "thermo", twin_report("4")))
    await until_reported(rig, "thermo", "4")
    dev = await rig.get("devices", "thermo")
    assert [t["propertyName"] for t in dev["status"]["twins"]] == ["setpoint"]
