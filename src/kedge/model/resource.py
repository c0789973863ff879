"""Resource strings of beehive messages.

Cloud-internal form (between cloud modules and CloudHub): `node/<node>/<ns>/<type>[/<name>]`.
Wire form (what the edge sees; CloudHub strips `node/<node>/`): `<ns>/<type>[/<name>]`.
Cluster-scoped objects use the namespace literal `null`. The name part may contain '/'.
Other resources (`node/<node>/membership`, `membership/detail`, `rule/<name>`) pass through
`to_wire`/`to_cloud` untouched apart from the node prefix.
"""

from typing import NamedTuple

from kedge.model.constants import NULL_NAMESPACE

_NODE_PREFIX = "node/"


class ResourceError(ValueError):
    """A resource string that does not have the expected form; the message shows it."""


class Resource(NamedTuple):
    namespace: str | None  # None for cluster-scoped (`null` on the wire)
    type: str
    name: str = ""
    node: str = ""

    @property
    def wire(self) -> str:
        return build_wire(self.namespace, self.type, self.name)

    def cloud(self, node: str | None = None) -> str:
        return build_cloud(node if node is not None else self.node, self.namespace, self.type, self.name)


def _ns(namespace: str | None) -> str:
    return namespace if namespace else NULL_NAMESPACE


def _check_segment(what: str, value: str, resource: str) -> None:
    if not value:
        raise ResourceError("resource %r: empty %s" % (resource, what))
    if "/" in value:
        raise ResourceError("resource %r: %s %r contains '/'" % (resource, what, value))


def build_wire(namespace: str | None, type: str, name: str = "") -> str:
    """`<ns>/<type>[/<name>]`; an empty or None namespace becomes `null`."""
    if name:
        return "%s/%s/%s" % (_ns(namespace), type, name)
    return "%s/%s" % (_ns(namespace), type)


def build_cloud(node: str, namespace: str | None, type: str, name: str = "") -> str:
    """`node/<node>/<ns>/<type>[/<name>]`."""
    if not node or "/" in node:
        raise ResourceError("node name %r must be non-empty and contain no '/'" % (node,))
    return _NODE_PREFIX + node + "/" + build_wire(namespace, type, name)


def parse_wire(resource: str) -> Resource:
    """Split `<ns>/<type>[/<name>]`; namespace `null` becomes None."""
    parts = resource.split("/", 2)
    if len(parts) < 2:
        raise ResourceError("resource %r: expected <namespace>/<type>[/<name>]" % (resource,))
    ns, typ = parts[0], parts[1]
    _check_segment("namespace", ns, resource)
    _check_segment("type", typ, resource)
    name = parts[2] if len(parts) == 3 else ""
    return Resource(None if ns == NULL_NAMESPACE else ns, typ, name)


def parse_cloud(resource: str) -> Resource:
    """Split `node/<node>/<ns>/<type>[/<name>]`."""
    node, wire = split_node(resource)
    r = parse_wire(wire)
    return r._replace(node=node)


def split_node(resource: str) -> tuple[str, str]:
    """`node/<node>/<rest>` -> (node, rest)."""
    if not resource.startswith(_NODE_PREFIX):
        raise ResourceError("resource %r: expected node/<node>/..." % (resource,))
    end = resource.find("/", 5)
    if end <= 5 or end == len(resource) - 1:
        raise ResourceError("resource %r: expected node/<node>/<rest>" % (resource,))
    return resource[5:end], resource[end + 1 :]


def to_wire(resource: str) -> str:
    """Strip the `node/<node>/` prefix (CloudHub, cloud -> edge)."""
    return split_node(resource)[1]


def to_cloud(node: str, resource: str) -> str:
    """Add the `node/<node>/` prefix (CloudHub, edge -> cloud)."""
    if not node or "/" in node:
        raise ResourceError("node name %r must be non-empty and contain no '/'" % (node,))
    return _NODE_PREFIX + node + "/" + resource
