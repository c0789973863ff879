"""Devices as the edge's DeviceTwin describes them on the membership topics (pure).

A device entry is KubeEdge's `{id, name, description, state, last_online, twins}` plus kedge's
`namespace`, `protocol{protocolName, configData}` and `properties[]` (the DeviceModel property merged
with the Device's visitors and cycles). An entry from an edge that sends no `properties` (KubeEdge's
own) still works: its properties are then the twins, read-write, typed by the twin metadata.

`DeviceEntry` equality covers what the device *is* (protocol, properties), not its live state: the
desired values travel along (`desired`) but do not make two entries differ, so a membership refresh
that only carries new twin values leaves a running device worker alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: the cycle KubeEdge mappers use when a property names none (the CRD counts nanoseconds)
DEFAULT_CYCLE_NS = 1_000_000_000
READ_ONLY = "ReadOnly"


class EntryError(ValueError):
    """A device entry the mapper cannot use; the text names the device and the field."""


@dataclass(frozen=True, slots=True)
class PropertyEntry:
    name: str
    type: str = "string"
    access_mode: str = "ReadWrite"
    collect_cycle: float = 1.0  # seconds
    report_cycle: float = 1.0
    report_to_cloud: bool = True
    minimum: str = ""
    maximum: str = ""
    unit: str = ""
    visitors: dict[str, Any] = field(default_factory=dict)

    @property
    def writable(self) -> bool:
        return self.access_mode != READ_ONLY

    @property
    def visitor_config(self) -> dict[str, Any]:
        """`visitors.configData` (the protocol-specific part: register, offset, ...)."""
        data = self.visitors.get("configData")
        return data if isinstance(data, dict) else {}


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    id: str  # "<namespace>/<name>"
    name: str
    namespace: str
    protocol_name: str = ""
    config_data: dict[str, Any] = field(default_factory=dict)
    properties: tuple[PropertyEntry, ...] = ()
    desired: dict[str, str] = field(default_factory=dict, compare=False)

    def prop(self, name: str) -> PropertyEntry | None:
        for p in self.properties:
            if p.name == name:
                return p
        return None


def _str(v: Any) -> str:
    return "" if v is None else v if isinstance(v, str) else str(v)


def _cycle(v: Any, where: str) -> float:
    if v is None or v == 0:
        return DEFAULT_CYCLE_NS / 1e9
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise EntryError("%s must be a positive number of nanoseconds, got %r" % (where, v))
    return v / 1e9


def _obj(v: Any, where: str) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise EntryError("%s must be an object, got %s" % (where, type(v).__name__))
    return v


def _twin_value(twin: Any, section: str) -> str | None:
    if not isinstance(twin, dict):
        return None
    part = twin.get(section)
    if not isinstance(part, dict) or part.get("value") is None:
        return None
    return _str(part["value"])


def _twin_type(twin: Any) -> str:
    meta = twin.get("metadata") if isinstance(twin, dict) else None
    t = meta.get("type") if isinstance(meta, dict) else None
    return t.lower() if isinstance(t, str) and t else "string"


def device_id_of(entry: dict[str, Any]) -> str:
    """`<namespace>/<name>`: the entry's id when it has both parts, else built from namespace and name."""
    raw = entry.get("id")
    name = entry.get("name")
    if isinstance(raw, str) and raw.count("/") == 1 and all(raw.split("/")):
        return raw
    base = name if isinstance(name, str) and name else raw if isinstance(raw, str) else ""
    if not base or "/" in base:
        raise EntryError("device entry without a usable id or name: id=%r name=%r" % (raw, name))
    ns = entry.get("namespace")
    return "%s/%s" % (ns if isinstance(ns, str) and ns else "default", base)


def decode_entry(entry: Any) -> DeviceEntry:
    """A device entry from the membership topics, or EntryError naming what is wrong."""
    if not isinstance(entry, dict):
        raise EntryError("a device entry must be an object, got %s" % type(entry).__name__)
    dev_id = device_id_of(entry)
    ns, name = dev_id.split("/")
    where = "device %s" % dev_id
    twins = _obj(entry.get("twins"), where + " twins")
    protocol = _obj(entry.get("protocol"), where + " protocol")
    listed = entry.get("properties")
    props: list[PropertyEntry] = []
    if listed is None:
        props = [PropertyEntry(n, type=_twin_type(t)) for n, t in twins.items()]
    elif not isinstance(listed, list):
        raise EntryError("%s: properties must be a list" % where)
    else:
        seen: set[str] = set()
        for i, p in enumerate(listed):
            pw = "%s properties[%d]" % (where, i)
            p = _obj(p, pw)
            pname = p.get("name")
            if not isinstance(pname, str) or not pname:
                raise EntryError("%s.name must be a non-empty string" % pw)
            if pname in seen:
                raise EntryError("%s: property %s is listed twice" % (where, pname))
            seen.add(pname)
            ptype = _str(p.get("type")).lower() or _twin_type(twins.get(pname))
            props.append(
                PropertyEntry(
                    pname,
                    type=ptype,
                    access_mode=_str(p.get("accessMode")) or "ReadWrite",
                    collect_cycle=_cycle(p.get("collectCycle"), pw + ".collectCycle"),
                    report_cycle=_cycle(p.get("reportCycle"), pw + ".reportCycle"),
                    report_to_cloud=p.get("reportToCloud") is not False,
                    minimum=_str(p.get("minimum")),
                    maximum=_str(p.get("maximum")),
                    unit=_str(p.get("unit")),
                    visitors=_obj(p.get("visitors"), pw + ".visitors"),
                )
            )
    desired = {n: v for n, t in twins.items() if (v := _twin_value(t, "expected")) is not None}
    return DeviceEntry(
        id=dev_id,
        name=name,
        namespace=ns,
        protocol_name=_str(protocol.get("protocolName")),
        config_data=_obj(protocol.get("configData"), where + " protocol.configData"),
        properties=tuple(props),
        desired=desired,
    )


def desired_of(twins: Any) -> dict[str, str]:
    """The expected (desired) values of a `twin` map (twin/get result, delta's full twins)."""
    if not isinstance(twins, dict):
        return {}
    return {n: v for n, t in twins.items() if (v := _twin_value(t, "expected")) is not None}
