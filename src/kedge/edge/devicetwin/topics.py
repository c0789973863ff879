"""KubeEdge's device MQTT topics (`edge/pkg/devicetwin/dtcommon`), with `<id>` = `<namespace>/<name>`.

`parse` names what a topic asks of DeviceTwin; the builders give the topics DeviceTwin publishes on.
"""

from __future__ import annotations

from typing import NamedTuple

DEVICE_PREFIX = "$hw/events/device/"
NODE_PREFIX = "$hw/events/node/"

#: requests DeviceTwin answers (the suffix after the device or node base)
TWIN_UPDATE = "twin/update"
TWIN_GET = "twin/get"
STATE_UPDATE = "state/update"
MEMBERSHIP_GET = "membership/get"
REQUESTS = frozenset((TWIN_UPDATE, TWIN_GET, STATE_UPDATE))


class Request(NamedTuple):
    """What a topic asks: `kind` is one of the request suffixes; `target` the device id or node name."""

    kind: str
    target: str


def parse(topic: str) -> Request | None:
    """The request a topic carries, or None for topics DeviceTwin does not answer (its own results,
    other suffixes). A device topic needs both namespace and name."""
    if topic.startswith(DEVICE_PREFIX):
        parts = topic[len(DEVICE_PREFIX) :].split("/")
        if len(parts) == 4 and parts[0] and parts[1]:
            suffix = parts[2] + "/" + parts[3]
            if suffix in REQUESTS:
                return Request(suffix, parts[0] + "/" + parts[1])
        return None
    if topic.startswith(NODE_PREFIX):
        node, _, suffix = topic[len(NODE_PREFIX) :].partition("/")
        if node and suffix == MEMBERSHIP_GET:
            return Request(MEMBERSHIP_GET, node)
    return None


def device_topic(device_id: str, suffix: str) -> str:
    return DEVICE_PREFIX + device_id + "/" + suffix


def node_topic(node: str, suffix: str) -> str:
    return NODE_PREFIX + node + "/" + suffix


def result_topic(request_topic: str) -> str:
    """Where the answer to a request goes (KubeEdge appends `/result`)."""
    return request_topic + "/result"
