"""Edge → cloud: what edge nodes ask of the Kubernetes API (issue 5 contract; KubeEdge
`controller/upstream.go`).

CloudHub authorized each message (a node speaks only about itself) and prefixed `node/<node>/`. Requests
are answered with `new_response(request, object)` or `new_error(request, reason)`, published to the node
without ack, with the request's edge-form resource:

  node insert (registration)   create the Node (or merge labels/annotations into it), then its status
  nodepatch patch              strategic-merge patch (JSON text) of the Node's status
  lease update|insert          renew the node's Lease in kube-node-lease, creating it when missing
  podpatch patch               strategic-merge patch (JSON text) of the pod's status; an unknown pod or
                               uid is an error, and the edge is told to delete that pod
  pod insert                   create the mirror pod of a static pod (`<name>-<node>`)
  configmap|secret query       the object, from the informer cache or the API
  pod delete (not answered)    the edge finished a pod: delete it with the edge's DeleteOptions

Bad content is answered with an error naming what is wrong; nothing here raises into the module.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from kedge.cloud.cloudhub.hub import CloudHub
from kedge.cloud.edgecontroller.downstream import Downstream
from kedge.cloud.edgecontroller.locations import Ref
from kedge.k8s.ops import KubeError, KubeOps
from kedge.model import constants as c
from kedge.model.codec import MessageDecodeError, decode_content
from kedge.model.message import Message, MessageRoute, new_error, new_response
from kedge.model.resource import Resource, ResourceError, parse_cloud

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
#: Delays between attempts of an unanswered request (pod delete) the API server failed transiently.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)

_json = msgspec.json.Decoder()

#: A request handler: (node, parsed resource, message) → the reply's content.
Handler = Callable[[str, Resource, Message], Awaitable[Any]]


class Rejected(Exception):
    """The request cannot be done; the text is the error reply."""


def json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__


def _content(msg: Message, what: str) -> Any:
    try:
        return decode_content(msg)
    except MessageDecodeError as e:
        raise Rejected("%s: %s" % (what, e)) from None


def json_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Rejected("%s: content must be a JSON object, got %s" % (what, json_type(value)))
    return value


def patch_object(value: Any, what: str) -> dict[str, Any]:
    """A patch the edge sent as JSON text (KubeEdge's podpatch/nodepatch content)."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if not isinstance(value, str):
        raise Rejected(
            "%s: content must be a JSON string holding the patch, got %s" % (what, json_type(value))
        )
    try:
        patch = _json.decode(value)
    except msgspec.DecodeError as e:
        raise Rejected("%s: the patch is not JSON: %s" % (what, e)) from None
    if not isinstance(patch, dict):
        raise Rejected("%s: the patch must be a JSON object, got %s" % (what, json_type(patch)))
    return patch


def _dict_field(obj: dict[str, Any], field: str, what: str) -> dict[str, Any]:
    value = obj.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejected("%s: %s must be an object, got %s" % (what, field, json_type(value)))
    return value


class Upstream:
    """Carries out upstream requests; `handle` may run concurrently for different objects."""

    def __init__(
        self,
        kube: KubeOps,
        hub: CloudHub,
        downstream: Downstream,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.kube = kube
        self.hub = hub
        self.downstream = downstream
        self.retry_delays = tuple(retry_delays)
        #: (resource type, operation) → (handler, answered)
        self.handlers: dict[tuple[str, str], tuple[Handler, bool]] = {
            (c.NODE, c.INSERT): (self.register_node, True),
            (c.NODEPATCH, c.PATCH): (self.patch_node_status, True),
            (c.LEASE, c.UPDATE): (self.renew_lease, True),
            (c.LEASE, c.INSERT): (self.renew_lease, True),
            (c.PODPATCH, c.PATCH): (self.patch_pod_status, True),
            (c.POD, c.INSERT): (self.create_mirror_pod, True),
            (c.POD, c.DELETE): (self.delete_pod, False),
            (c.CONFIGMAP, c.QUERY): (self.query, True),
            (c.SECRET, c.QUERY): (self.query, True),
        }
        self.stats = {"handled": 0, "errors": 0}

    async def handle(self, msg: Message) -> None:
        """Do what one upstream message (resource `node/<node>/...`) asks and answer it."""
        r = msg.route
        try:
            res = parse_cloud(r.resource)
        except ResourceError as e:
            node, _, wire = r.resource.removeprefix("node/").partition("/")
            self._fail(node, msg, wire, str(e), answered=msg.header.sync)
            return
        wire = res.wire
        entry = self.handlers.get((res.type, r.operation))
        if entry is None:
            self._fail(
                res.node,
                msg,
                wire,
                "edgecontroller does not handle %s of %s" % (r.operation, res.type),
                answered=msg.header.sync,
            )
            return
        handler, answered = entry
        answered = answered or msg.header.sync
        try:
            content = await handler(res.node, res, msg)
        except Rejected as e:
            self._fail(res.node, msg, wire, str(e), answered=answered)
            return
        except KubeError as e:
            self._fail(res.node, msg, wire, e.message, answered=answered)
            return
        except Exception as e:  # a bug must cost one answer, not the module
            log.exception("edgecontroller: %s %s from node %s failed", r.operation, wire, res.node)
            self._fail(
                res.node, msg, wire, "internal error: %s: %s" % (type(e).__name__, e), answered=answered
            )
            return
        self.stats["handled"] += 1
        if answered:
            self.hub.publish(res.node, new_response(_edge_form(msg, wire), content), ack=False)

    def _fail(self, node: str, msg: Message, wire: str, reason: str, *, answered: bool) -> None:
        self.stats["errors"] += 1
        r = msg.route
        log.warning("edgecontroller: %s %s from node %s: %s", r.operation, wire, node or "?", reason)
        if answered and node:
            self.hub.publish(node, new_error(_edge_form(msg, wire), reason), ack=False)

    # -- nodes -----------------------------------------------------------------------------------

    async def register_node(self, node: str, res: Resource, msg: Message) -> dict[str, Any]:
        what = "node registration of %s" % node
        body = json_object(_content(msg, what), what)
        meta = _dict_field(body, "metadata", what)
        name = meta.get("name", node)
        if name != node:
            raise Rejected("%s: the Node is named %r, not %r" % (what, name, node))
        labels = _dict_field(meta, "labels", what + ": metadata")
        annotations = _dict_field(meta, "annotations", what + ": metadata")
        status = _dict_field(body, "status", what)
        spec = _dict_field(body, "spec", what)
        create = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {**meta, "name": node},
            "spec": spec,
        }
        try:
            out = await self.kube.create_node(create)
        except KubeError as e:
            if not e.conflict:
                raise
            # registered before (an edge reinstalled, or restarted before the answer came): the edge's
            # labels and annotations win, the rest of the Node stays as the cluster has it
            merge = {k: v for k, v in (("labels", labels), ("annotations", annotations)) if v}
            out = await (
                self.kube.patch_node(node, {"metadata": merge}) if merge else self.kube.read_node(node)
            )
        if status:  # create ignores status: it is its own subresource
            out = await self.kube.patch_node_status(node, {"status": status})
        return out

    async def patch_node_status(self, node: str, res: Resource, msg: Message) -> dict[str, Any]:
        what = "nodepatch of %s" % node
        patch = patch_object(_content(msg, what), what)
        return await self.kube.patch_node_status(node, patch)

    async def renew_lease(self, node: str, res: Resource, msg: Message) -> dict[str, Any]:
        what = "lease of %s" % node
        if res.namespace != LEASE_NAMESPACE:
            raise Rejected("%s: node leases live in %s, not %s" % (what, LEASE_NAMESPACE, res.namespace))
        body = json_object(_content(msg, what), what)
        spec = body.get("spec")
        if not isinstance(spec, dict):
            raise Rejected("%s: spec must be an object, got %s" % (what, json_type(spec)))
        try:
            return await self.kube.patch_lease(LEASE_NAMESPACE, node, {"spec": spec})
        except KubeError as e:
            if not e.not_found:
                raise
        meta: dict[str, Any] = {"name": node, "namespace": LEASE_NAMESPACE}
        owner = await self._node_owner(node)
        if owner is not None:  # as the kubelet does: the lease goes when its Node goes
            meta["ownerReferences"] = [owner]
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}
        try:
            return await self.kube.create_lease(LEASE_NAMESPACE, lease)
        except KubeError as e:
            if not e.conflict:
                raise
        return await self.kube.patch_lease(LEASE_NAMESPACE, node, {"spec": spec})  # created meanwhile

    async def _node_owner(self, node: str) -> dict[str, Any] | None:
        obj = self.downstream.edge_node(node)
        if obj is None:
            try:
                obj = await self.kube.read_node(node)
            except KubeError as e:
                if not e.not_found:
                    raise
                return None
        return {"apiVersion": "v1", "kind": "Node", "name": node, "uid": obj["metadata"]["uid"]}

    # -- pods ------------------------------------------------------------------------------------

    async def patch_pod_status(self, node: str, res: Resource, msg: Message) -> dict[str, Any]:
        ns, name = res.namespace or "", res.name
        what = "podpatch of %s/%s" % (ns, name)
        patch = patch_object(_content(msg, what), what)
        meta = _dict_field(patch, "metadata", what)
        uid = meta.get("uid")
        if uid is None and name.endswith("-" + node):
            # a static pod's status: the edge knows its mirror pod by name only (the API chose its uid)
            pod = self.downstream.pod(ns, name) or await self.kube.read_pod(ns, name)
            if MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {}):
                uid = pod["metadata"]["uid"]
        if not isinstance(uid, str) or not uid:
            raise Rejected("%s: the patch must carry the pod's metadata.uid" % what)
        pod = self.downstream.pod(ns, name)
        if pod is None or pod["metadata"].get("uid") != uid:
            # the cache may lag behind the API server: only the API server may say the pod is gone
            try:
                pod = await self.kube.read_pod(ns, name)
            except KubeError as e:
                if not e.not_found:
                    raise
                pod = None
        if pod is None or pod["metadata"].get("uid") != uid:
            self.downstream.pod_gone(node, ns, name, uid)
            raise Rejected("pod %s/%s (uid %s) not found" % (ns, name, uid))
        bound = (pod.get("spec") or {}).get("nodeName")
        if bound != node:
            raise Rejected("pod %s/%s is bound to node %r, not %s" % (ns, name, bound or "", node))
        return await self.kube.patch_pod_status(ns, name, patch)

    async def delete_pod(self, node: str, res: Resource, msg: Message) -> None:
        ns, name = res.namespace or "", res.name
        what = "delete of pod %s/%s" % (ns, name)
        opts = json_object(_content(msg, what), what)
        grace = opts.get("gracePeriodSeconds")
        if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int) or grace < 0):
            raise Rejected("%s: gracePeriodSeconds must be an integer >= 0, got %r" % (what, grace))
        pre = _dict_field(opts, "preconditions", what)
        uid = pre.get("uid")
        if uid is not None and not isinstance(uid, str):
            raise Rejected("%s: preconditions.uid must be a string, got %s" % (what, json_type(uid)))
        pod = self.downstream.pod(ns, name)
        if pod is not None and (uid is None or pod["metadata"].get("uid") == uid):
            bound = (pod.get("spec") or {}).get("nodeName")
            if bound != node:
                raise Rejected("%s: the pod is bound to node %r, not %s" % (what, bound or "", node))
        for delay in (*self.retry_delays, None):
            try:
                await self.kube.delete_pod(ns, name, opts)
                return
            except KubeError as e:
                if e.not_found or e.conflict:  # gone, or only a newer pod of that name is left: done
                    log.debug("%s: %s", what, e.message)
                    return
                if delay is None or not e.transient:
                    raise
                log.info("%s failed (%s); retrying in %.1fs", what, e.message, delay)
                await asyncio.sleep(delay)

    async def create_mirror_pod(self, node: str, res: Resource, msg: Message) -> dict[str, Any]:
        ns, name = res.namespace or "", res.name
        what = "mirror pod %s/%s" % (ns, name)
        pod = json_object(_content(msg, what), what)
        meta = _dict_field(pod, "metadata", what)
        if meta.get("name", name) != name or meta.get("namespace", ns) != ns:
            raise Rejected(
                "%s: the pod is named %s/%s" % (what, meta.get("namespace", ns), meta.get("name", name))
            )
        if not name.endswith("-" + node):
            raise Rejected("%s: mirror pods of node %s are named <name>-%s" % (what, node, node))
        spec = _dict_field(pod, "spec", what)
        if spec.get("nodeName") != node:
            raise Rejected("%s: spec.nodeName must be %s, got %r" % (what, node, spec.get("nodeName")))
        if MIRROR_ANNOTATION not in _dict_field(meta, "annotations", what + ": metadata"):
            raise Rejected("%s: a mirror pod carries the annotation %s" % (what, MIRROR_ANNOTATION))
        body = {**pod, "metadata": {**meta, "name": name, "namespace": ns}}
        try:
            return await self.kube.create_pod(ns, body)
        except KubeError as e:
            if not e.conflict:
                raise
        return await self.kube.read_pod(ns, name)

    # -- queries ---------------------------------------------------------------------------------

    async def query(self, node: str, res: Resource, msg: Message) -> dict[str, Any]:
        ns, name = res.namespace, res.name
        if ns is None or not name:
            raise Rejected("query of %s: expected <namespace>/%s/<name>" % (res.wire, res.type))
        obj = self.downstream.ref_object(Ref(res.type, ns, name))
        if obj is not None:
            return obj
        read = self.kube.read_config_map if res.type == c.CONFIGMAP else self.kube.read_secret
        try:  # not cached (yet): the API server decides
            return await read(ns, name)
        except KubeError as e:
            if e.not_found:
                raise Rejected("%s %s/%s not found" % (res.type, ns, name)) from None
            raise


def _edge_form(msg: Message, wire: str) -> Message:
    r = msg.route
    return Message(msg.header, MessageRoute(r.source, r.destination, r.group, r.operation, wire), msg.content)
