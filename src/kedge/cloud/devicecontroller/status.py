"""Device status from edge reports (sans-IO): what the edge's twins and states become in a Device's
v1beta1 `status`, folded per device so a chatty device costs at most one API write per interval.

An edge report (`device/<ns>/<name>/twin/edge_updated`) carries the edge's twin JSON per property:
`actual` (the reported value) and `expected` (the desired value the edge holds). They become
`status.twins[]{propertyName, reported, observedDesired}` with KubeEdge's string metadata
(`timestamp` in ms, `type`). A state report (`.../state/update`) sets `status.state` and
`status.lastOnlineTime`. A JSON merge patch replaces lists whole, so the patch carries the full twin list:
the Device's current twins with the reported properties replaced, new ones appended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kedge.proto.coalesce import Coalescer

TWIN_SUFFIX = "/twin/edge_updated"
STATE_SUFFIX = "/state/update"


class ReportError(ValueError):
    """An edge report kedge cannot use; the message says what is wrong with it."""


@dataclass(slots=True)
class Pending:
    """What the edge reported for one device since its last status write (latest wins)."""

    twins: dict[str, dict[str, Any]] = field(default_factory=dict)  # property → status twin fields
    state: str | None = None
    last_online: str | None = None

    def merge(self, other: Pending) -> None:
        """Fold `other` (older, e.g. a write that failed) under this one."""
        for name, entry in other.twins.items():
            mine = self.twins.setdefault(name, {})
            for k, v in entry.items():
                mine.setdefault(k, v)
        if self.state is None:
            self.state = other.state
        if self.last_online is None:
            self.last_online = other.last_online


def parse_resource(resource: str) -> tuple[str, str, str]:
    """`device/<ns>/<name>/twin/edge_updated` or `.../state/update` → (namespace, name, suffix)."""
    for suffix in (TWIN_SUFFIX, STATE_SUFFIX):
        if resource.endswith(suffix):
            parts = resource[: -len(suffix)].split("/")
            if len(parts) == 3 and parts[0] == "device" and parts[1] and parts[2]:
                return parts[1], parts[2], suffix
    raise ReportError("%r is not device/<namespace>/<name>%s or %s" % (resource, TWIN_SUFFIX, STATE_SUFFIX))


def _value_entry(spec: Any, type_: str | None, what: str) -> dict[str, Any] | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("value"), str):
        raise ReportError("%s must be an object with a string value" % what)
    meta: dict[str, str] = {}
    src = spec.get("metadata")
    if isinstance(src, dict) and src.get("timestamp") is not None:
        meta["timestamp"] = str(src["timestamp"])
    if type_:
        meta["type"] = type_
    out: dict[str, Any] = {"value": spec["value"]}
    if meta:
        out["metadata"] = meta
    return out


def twin_fields(content: Any) -> dict[str, dict[str, Any]]:
    """The status twin fields (`reported`, `observedDesired`) of each property in an edge_updated report."""
    if not isinstance(content, dict) or not isinstance(content.get("twin"), dict):
        raise ReportError("a twin report needs a 'twin' object")
    out: dict[str, dict[str, Any]] = {}
    for name, twin in content["twin"].items():
        if not isinstance(twin, dict):
            raise ReportError("twin %r must be an object" % name)
        meta = twin.get("metadata")
        type_ = meta.get("type") if isinstance(meta, dict) and isinstance(meta.get("type"), str) else None
        entry: dict[str, Any] = {}
        reported = _value_entry(twin.get("actual"), type_, "twin %r actual" % name)
        if reported is not None:
            entry["reported"] = reported
        observed = _value_entry(twin.get("expected"), type_, "twin %r expected" % name)
        if observed is not None:
            entry["observedDesired"] = observed
        if entry:
            out[name] = entry
    return out


def state_fields(content: Any) -> tuple[str | None, str | None]:
    """(state, lastOnlineTime) of a state/update report."""
    device = content.get("device") if isinstance(content, dict) else None
    if not isinstance(device, dict):
        raise ReportError("a state report needs a 'device' object")
    state, last = device.get("state"), device.get("lastOnlineTime")
    if state is not None and not isinstance(state, str):
        raise ReportError("device.state must be a string")
    if last is not None and not isinstance(last, str):
        raise ReportError("device.lastOnlineTime must be a string")
    return state or None, last or None


def status_patch(current: Any, pending: Pending) -> dict[str, Any]:
    """The merge patch of the status subresource: `current` (the Device's status.twins) with the pending
    twins applied, and the pending state."""
    status: dict[str, Any] = {}
    if pending.twins:
        twins: list[dict[str, Any]] = []
        seen: set[str] = set()
        for t in current if isinstance(current, list) else ():
            if not isinstance(t, dict) or not isinstance(t.get("propertyName"), str):
                continue
            name = t["propertyName"]
            seen.add(name)
            update = pending.twins.get(name)
            twins.append({**t, **update} if update else t)
        for name, update in pending.twins.items():
            if name not in seen:
                twins.append({"propertyName": name, **update})
        status["twins"] = twins
    if pending.state is not None:
        status["state"] = pending.state
    if pending.last_online is not None:
        status["lastOnlineTime"] = pending.last_online
    return {"status": status}


class StatusBook:
    """Reports waiting to be written, per device id `<ns>/<name>`, and when each may be written."""

    def __init__(self, interval: float) -> None:
        self.coalescer: Coalescer[str] = Coalescer(interval)
        self.pending: dict[str, Pending] = {}

    def report(self, resource: str, content: Any, now: float) -> tuple[str, bool]:
        """Take one edge report; returns (device id, whether its write is due now). ReportError for a
        report kedge cannot use (nothing is kept from it)."""
        ns, name, suffix = parse_resource(resource)
        dev_id = ns + "/" + name
        if suffix == TWIN_SUFFIX:
            fields = twin_fields(content)
            p = self.pending.setdefault(dev_id, Pending())
            for prop, entry in fields.items():
                p.twins.setdefault(prop, {}).update(entry)
        else:
            state, last = state_fields(content)
            p = self.pending.setdefault(dev_id, Pending())
            if state is not None:
                p.state = state
            if last is not None:
                p.last_online = last
        return dev_id, self.coalescer.offer(dev_id, now)

    def take(self, dev_id: str) -> Pending | None:
        return self.pending.pop(dev_id, None)

    def restore(self, dev_id: str, pending: Pending) -> None:
        """A write failed: its reports wait again under anything newer."""
        newer = self.pending.get(dev_id)
        if newer is None:
            self.pending[dev_id] = pending
        else:
            newer.merge(pending)

    def due(self, now: float) -> list[str]:
        return [d for d in self.coalescer.due(now) if d in self.pending]

    def next_deadline(self) -> float | None:
        return self.coalescer.next_deadline()

    def forget(self, dev_id: str) -> None:
        self.pending.pop(dev_id, None)
        self.coalescer.forget(dev_id)
