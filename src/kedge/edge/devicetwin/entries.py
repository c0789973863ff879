"""What DeviceTwin knows about a device from the cloud's objects (pure).

A `devices.kubeedge.io/v1beta1` Device and its DeviceModel (both as the cloud sent them) become a
`DeviceInfo`: the model's property types and limits merged with the device's visitors, cycles and
desired values. `entry()` gives the device as mappers see it on the membership topics: KubeEdge's
`{id, name, description, state, last_online, twins}` plus the protocol and merged properties, so a
mapper needs nothing but MQTT (KubeEdge mappers ignore the extra keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kedge.edge.devicetwin.twins import TYPES, Twin

#: v1beta1 ModelProperty types twins check values against; STREAM (video) carries no twin value check
_TYPE_OF = {t.upper(): t for t in TYPES} | {"STREAM": "string"}
#: the cycles KubeEdge mappers use when a property names none (ns, as in the CRD)
DEFAULT_CYCLE_NS = 1_000_000_000


class DeviceSpecError(ValueError):
    """A Device or DeviceModel object DeviceTwin cannot use; the text names the field."""


@dataclass(slots=True)
class PropertyInfo:
    name: str
    type: str = "string"
    access_mode: str = "ReadWrite"
    minimum: str = ""
    maximum: str = ""
    unit: str = ""
    collect_cycle: int = DEFAULT_CYCLE_NS
    report_cycle: int = DEFAULT_CYCLE_NS
    report_to_cloud: bool = True
    visitors: dict[str, Any] | None = None
    desired: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "accessMode": self.access_mode,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "unit": self.unit,
            "collectCycle": self.collect_cycle,
            "reportCycle": self.report_cycle,
            "reportToCloud": self.report_to_cloud,
        }
        if self.visitors is not None:
            out["visitors"] = self.visitors
        return out


@dataclass(slots=True)
class DeviceInfo:
    id: str
    namespace: str
    name: str
    rv: int = 0
    model: str = ""
    description: str = ""
    protocol: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, PropertyInfo] = field(default_factory=dict)

    def desired(self) -> dict[str, dict[str, Any]]:
        """The cloud's desired values in `twins.cloud_update`'s form; the Device's resourceVersion is the
        version of each (monotonic per object, so a resend of an older Device is stale)."""
        return {
            p.name: {"value": p.desired, "type": p.type, "version": self.rv}
            for p in self.properties.values()
            if p.desired is not None
        }


def _dict(obj: Any, where: str) -> dict[str, Any]:
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise DeviceSpecError("%s must be an object, got %s" % (where, type(obj).__name__))
    return obj


def _text(v: Any) -> str:
    return "" if v is None else v if isinstance(v, str) else str(v)


def _cycle(v: Any, where: str) -> int:
    if v is None or v == 0:
        return DEFAULT_CYCLE_NS
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise DeviceSpecError("%s must be a positive integer of nanoseconds, got %r" % (where, v))
    return v


def model_properties(model: dict[str, Any] | None) -> dict[str, PropertyInfo]:
    if model is None:
        return {}
    spec = _dict(model.get("spec"), "DeviceModel spec")
    props = spec.get("properties") or []
    if not isinstance(props, list):
        raise DeviceSpecError("DeviceModel spec.properties must be a list")
    out: dict[str, PropertyInfo] = {}
    for i, p in enumerate(props):
        p = _dict(p, "DeviceModel spec.properties[%d]" % i)
        name = p.get("name")
        if not isinstance(name, str) or not name:
            raise DeviceSpecError("DeviceModel spec.properties[%d].name must be a non-empty string" % i)
        out[name] = PropertyInfo(
            name,
            type=_TYPE_OF.get(_text(p.get("type")).upper(), "string"),
            access_mode=_text(p.get("accessMode")) or "ReadWrite",
            minimum=_text(p.get("minimum")),
            maximum=_text(p.get("maximum")),
            unit=_text(p.get("unit")),
        )
    return out


def device_info(device: dict[str, Any], model: dict[str, Any] | None) -> DeviceInfo:
    """Merge a Device with its DeviceModel (None: not received yet; properties are then strings)."""
    meta = _dict(device.get("metadata"), "Device metadata")
    ns, name = meta.get("namespace") or "default", meta.get("name")
    if not isinstance(name, str) or not name:
        raise DeviceSpecError("Device metadata.name must be a non-empty string")
    spec = _dict(device.get("spec"), "Device spec")
    try:
        rv = int(meta.get("resourceVersion") or 0)
    except (TypeError, ValueError):
        raise DeviceSpecError("Device %s/%s: resourceVersion is not an integer" % (ns, name)) from None
    props = model_properties(model)
    listed = spec.get("properties") or []
    if not isinstance(listed, list):
        raise DeviceSpecError("Device %s/%s: spec.properties must be a list" % (ns, name))
    for i, p in enumerate(listed):
        where = "Device %s/%s spec.properties[%d]" % (ns, name, i)
        p = _dict(p, where)
        pname = p.get("name")
        if not isinstance(pname, str) or not pname:
            raise DeviceSpecError("%s.name must be a non-empty string" % where)
        info = props.get(pname) or PropertyInfo(pname)
        info.collect_cycle = _cycle(p.get("collectCycle"), where + ".collectCycle")
        info.report_cycle = _cycle(p.get("reportCycle"), where + ".reportCycle")
        info.report_to_cloud = p.get("reportToCloud") is not False
        visitors = p.get("visitors")
        info.visitors = _dict(visitors, where + ".visitors") if visitors is not None else None
        desired = p.get("desired")
        if desired is not None:
            value = _dict(desired, where + ".desired").get("value")
            info.desired = None if value is None else _text(value)
        props[pname] = info
    labels = _dict(meta.get("labels"), "Device metadata.labels")
    return DeviceInfo(
        id=ns + "/" + name,
        namespace=ns,
        name=name,
        rv=rv,
        model=_text(_dict(spec.get("deviceModelRef"), "Device spec.deviceModelRef").get("name")),
        description=_text(labels.get("description")),
        protocol=_dict(spec.get("protocol"), "Device spec.protocol"),
        properties=props,
    )


def entry(info: DeviceInfo, twins: dict[str, Twin], state: str, last_online: str) -> dict[str, Any]:
    """The device on the membership topics (KubeEdge's shape plus `protocol` and `properties`)."""
    return {
        "id": info.id,
        "name": info.name,
        "namespace": info.namespace,
        "description": info.description,
        "state": state,
        "last_online": last_online,
        "twins": {k: t.to_json() for k, t in twins.items()},
        "protocol": info.protocol,
        "properties": [p.to_json() for p in info.properties.values()],
    }
