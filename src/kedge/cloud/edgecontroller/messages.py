"""Downstream messages built from Kubernetes objects (issue 5 contract; KubeEdge `controller/downstream.go`).

Source `edgecontroller`, group `resource`, resource `<ns>/<type>/<name>` in the edge's form (`null` for
cluster-scoped objects), header.resourceversion = the object's RV, content = the object as raw JSON
(encoded once, forwarded by CloudHub and stored by the edge without re-encoding). CloudHub keys each
message by the object's uid.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kedge.model import constants as c
from kedge.model.codec import raw_json
from kedge.model.message import Message, new_message
from kedge.model.resource import build_wire

#: Watch event types (Kubernetes' names, as kedge.k8s.informer reports them).
ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

#: Operation of each watch event, per resource type. Secrets and nodes are never "insert" (KubeEdge).
_OPERATIONS: dict[str, dict[str, str]] = {
    c.POD: {ADDED: c.INSERT, MODIFIED: c.UPDATE, DELETED: c.DELETE},
    c.CONFIGMAP: {ADDED: c.INSERT, MODIFIED: c.UPDATE, DELETED: c.DELETE},
    c.SECRET: {ADDED: c.UPDATE, MODIFIED: c.UPDATE, DELETED: c.DELETE},
    c.NODE: {ADDED: c.UPDATE, MODIFIED: c.UPDATE, DELETED: c.DELETE},
}


def event_operation(rtype: str, event: str) -> str:
    """The operation a watch event of a `rtype` object is sent with."""
    try:
        return _OPERATIONS[rtype][event]
    except KeyError:
        raise ValueError("no downstream operation for %s event %r" % (rtype, event)) from None


def uid_of(obj: dict[str, Any]) -> str:
    return obj["metadata"]["uid"]


def object_resource(rtype: str, obj: dict[str, Any]) -> str:
    """`<ns>/<type>/<name>` of an object; `null/<type>/<name>` when it has no namespace."""
    meta = obj["metadata"]
    return build_wire(meta.get("namespace") or None, rtype, meta["name"])


def encode(obj: dict[str, Any]) -> msgspec.Raw:
    """The object as JSON, once: one encoding serves every node the object goes to."""
    return raw_json(obj)


def object_message(
    rtype: str, operation: str, obj: dict[str, Any], content: msgspec.Raw | None = None
) -> Message:
    """A downstream message carrying `obj` (pass `content` = `encode(obj)` to share one encoding)."""
    return new_message(
        source=c.EDGECONTROLLER,
        group=c.GROUP_RESOURCE,
        operation=operation,
        resource=object_resource(rtype, obj),
        resourceversion=str(obj["metadata"].get("resourceVersion") or ""),
        content=content if content is not None else encode(obj),
    )


def pod_delete(namespace: str, name: str, uid: str) -> Message:
    """A pod delete for a pod the cloud no longer has (KubeEdge answers status of unknown pods so)."""
    return new_message(
        source=c.EDGECONTROLLER,
        group=c.GROUP_RESOURCE,
        operation=c.DELETE,
        resource=build_wire(namespace, c.POD, name),
        content={"metadata": {"name": name, "namespace": namespace, "uid": uid}},
    )
