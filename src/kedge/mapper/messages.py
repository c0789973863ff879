"""KubeEdge's device MQTT topics and payloads, from the mapper's side (pure).

The edge's DeviceTwin answers on `$hw/events/node/<node>/membership/get/result`, announces device
changes on `.../membership/updated` and `$hw/events/device/<ns>/<name>/updated`, and sends desired
values on `.../twin/update/delta` and `.../twin/get/result`. The mapper publishes `twin/update`,
`state/update`, `twin/get` and `membership/get`. Times are milliseconds since the epoch.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from kedge.mapper.entries import DeviceEntry, EntryError, decode_entry, desired_of, device_id_of

DEVICE_PREFIX = "$hw/events/device/"
NODE_PREFIX = "$hw/events/node/"

# what the mapper hears
MEMBERSHIP_RESULT = "membership/get/result"
MEMBERSHIP_UPDATED = "membership/updated"
DELTA = "twin/update/delta"
GET_RESULT = "twin/get/result"
UPDATED = "updated"
_DEVICE_KINDS = (DELTA, GET_RESULT, UPDATED)

# what the mapper says
MEMBERSHIP_GET = "membership/get"
TWIN_GET = "twin/get"
TWIN_UPDATE = "twin/update"
STATE_UPDATE = "state/update"


class PayloadError(ValueError):
    """A message from the edge the mapper cannot use; the text says why."""


def device_topic(device_id: str, suffix: str) -> str:
    return DEVICE_PREFIX + device_id + "/" + suffix


def node_topic(node: str, suffix: str) -> str:
    return NODE_PREFIX + node + "/" + suffix


def subscriptions(node: str) -> list[tuple[str, int]]:
    """The topic filters a mapper for `node` subscribes to (QoS 1: a lost delta is a lost command)."""
    return [
        (node_topic(node, MEMBERSHIP_RESULT), 1),
        (node_topic(node, MEMBERSHIP_UPDATED), 1),
        (DEVICE_PREFIX + "+/+/" + DELTA, 1),
        (DEVICE_PREFIX + "+/+/" + GET_RESULT, 1),
        (DEVICE_PREFIX + "+/+/" + UPDATED, 1),
    ]


def parse_topic(topic: str, node: str) -> tuple[str, str] | None:
    """(kind, device id or node) of a topic the mapper handles, None for anything else."""
    if topic.startswith(DEVICE_PREFIX):
        parts = topic[len(DEVICE_PREFIX) :].split("/", 2)
        if len(parts) == 3 and parts[0] and parts[1] and parts[2] in _DEVICE_KINDS:
            return parts[2], parts[0] + "/" + parts[1]
        return None
    if topic.startswith(NODE_PREFIX):
        target, _, suffix = topic[len(NODE_PREFIX) :].partition("/")
        if target == node and suffix in (MEMBERSHIP_RESULT, MEMBERSHIP_UPDATED):
            return suffix, target
    return None


def decode(payload: bytes) -> dict[str, Any]:
    """The JSON object a message carries, or PayloadError."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise PayloadError("malformed JSON: %s" % e) from None
    if not isinstance(body, dict):
        raise PayloadError("expected a JSON object, got %s" % type(body).__name__)
    return body


def result_error(body: dict[str, Any]) -> str | None:
    """The edge's reason when a result is an error (`code` >= 300), else None."""
    code = body.get("code")
    if isinstance(code, int) and not isinstance(code, bool) and code >= 300:
        return "the edge answered %d: %s" % (code, body.get("reason") or "no reason given")
    return None


def event_id_of(body: dict[str, Any]) -> str:
    ev = body.get("event_id")
    return ev if isinstance(ev, str) else ""


@dataclass(slots=True)
class Membership:
    """Devices from a membership message: the full list (get/result) or the changes (updated)."""

    devices: list[DeviceEntry] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # entries skipped, each naming why


def _entries(items: Any, key: str, out: Membership) -> None:
    if items is None:
        return
    if not isinstance(items, list):
        out.errors.append("%s must be a list, got %s" % (key, type(items).__name__))
        return
    for item in items:
        try:
            out.devices.append(decode_entry(item))
        except EntryError as e:
            out.errors.append(str(e))


def membership_result(body: dict[str, Any]) -> Membership:
    out = Membership()
    if "devices" not in body:
        raise PayloadError("membership result without devices")
    _entries(body["devices"], "devices", out)
    return out


def membership_updated(body: dict[str, Any]) -> Membership:
    out = Membership()
    _entries(body.get("added_devices"), "added_devices", out)
    removed = body.get("removed_devices")
    for item in removed if isinstance(removed, list) else []:
        if isinstance(item, dict):
            try:
                out.removed.append(device_id_of(item))
            except EntryError as e:
                out.errors.append(str(e))
    return out


def updated_device(body: dict[str, Any]) -> DeviceEntry:
    try:
        return decode_entry(body.get("device"))
    except EntryError as e:
        raise PayloadError(str(e)) from None


def delta_values(body: dict[str, Any]) -> dict[str, str]:
    """The desired values a delta asks for ({property: value}, values as strings)."""
    delta = body.get("delta")
    if not isinstance(delta, dict):
        raise PayloadError("delta without a delta object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in delta.items() if v is not None}


def get_result_desired(body: dict[str, Any]) -> dict[str, str]:
    """The desired values in a twin/get result."""
    twins = body.get("twin")
    if not isinstance(twins, dict):
        raise PayloadError("twin/get result without a twin object")
    return desired_of(twins)


def new_event_id() -> str:
    return str(uuid.uuid4())


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def request(event_id: str, now_ms: int) -> bytes:
    """membership/get and twin/get."""
    return _encode({"event_id": event_id, "timestamp": now_ms})


def twin_update(values: dict[str, tuple[str, str]], now_ms: int, event_id: str | None = None) -> bytes:
    """A twin/update reporting {property: (value, type)} as the actual values."""
    twin = {
        name: {"actual": {"value": value}, "metadata": {"type": type_}}
        for name, (value, type_) in values.items()
    }
    return _encode({"event_id": event_id or new_event_id(), "timestamp": now_ms, "twin": twin})


def state_update(state: str, now_ms: int) -> bytes:
    return _encode({"event_id": new_event_id(), "timestamp": now_ms, "state": state})
