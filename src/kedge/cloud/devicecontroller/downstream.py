"""Cloud → edge for devices: informers on DeviceModels and Devices (devices.kubeedge.io/v1beta1), each
Device sent to its `spec.nodeName` through CloudHub, its model before it.

Messages: source `devicecontroller`, group `resource`, `insert|update|delete <ns>/device|devicemodel/<name>`
with the object as content (what KubeEdge's devicecontroller sends; the edge acks, MetaManager stores it
and DeviceTwin derives the membership and the desired values from it). A model goes to a node before the
first device of it there, and is deleted there after the last one.

A Device change that touches only its status (the controller's own writes of reported values) is not sent:
the edge already has everything but the status, and resending would loop every report back to the edge.
A Device whose desired values break its model (wrong type, out of range, unknown property) is not sent
either: the edge keeps the last good version and the log names the problem. The embedded API server
refuses such a write already; against a real cluster this is the only check (no admission webhook).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from kedge.aio.backoff import Backoff
from kedge.cloud.cloudhub.hub import CloudHub
from kedge.cloud.edgecontroller.messages import DELETED, encode, uid_of
from kedge.k8s.informer import SYNCED, Informer
from kedge.k8s.ops import KubeOps
from kedge.model import constants as c
from kedge.model.devices import device_problems
from kedge.model.message import Message, new_message
from kedge.model.resource import build_wire

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ModelKey = tuple[str, str]  # (namespace, name)


def device_node(device: Obj) -> str:
    spec = device.get("spec")
    node = spec.get("nodeName") if isinstance(spec, dict) else None
    return node if isinstance(node, str) else ""


def model_key(device: Obj) -> ModelKey:
    spec = device.get("spec")
    ref = spec.get("deviceModelRef") if isinstance(spec, dict) else None
    name = ref.get("name") if isinstance(ref, dict) else None
    return device["metadata"].get("namespace") or "default", name if isinstance(name, str) else ""


def device_message(rtype: str, operation: str, obj: Obj) -> Message:
    meta = obj["metadata"]
    return new_message(
        source=c.DEVICECONTROLLER,
        group=c.GROUP_RESOURCE,
        operation=operation,
        resource=build_wire(meta.get("namespace") or "default", rtype, meta["name"]),
        resourceversion=str(meta.get("resourceVersion") or ""),
        content=encode(obj),
    )


def _sent_form(device: Obj) -> Any:
    """What the edge uses of a Device: all of it but the status and the bookkeeping metadata."""
    meta = device["metadata"]
    return (device.get("spec"), meta.get("labels"), meta.get("annotations"), meta.get("deletionTimestamp"))


class DeviceDownstream:
    """Publishes each node's devices and models; `run()` runs the informers until cancelled."""

    def __init__(
        self,
        kube: KubeOps,
        hub: CloudHub,
        *,
        backoff: Callable[[], Backoff] | None = None,
        watch_timeout: int = 300,
    ) -> None:
        self.hub = hub

        def informer(plural: str, handler: Callable[[str, Obj, int], None]) -> Informer:
            extra = {"backoff": backoff()} if backoff is not None else {}
            return Informer(kube.device_lister(plural), handler, timeout_seconds=watch_timeout, **extra)

        self.models = informer("devicemodels", self._on_model)
        self.devices = informer("devices", self._on_device)
        self._placed: dict[str, tuple[str, ModelKey, Any]] = {}  # device uid → (node, model, sent form)
        self._refs: dict[tuple[str, ModelKey], set[str]] = {}  # (node, model) → device uids there
        self._model_sent: set[tuple[str, ModelKey]] = set()
        self._listed: set[str] = set()
        self.ready = False

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.models.run(), name="informer-devicemodels")
            tg.create_task(self.devices.run(), name="informer-devices")

    # -- what a node should have -----------------------------------------------------------------

    def sync_source(self, node: str) -> list[tuple[str, Message]] | None:
        return self.current(node) if self.ready else None

    def current(self, node: str) -> list[tuple[str, Message]]:
        """(uid, update) of the models then the devices `node` holds."""
        out: list[tuple[str, Message]] = []
        devices: list[tuple[str, Message]] = []
        for (n, mk), uids in self._refs.items():
            if n != node or not uids:
                continue
            model = self.models.by_name(*mk)
            if model is not None:
                out.append((uid_of(model), device_message(c.DEVICEMODEL, c.UPDATE, model)))
            for uid in sorted(uids):
                dev = self.devices.get(uid)
                if dev is not None:
                    devices.append((uid, device_message(c.DEVICE, c.UPDATE, dev)))
        return out + devices

    def device(self, namespace: str, name: str) -> Obj | None:
        return self.devices.by_name(namespace, name)

    def node_of(self, namespace: str, name: str) -> str:
        """The node a device was sent to ("" if none)."""
        dev = self.devices.by_name(namespace, name)
        placed = self._placed.get(uid_of(dev)) if dev is not None else None
        return placed[0] if placed is not None else ""

    # -- informer handlers -----------------------------------------------------------------------

    def _listed_one(self, kind: str) -> None:
        if self.ready:
            return
        self._listed.add(kind)
        if len(self._listed) < 2:
            return
        self.ready = True
        log.info(
            "devicecontroller synced: %d devices on %d nodes, %d models",
            len(self._placed),
            len({n for n, _, _ in self._placed.values()}),
            len(self.models.list()),
        )
        self.hub.resync_connected()

    def _publish(self, node: str, msg: Message, key: str) -> None:
        if self.ready:
            self.hub.publish(node, msg, key)

    def _on_model(self, kind: str, model: Obj, rv: int) -> None:
        if kind == SYNCED:
            self._listed_one("models")
            return
        meta = model["metadata"]
        mk = (meta.get("namespace") or "default", meta["name"])
        nodes = sorted(n for (n, k), uids in self._refs.items() if k == mk and uids)
        uid = uid_of(model)
        for node in nodes:
            if kind == DELETED:
                self._model_sent.discard((node, mk))
                self._publish(node, device_message(c.DEVICEMODEL, c.DELETE, model), uid)
            else:
                op = c.UPDATE if (node, mk) in self._model_sent else c.INSERT
                self._model_sent.add((node, mk))
                self._publish(node, device_message(c.DEVICEMODEL, op, model), uid)

    def _on_device(self, kind: str, device: Obj, rv: int) -> None:
        if kind == SYNCED:
            self._listed_one("devices")
            return
        uid = uid_of(device)
        if kind == DELETED:
            self._unplace(uid, device)
            return
        node = device_node(device)
        mk = model_key(device)
        form = _sent_form(device)
        placed = self._placed.get(uid)
        if placed is not None and placed[0] == node and placed[1] == mk and placed[2] == form:
            return  # only the status (or nothing the edge uses) changed
        if placed is not None and (placed[0] != node or placed[1] != mk):
            self._unplace(uid, device)
            placed = None
        if not node:
            return
        problems = device_problems(device, self.models.by_name(*mk))
        if problems:
            meta = device["metadata"]
            log.warning(
                "device %s/%s is not sent to node %s: %s",
                meta.get("namespace") or "default",
                meta["name"],
                node,
                "; ".join("%s: %s" % p for p in problems),
            )
            return
        self._place(uid, node, mk, form, device, new=placed is None)

    def _place(self, uid: str, node: str, mk: ModelKey, form: Any, device: Obj, *, new: bool) -> None:
        self._placed[uid] = (node, mk, form)
        self._refs.setdefault((node, mk), set()).add(uid)
        if (node, mk) not in self._model_sent:
            model = self.models.by_name(*mk)
            if model is not None:
                self._model_sent.add((node, mk))
                self._publish(node, device_message(c.DEVICEMODEL, c.INSERT, model), uid_of(model))
        op = c.INSERT if new else c.UPDATE
        self._publish(node, device_message(c.DEVICE, op, device), uid)

    def _unplace(self, uid: str, device: Obj) -> None:
        placed = self._placed.pop(uid, None)
        if placed is None:
            return
        node, mk, _ = placed
        self._publish(node, device_message(c.DEVICE, c.DELETE, device), uid)
        uids = self._refs.get((node, mk))
        if uids is not None:
            uids.discard(uid)
            if not uids:
                del self._refs[(node, mk)]
                if (node, mk) in self._model_sent:
                    self._model_sent.discard((node, mk))
                    model = self.models.by_name(*mk)
                    if model is not None:
                        self._publish(node, device_message(c.DEVICEMODEL, c.DELETE, model), uid_of(model))


__all__ = ["DeviceDownstream", "device_message", "device_node", "model_key"]
