"""Node authorization for hub traffic: who a connection is, and what a node may say.

Identity: the verified client certificate's CN must be `system:node:<node_id>` for the node the
connection claims (header `node_id` / QUIC hello), else the connection is refused.

Messages: a node may only send messages about itself — its Node, node status and lease, the pods,
devices and objects the cloud gave it, and the creation of mirror pods named `<name>-<node>` for its
static pods — in the spirit of Kubernetes' Node authorizer. What the cloud
gave a node is known to the hub (`knows(resource)`, resource strings in the wire form `<ns>/<type>/<name>`),
so the check needs no API call per message.
"""

from __future__ import annotations

from collections.abc import Callable

from kedge.model import constants as c

NODE_CN_PREFIX = "system:node:"

#: Resource types whose object name is the node's own name.
NODE_SCOPED = frozenset((c.NODE, c.NODESTATUS, c.NODEPATCH, c.LEASE))
#: Types that name a pod (status and patches of a pod the node runs).
POD_TYPES = {c.POD: c.POD, c.PODSTATUS: c.POD, c.PODPATCH: c.POD}
#: Objects a node reads or is sent because its pods use them.
REFERENCED = frozenset(
    (c.CONFIGMAP, c.SECRET, c.SERVICEACCOUNTTOKEN, "persistentvolume", "persistentvolumeclaim",
     "volumeattachment", c.SERVICE, c.ENDPOINTS, c.DEVICE, c.DEVICEMODEL)
)  # fmt: skip
#: Types a node may always send (its own events; list queries are answered for its objects only).
ALWAYS = frozenset((c.EVENT, c.PODLIST, "certificatesigningrequest"))


def check_identity(cert_cn: str, node_id: str) -> str | None:
    """None if the certificate names this node; else the reason to refuse the connection."""
    if not node_id:
        return "the connection names no node (header node_id)"
    if cert_cn != NODE_CN_PREFIX + node_id:
        return "client certificate CN %r does not match node %r (want %r)" % (
            cert_cn,
            node_id,
            NODE_CN_PREFIX + node_id,
        )
    return None


def is_mirror_pod_name(name: str, node_id: str) -> bool:
    """Whether `name` is a name the kubelet of `node_id` gives mirror pods: `<static pod name>-<node>`."""
    return len(name) > len(node_id) + 1 and name.endswith("-" + node_id)


def authorize(
    node_id: str, operation: str, group: str, resource: str, knows: Callable[[str], bool]
) -> str | None:
    """None if node `node_id` may send this message; else why not."""
    if operation == c.KEEPALIVE or group == c.GROUP_USER:
        return None  # heartbeats; bus uploads go to the node-agnostic rule router
    if not resource:
        return "message has no resource"
    parts = resource.split("/")
    if parts[0] == c.DEVICE and len(parts) >= 3:  # device/<ns>/<name>/twin/edge_updated, .../state/update
        if knows("%s/%s/%s" % (parts[1], c.DEVICE, parts[2])):
            return None
        return "device %s/%s is not bound to node %s" % (parts[1], parts[2], node_id)
    if parts[0] == c.MEMBERSHIP:
        return None  # membership/detail: the node asks for its own device list
    if len(parts) < 2 or not parts[1]:
        return "resource %r is not <namespace>/<type>[/<name>]" % resource
    ns, rtype = parts[0], parts[1]
    name = parts[2] if len(parts) > 2 else ""
    if rtype in NODE_SCOPED:
        if name == node_id:
            return None
        return "node %s may not send %s about %r" % (node_id, rtype, name or "<all>")
    if rtype in ALWAYS:
        return None
    kind = POD_TYPES.get(rtype)
    if kind is not None:
        if name and knows("%s/%s/%s" % (ns, kind, name)):
            return None
        if rtype == c.POD and operation == c.INSERT and is_mirror_pod_name(name, node_id):
            return None  # the mirror pod of one of its static pods (the kubelet's name: <name>-<node>)
        return "pod %s/%s is not bound to node %s" % (ns, name, node_id)
    if rtype in REFERENCED:
        if name and knows(resource if len(parts) == 3 else "%s/%s/%s" % (ns, rtype, name)):
            return None
        return "%s %s/%s was not sent to node %s" % (rtype, ns, name, node_id)
    return "node %s may not send %s messages" % (node_id, rtype)
