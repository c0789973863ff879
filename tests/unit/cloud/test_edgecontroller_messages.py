"""kedge.cloud.edgecontroller.messages: downstream messages as the issue 5 contract shapes them."""

from __future__ import annotations

import msgspec
import pytest

from kedge.cloud.cloudhub.hub import needs_ack
from kedge.cloud.edgecontroller.messages import (
    ADDED,
    DELETED,
    MODIFIED,
    encode,
    event_operation,
    object_message,
    object_resource,
    pod_delete,
    uid_of,
)
from kedge.model import constants as c
from kedge.model.codec import decode_content, decode_json, encode_json

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "prod", "uid": "u-1", "resourceVersion": "4821"},
    "spec": {"nodeName": "edge-1", "containers": [{"name": "app", "image": "nginx:1.27"}]},
}
NODE = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "edge-1", "uid": "n-1", "resourceVersion": "7"},
}


@pytest.mark.parametrize(
    ("rtype", "event", "op"),
    [
        (c.POD, ADDED, c.INSERT),
        (c.POD, MODIFIED, c.UPDATE),
        (c.POD, DELETED, c.DELETE),
        (c.CONFIGMAP, ADDED, c.INSERT),
        (c.CONFIGMAP, MODIFIED, c.UPDATE),
        (c.CONFIGMAP, DELETED, c.DELETE),
        (c.SECRET, ADDED, c.UPDATE),  # KubeEdge never inserts secrets
        (c.SECRET, MODIFIED, c.UPDATE),
        (c.SECRET, DELETED, c.DELETE),
        (c.NODE, ADDED, c.UPDATE),
        (c.NODE, MODIFIED, c.UPDATE),
        (c.NODE, DELETED, c.DELETE),
    ],
)
def test_operations_of_watch_events(rtype: str, event: str, op: str) -> None:
    assert event_operation(rtype, event) == op


@pytest.mark.parametrize(("rtype", "event"), [(c.POD, "BOOKMARK"), (c.SERVICE, ADDED), (c.POD, "SYNCED")])
def test_unknown_events_and_types_are_refused_by_name(rtype: str, event: str) -> None:
    with pytest.raises(ValueError, match="no downstream operation for %s event '%s'" % (rtype, event)):
        event_operation(rtype, event)


def test_resources_in_edge_form() -> None:
    assert object_resource(c.POD, POD) == "prod/pod/web"
    assert object_resource(c.NODE, NODE) == "null/node/edge-1"
    assert object_resource(c.CONFIGMAP, {"metadata": {"name": "x", "namespace": ""}}) == "null/configmap/x"


def test_a_pod_message_has_kubeedge_shape_and_ack_rules() -> None:
    msg = object_message(c.POD, c.INSERT, POD)
    assert msg.route.source == c.EDGECONTROLLER
    assert msg.route.group == c.GROUP_RESOURCE
    assert msg.route.operation == c.INSERT
    assert msg.route.resource == "prod/pod/web"
    assert msg.header.resourceversion == "4821"
    assert msg.header.msg_id and msg.header.timestamp > 0
    assert not msg.header.sync and not msg.header.parent_msg_id
    assert needs_ack(msg)  # CloudHub delivers it reliably
    assert uid_of(POD) == "u-1"
    # content is the object as raw JSON: it crosses the JSON lane unchanged
    assert type(msg.content) is msgspec.Raw
    assert decode_content(msg) == POD
    wire = decode_json(encode_json(msg))
    assert decode_content(wire) == POD
    assert wire.route == msg.route and wire.header == msg.header


def test_one_encoding_can_serve_many_messages() -> None:
    content = encode(NODE)
    a = object_message(c.NODE, c.UPDATE, NODE, content)
    b = object_message(c.NODE, c.UPDATE, NODE, content)
    assert a.content is b.content
    assert a.header.msg_id != b.header.msg_id  # each node acks its own message


def test_an_object_without_resource_version_gets_an_empty_header() -> None:
    msg = object_message(c.CONFIGMAP, c.DELETE, {"metadata": {"name": "x", "namespace": "d", "uid": "u"}})
    assert msg.header.resourceversion == ""
    assert msg.route.operation == c.DELETE


def test_pod_delete_for_an_unknown_pod() -> None:
    msg = pod_delete("prod", "web", "u-old")
    assert msg.route.operation == c.DELETE
    assert msg.route.resource == "prod/pod/web"
    assert msg.content == {"metadata": {"name": "web", "namespace": "prod", "uid": "u-old"}}
    assert needs_ack(msg)
