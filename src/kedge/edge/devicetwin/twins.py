"""Device twins (pure): KubeEdge's expected/actual twin per property, with the ownership rules kedge
adopts (shared/reference/peers.md §3.5): the desired value (`expected`) belongs to the cloud and the
reported value (`actual`) to the edge, each with its own version pair `{cloud, edge}` as KubeEdge keeps
them, so cloud and edge writes never race on one counter.

- `edge_update` applies a `$hw/events/device/<id>/twin/update` payload from a mapper or app: actual values
  are taken (edge wins); an `actual_version` precondition older than the stored one is a 409; an unknown
  property is a 404 and a value of the wrong type a 400, and then nothing of the update is stored.
- `cloud_update` applies the desired values the cloud sends; a cloud version not newer than the stored one
  is stale and ignored (a resend, or an older message overtaken by a newer one).
- `delta` lists desired values that differ from the reported ones; `document` gives each changed
  property's last and current state (KubeEdge's `.../update/document`).
Time is passed in (milliseconds since the epoch). Payload shapes are KubeEdge's (`dttype/types.go`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: KubeEdge's limits on twin keys and values
MAX_KEY = 128
MAX_VALUE = 512

BAD_REQUEST, NOT_FOUND, CONFLICT = 400, 404, 409

#: property types (DeviceModel v1beta1) and how a string value is checked against them
TYPES = ("int", "float", "double", "string", "boolean", "bytes")


class TwinError(Exception):
    """A rejected update; `code` is the result code KubeEdge puts on the `/result` topic."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class Version:
    cloud: int = 0
    edge: int = 0

    def to_json(self) -> dict[str, int]:
        return {"cloud": self.cloud, "edge": self.edge}


@dataclass(slots=True)
class Value:
    value: str
    timestamp: int  # ms

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "metadata": {"timestamp": self.timestamp}}


@dataclass(slots=True)
class Twin:
    type: str = "string"
    optional: bool = True
    expected: Value | None = None
    actual: Value | None = None
    expected_version: Version = field(default_factory=Version)
    actual_version: Version = field(default_factory=Version)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "optional": self.optional,
            "metadata": {"type": self.type},
            "expected_version": self.expected_version.to_json(),
            "actual_version": self.actual_version.to_json(),
        }
        if self.expected is not None:
            out["expected"] = self.expected.to_json()
        if self.actual is not None:
            out["actual"] = self.actual.to_json()
        return out


def check_value(prop: str, type_: str, value: Any) -> str:
    """The value as the string KubeEdge stores, or TwinError 400 naming the property and the problem."""
    if not isinstance(value, str):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TwinError(
                BAD_REQUEST, "twin %s: value must be a string, got %s" % (prop, type(value).__name__)
            )
        value = ("%r" % value) if isinstance(value, float) else str(value)
    if len(value) > MAX_VALUE:
        raise TwinError(BAD_REQUEST, "twin %s: value is longer than %d characters" % (prop, MAX_VALUE))
    t = type_.lower()
    if t == "int":
        try:
            int(value, 10)
        except ValueError:
            raise TwinError(BAD_REQUEST, "twin %s: %r is not an int" % (prop, value)) from None
    elif t in ("float", "double"):
        try:
            f = float(value)
        except ValueError:
            raise TwinError(BAD_REQUEST, "twin %s: %r is not a %s" % (prop, value, t)) from None
        if not math.isfinite(f):
            raise TwinError(BAD_REQUEST, "twin %s: %r is not a finite %s" % (prop, value, t))
    elif t == "boolean" and value not in ("true", "false"):
        raise TwinError(BAD_REQUEST, "twin %s: %r is not a boolean (true or false)" % (prop, value))
    return value


def _value_of(prop: str, section: str, spec: Any) -> Any:
    if not isinstance(spec, dict) or "value" not in spec:
        raise TwinError(BAD_REQUEST, "twin %s: %s must be an object with a value" % (prop, section))
    return spec["value"]


def _twins_of(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise TwinError(BAD_REQUEST, "the message must be a JSON object")
    twins = payload.get("twin")
    if not isinstance(twins, dict) or not twins:
        raise TwinError(BAD_REQUEST, "the message has no twin object")
    for key in twins:
        if not key or len(key) > MAX_KEY:
            raise TwinError(BAD_REQUEST, "twin name %r must have 1 to %d characters" % (key, MAX_KEY))
    return twins


def edge_update(twins: dict[str, Twin], payload: Any, now: int) -> dict[str, Twin]:
    """Apply a mapper's/app's update to `twins` (all or nothing); returns the previous state of each
    changed property (for `document`)."""
    updates = _twins_of(payload)
    staged: list[tuple[str, str, dict[str, Any]]] = []
    for prop, spec in updates.items():
        twin = twins.get(prop)
        if twin is None:
            raise TwinError(NOT_FOUND, "the device has no property %r" % prop)
        if not isinstance(spec, dict):
            raise TwinError(BAD_REQUEST, "twin %s must be an object" % prop)
        if "actual" not in spec:
            # an expected value alone is an attempt to set the desired value, which the cloud owns; with an
            # actual value it is a mapper echoing what it observed (KubeEdge's DMI path) and is ignored
            if "expected" in spec:
                raise TwinError(
                    BAD_REQUEST, "twin %s: the desired (expected) value is set from the cloud" % prop
                )
            raise TwinError(BAD_REQUEST, "twin %s: no actual value" % prop)
        value = check_value(prop, twin.type, _value_of(prop, "actual", spec["actual"]))
        want = spec.get("actual_version")
        if (
            isinstance(want, dict)
            and isinstance(want.get("edge"), int)
            and want["edge"] < twin.actual_version.edge
        ):
            raise TwinError(
                CONFLICT,
                "twin %s: version %d is older than the stored %d"
                % (prop, want["edge"], twin.actual_version.edge),
            )
        staged.append((prop, value, spec))
    before: dict[str, Twin] = {}
    for prop, value, _ in staged:
        twin = twins[prop]
        if twin.actual is not None and twin.actual.value == value:
            continue
        before[prop] = _copy(twin)
        twin.actual = Value(value, now)
        twin.actual_version.edge += 1
    return before


def cloud_update(twins: dict[str, Twin], desired: dict[str, Any], now: int) -> dict[str, Twin]:
    """Apply the cloud's desired values `{prop: {"value", "type"?, "version"}}` (cloud wins); stale
    versions are skipped. Returns the previous state of each changed property."""
    before: dict[str, Twin] = {}
    for prop, spec in desired.items():
        if not isinstance(spec, dict):
            raise TwinError(BAD_REQUEST, "desired %s must be an object" % prop)
        twin = twins.get(prop)
        version = spec.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise TwinError(BAD_REQUEST, "desired %s: version must be an integer >= 0" % prop)
        if twin is None:
            type_ = str(spec.get("type") or "string").lower()
            if type_ not in TYPES:
                raise TwinError(BAD_REQUEST, "desired %s: unknown type %r" % (prop, type_))
            twin = Twin(type=type_)
        elif version <= twin.expected_version.cloud:
            continue  # stale: a resend, or overtaken by a newer desired value
        value = check_value(prop, twin.type, spec.get("value", ""))
        before[prop] = _copy(twin)
        twin.expected = Value(value, now)
        twin.expected_version.cloud = version
        twins[prop] = twin
    return before


def delta(twins: dict[str, Twin]) -> dict[str, str]:
    """Desired values the device does not report yet (published on `.../twin/update/delta`)."""
    return {
        prop: t.expected.value
        for prop, t in twins.items()
        if t.expected is not None and (t.actual is None or t.actual.value != t.expected.value)
    }


def document(twins: dict[str, Twin], before: dict[str, Twin]) -> dict[str, dict[str, Any]]:
    """`{prop: {"last": ..., "current": ...}}` for the changed properties (`.../twin/update/document`)."""
    return {prop: {"last": old.to_json(), "current": twins[prop].to_json()} for prop, old in before.items()}


def _copy(t: Twin) -> Twin:
    return Twin(
        t.type,
        t.optional,
        None if t.expected is None else Value(t.expected.value, t.expected.timestamp),
        None if t.actual is None else Value(t.actual.value, t.actual.timestamp),
        Version(t.expected_version.cloud, t.expected_version.edge),
        Version(t.actual_version.cloud, t.actual_version.edge),
    )
