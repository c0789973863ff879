"""DeviceTwin's logic (sans-IO): devices in memory, MQTT requests and cloud objects in, effects out.

Every call returns nothing but records its effects in an `Effects`: MQTT publishes (topic, payload),
devices whose rows changed, devices removed. The module writes the rows in one transaction, and only
then publishes — so a result on MQTT is always on disk. Time is passed in (ms since the epoch).

Requests (KubeEdge's topics, `topics.py`): twin update (mapper/app reports: edge wins, all or nothing,
404 unknown device or property, 400 malformed or wrongly typed, 409 stale precondition), twin get,
state update, membership get. Cloud objects: a Device is the membership of its node and carries the
desired values (cloud wins; its resourceVersion is their version); a DeviceModel gives property types.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec

from kedge.edge.devicetwin import topics
from kedge.edge.devicetwin.entries import DeviceInfo, DeviceSpecError, device_info, entry
from kedge.edge.devicetwin.store import DeviceRecord
from kedge.edge.devicetwin.twins import (
    BAD_REQUEST,
    NOT_FOUND,
    Twin,
    TwinError,
    cloud_update,
    delta,
    document,
    edge_update,
)

log = logging.getLogger(__name__)

#: states a mapper may report (KubeEdge's device states; "unknown" before any report)
STATES = frozenset(("online", "offline", "unknown", "ok", "disconnected", "unhealthy"))
_decode = msgspec.json.Decoder().decode


def rfc3339(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Effects:
    publishes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    changed: dict[str, None] = field(default_factory=dict)  # device ids whose rows to write (ordered set)
    removed: dict[str, None] = field(default_factory=dict)
    report: dict[str, None] = field(default_factory=dict)  # devices with something new for the cloud

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.publishes.append((topic, payload))


class TwinEngine:
    def __init__(self, node: str) -> None:
        self.node = node
        self.records: dict[str, DeviceRecord] = {}
        self.infos: dict[str, DeviceInfo] = {}
        self._devices: dict[str, dict[str, Any]] = {}  # id → the Device object as the cloud sent it
        self._models: dict[str, dict[str, Any]] = {}  # "<ns>/<name>" → DeviceModel

    # -- start-up ---------------------------------------------------------------------------------

    def restore(
        self,
        records: dict[str, DeviceRecord],
        devices: list[dict[str, Any]],
        models: list[dict[str, Any]],
        now: int,
        fx: Effects,
    ) -> None:
        """Take the stored rows and the cloud objects held locally (reboot, offline): devices the
        cloud no longer lists are removed, new ones get twins; nothing is published."""
        self.records = records
        for m in models:
            key = _object_key(m)
            if key:
                self._models[key] = m
        seen: set[str] = set()
        for d in devices:
            try:
                seen.add(self._take_device(d, now, fx, announce=False))
            except DeviceSpecError as e:  # keep the others; the cloud's next update replaces it
                log.warning("devicetwin skips a stored device: %s", e)
        for dev_id in [i for i in self.records if i not in seen]:
            del self.records[dev_id]
            fx.removed[dev_id] = None
        for dev_id, rec in self.records.items():
            if rec.unsynced() or not rec.state_synced:
                fx.report[dev_id] = None

    # -- cloud objects ----------------------------------------------------------------------------

    def device_changed(self, device: dict[str, Any], now: int, fx: Effects) -> None:
        self._take_device(device, now, fx, announce=True)

    def device_deleted(self, device_id: str, now: int, fx: Effects) -> None:
        rec = self.records.pop(device_id, None)
        self.infos.pop(device_id, None)
        self._devices.pop(device_id, None)
        if rec is None:
            return
        fx.removed[device_id] = None
        fx.changed.pop(device_id, None)
        fx.report.pop(device_id, None)
        fx.publish(
            topics.node_topic(self.node, "membership/updated"),
            _base({"added_devices": [], "removed_devices": [{"id": device_id, "name": rec.name}]}, None, now),
        )

    def model_changed(self, model: dict[str, Any], now: int, fx: Effects) -> None:
        key = _object_key(model)
        if not key:
            raise DeviceSpecError("DeviceModel without metadata.name")
        self._models[key] = model
        for dev_id, dev in list(self._devices.items()):
            if self.infos[dev_id].namespace + "/" + self.infos[dev_id].model == key:
                self._take_device(dev, now, fx, announce=True)

    def model_deleted(self, key: str) -> None:
        # devices keep their twins: the cloud deletes a model from a node only after its last device
        self._models.pop(key, None)

    def _take_device(self, device: dict[str, Any], now: int, fx: Effects, *, announce: bool) -> str:
        meta = device.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        model_key = "%s/%s" % (ns, ((device.get("spec") or {}).get("deviceModelRef") or {}).get("name", ""))
        info = device_info(device, self._models.get(model_key))
        dev_id = info.id
        old_info = self.infos.get(dev_id)
        rec = self.records.get(dev_id)
        new = rec is None
        if rec is None:
            rec = self.records[dev_id] = DeviceRecord(dev_id, info.name)
        rec.description = info.description
        rec.attrs = {k: str(v) for k, v in (meta.get("labels") or {}).items()}
        self.infos[dev_id] = info
        self._devices[dev_id] = device
        twins = rec.twins
        for name in [n for n in twins if n not in info.properties]:
            del twins[name]
            rec.synced.pop(name, None)
        for p in info.properties.values():
            t = twins.get(p.name)
            if t is None:
                twins[p.name] = Twin(type=p.type)
            else:
                t.type = p.type
        before: dict[str, Twin] = {}
        for prop, spec in info.desired().items():
            try:
                before.update(cloud_update(twins, {prop: spec}, now))
            except TwinError as e:  # the cloud validates too; never let one value block the others
                log.warning("device %s: desired value not applied: %s", dev_id, e.message)
        before = {k: t for k, t in before.items() if _expected(t) != _expected(twins[k])}
        fx.changed[dev_id] = None
        if not announce:
            return dev_id
        item = entry(info, twins, rec.state, rec.last_online)
        if new:
            fx.publish(
                topics.node_topic(self.node, "membership/updated"),
                _base({"added_devices": [item], "removed_devices": []}, None, now),
            )
        elif old_info != info:
            fx.publish(topics.device_topic(dev_id, "updated"), _base({"device": item}, None, now))
        if before:
            fx.publish(
                topics.device_topic(dev_id, "twin/update/document"),
                _base({"twin": document(twins, before)}, None, now),
            )
            d = delta(twins)
            if d:
                fx.publish(
                    topics.device_topic(dev_id, "twin/update/delta"),
                    _base({"twin": {k: t.to_json() for k, t in twins.items()}, "delta": d}, None, now),
                )
        return dev_id

    # -- MQTT requests ----------------------------------------------------------------------------

    def request(self, topic: str, payload: bytes, now: int, fx: Effects) -> None:
        """Answer one MQTT publish on a DeviceTwin topic; errors go to the request's `/result` topic."""
        req = topics.parse(topic)
        if req is None:
            log.debug("devicetwin ignores topic %s", topic)
            return
        if req.kind == topics.MEMBERSHIP_GET and req.target != self.node:
            log.debug("membership/get for node %s is not ours (%s); ignored", req.target, self.node)
            return
        event_id = ""
        try:
            try:
                body = _decode(payload)
            except (msgspec.DecodeError, UnicodeDecodeError) as e:
                raise TwinError(BAD_REQUEST, "malformed JSON: %s" % e) from None
            if not isinstance(body, dict):
                raise TwinError(BAD_REQUEST, "the message must be a JSON object")
            ev = body.get("event_id")
            event_id = ev if isinstance(ev, str) else ""
            if req.kind == topics.MEMBERSHIP_GET:
                devices = [
                    entry(self.infos[i], r.twins, r.state, r.last_online) for i, r in self.records.items()
                ]
                fx.publish(topics.result_topic(topic), _base({"devices": devices}, event_id, now))
                return
            rec = self.records.get(req.target)
            if rec is None:
                raise TwinError(NOT_FOUND, "device %s does not exist on node %s" % (req.target, self.node))
            if req.kind == topics.TWIN_UPDATE:
                self._twin_update(topic, rec, body, event_id, now, fx)
            elif req.kind == topics.TWIN_GET:
                twins = {k: t.to_json() for k, t in rec.twins.items()}
                fx.publish(topics.result_topic(topic), _base({"code": 200, "twin": twins}, event_id, now))
            else:
                self._state_update(topic, rec, body, event_id, now, fx)
        except TwinError as e:
            fx.publish(
                topics.result_topic(topic), _base({"code": e.code, "reason": e.message}, event_id, now)
            )

    def _twin_update(
        self, topic: str, rec: DeviceRecord, body: dict[str, Any], event_id: str, now: int, fx: Effects
    ) -> None:
        before = edge_update(rec.twins, body, now)
        updated = {k: rec.twins[k].to_json() for k in body["twin"]}
        fx.publish(topics.result_topic(topic), _base({"twin": updated}, event_id, now))
        if not before:
            return  # the same values again: nothing new to store or tell
        fx.changed[rec.id] = None
        fx.report[rec.id] = None
        fx.publish(
            topics.device_topic(rec.id, "twin/update/document"),
            _base({"twin": document(rec.twins, before)}, event_id, now),
        )

    def _state_update(
        self, topic: str, rec: DeviceRecord, body: dict[str, Any], event_id: str, now: int, fx: Effects
    ) -> None:
        state = body.get("state")
        if not isinstance(state, str) or state.lower() not in STATES:
            raise TwinError(
                BAD_REQUEST, "state must be one of %s, got %r" % (", ".join(sorted(STATES)), state)
            )
        state = state.lower()
        if state == "online":
            rec.last_online = rfc3339(now)
        if state != rec.state or state == "online":
            rec.state = state
            rec.state_synced = False
            fx.changed[rec.id] = None
            fx.report[rec.id] = None
        device = {"name": rec.name, "state": rec.state, "lastOnlineTime": rec.last_online}
        fx.publish(topics.result_topic(topic), _base({"device": device}, event_id, now))

    # -- to the cloud -----------------------------------------------------------------------------

    def cloud_report(self, device_id: str, now: int) -> list[tuple[str, dict[str, Any]]]:
        """The (resource, content) messages that bring the cloud up to date with a device, marking what
        they carry as handed over (the caller writes the record afterwards)."""
        rec = self.records.get(device_id)
        info = self.infos.get(device_id)
        if rec is None or info is None:
            return []
        out: list[tuple[str, dict[str, Any]]] = []
        names = rec.unsynced()
        if names:
            twins: dict[str, Any] = {}
            for name in names:
                t = rec.twins[name]
                rec.synced[name] = t.actual_version.edge
                prop = info.properties.get(name)
                if prop is not None and not prop.report_to_cloud:
                    continue
                twins[name] = t.to_json()
            if twins:
                out.append(("device/%s/twin/edge_updated" % device_id, _base({"twin": twins}, "", now)))
        if not rec.state_synced:
            rec.state_synced = True
            device = {"name": rec.name, "state": rec.state, "lastOnlineTime": rec.last_online}
            out.append(("device/%s/state/update" % device_id, _base({"device": device}, "", now)))
        return out

    def unsynced(self) -> list[str]:
        """Devices with something the cloud has not been handed yet."""
        return [i for i, r in self.records.items() if r.unsynced() or not r.state_synced]


def _expected(t: Twin) -> str | None:
    return None if t.expected is None else t.expected.value


def _object_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    return "%s/%s" % (meta.get("namespace") or "default", name) if isinstance(name, str) and name else ""


def _base(body: dict[str, Any], event_id: str | None, now: int) -> dict[str, Any]:
    """KubeEdge's BaseMessage fields first; a fresh event id for messages DeviceTwin starts itself."""
    out: dict[str, Any] = {"event_id": str(uuid.uuid4()) if event_id is None else event_id, "timestamp": now}
    out.update(body)
    return out
