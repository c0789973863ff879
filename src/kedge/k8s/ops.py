"""The Kubernetes API calls the cloud's EdgeController makes for its edge nodes, as plain dicts.

Every call asks kubernetes_asyncio for the raw response (`_preload_content=False`) and decodes it with
msgspec: typed models are slow to build and drop fields they do not know. A failure becomes `KubeError`
with the HTTP status and the API's own message (`nodes "n1" not found`), so callers above kedge.k8s never
see kubernetes_asyncio or aiohttp types.

Patches are dicts sent with an explicit content type: kubernetes_asyncio JSON-encodes any body it sends
with a JSON media type, so a patch that arrived as JSON text is decoded first (which also validates it)
and goes out as the same JSON object.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec
from kubernetes_asyncio import client

from kedge.k8s.informer import ListFunc

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
DEVICES_GROUP = "devices.kubeedge.io"
DEVICES_VERSION = "v1beta1"
RULES_GROUP = "rules.kubeedge.io"
RULES_VERSION = "v1"
#: (connect, read) seconds for one call; the API server answers writes well within this.
REQUEST_TIMEOUT = (10, 30)

_decoder = msgspec.json.Decoder()


class KubeError(Exception):
    """A failed API call: `status` is the HTTP status (0: no answer, e.g. connection refused), `reason` the
    Status reason (NotFound, AlreadyExists, Conflict...), `message` what the API server said."""

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def transient(self) -> bool:
        """Worth retrying: no answer, throttled, or a server-side failure."""
        return self.status == 0 or self.status == 429 or self.status >= 500


def _error(status: int, body: bytes) -> KubeError:
    try:
        st = _decoder.decode(body)
    except msgspec.DecodeError:
        st = None
    if isinstance(st, dict) and isinstance(st.get("message"), str):
        return KubeError(status, st["message"], str(st.get("reason") or ""))
    text = body[:300].decode(errors="replace").strip()
    return KubeError(status, text or "HTTP %d" % status)


async def _call(method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        resp = await method(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        try:
            body = await resp.read()
        finally:
            resp.release()
    except (TimeoutError, aiohttp.ClientError, OSError) as e:
        raise KubeError(0, "the API server did not answer: %s: %s" % (type(e).__name__, e)) from None
    if not 200 <= resp.status <= 299:
        raise _error(resp.status, body)
    try:
        obj = _decoder.decode(body)
    except msgspec.DecodeError as e:
        raise KubeError(resp.status, "the API server sent a malformed body: %s" % e) from None
    if not isinstance(obj, dict):
        raise KubeError(resp.status, "the API server sent a JSON %s, not an object" % type(obj).__name__)
    return obj


class KubeOps:
    """The calls, bound to one ApiClient."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.coordination = client.CoordinationV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    # -- informers ---------------------------------------------------------------------------------

    def lister(self, kind: str) -> ListFunc:
        """The all-namespaces list (and watch) function of `kind` for an Informer: nodes, pods,
        configmaps, secrets."""
        funcs: dict[str, ListFunc] = {
            "nodes": self.core.list_node,
            "pods": self.core.list_pod_for_all_namespaces,
            "configmaps": self.core.list_config_map_for_all_namespaces,
            "secrets": self.core.list_secret_for_all_namespaces,
        }
        try:
            return funcs[kind]
        except KeyError:
            raise ValueError("no lister for %r; known: %s" % (kind, ", ".join(funcs))) from None

    def device_lister(self, plural: str) -> ListFunc:
        """The all-namespaces list (and watch) of devices.kubeedge.io/v1beta1 `plural` (devices,
        devicemodels) for an Informer."""
        if plural not in ("devices", "devicemodels"):
            raise ValueError("no device lister for %r; known: devices, devicemodels" % plural)
        return self.custom_lister(DEVICES_GROUP, DEVICES_VERSION, plural)

    def rule_lister(self, plural: str) -> ListFunc:
        """The all-namespaces list (and watch) of rules.kubeedge.io/v1 `plural` (rules, ruleendpoints)."""
        if plural not in ("rules", "ruleendpoints"):
            raise ValueError("no rule lister for %r; known: rules, ruleendpoints" % plural)
        return self.custom_lister(RULES_GROUP, RULES_VERSION, plural)

    def custom_lister(self, group: str, version: str, plural: str) -> ListFunc:
        custom = self.custom

        async def list_objects(**kwargs: Any) -> Any:
            return await custom.list_cluster_custom_object(group, version, plural, **kwargs)

        list_objects.__name__ = "list_" + plural
        return list_objects

    async def patch_rule(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch of a Rule (its status counters: the CRD has no status subresource)."""
        return await _call(
            self.custom.patch_namespaced_custom_object,
            RULES_GROUP,
            RULES_VERSION,
            namespace,
            "rules",
            name,
            patch,
            _content_type=MERGE,
        )

    # -- devices -----------------------------------------------------------------------------------

    async def patch_device_status(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch of a Device's status subresource (v1beta1)."""
        return await _call(
            self.custom.patch_namespaced_custom_object_status,
            DEVICES_GROUP,
            DEVICES_VERSION,
            namespace,
            "devices",
            name,
            patch,
            _content_type=MERGE,
        )

    # -- nodes -------------------------------------------------------------------------------------

    async def read_node(self, name: str) -> dict[str, Any]:
        return await _call(self.core.read_node, name)

    async def create_node(self, body: dict[str, Any]) -> dict[str, Any]:
        return await _call(self.core.create_node, body)

    async def patch_node(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Strategic-merge patch of the node (metadata, spec)."""
        return await _call(self.core.patch_node, name, patch, _content_type=STRATEGIC_MERGE)

    async def patch_node_status(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Strategic-merge patch of the node's status subresource."""
        return await _call(self.core.patch_node_status, name, patch, _content_type=STRATEGIC_MERGE)

    # -- leases ------------------------------------------------------------------------------------

    async def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await _call(self.coordination.create_namespaced_lease, namespace, body)

    async def patch_lease(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch of a lease (one call per renewal: no read, no resourceVersion)."""
        return await _call(
            self.coordination.patch_namespaced_lease, name, namespace, patch, _content_type=MERGE
        )

    async def read_lease(self, namespace: str, name: str) -> dict[str, Any]:
        return await _call(self.coordination.read_namespaced_lease, name, namespace)

    # -- pods --------------------------------------------------------------------------------------

    async def read_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return await _call(self.core.read_namespaced_pod, name, namespace)

    async def create_pod(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await _call(self.core.create_namespaced_pod, namespace, body)

    async def patch_pod_status(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Strategic-merge patch of the pod's status subresource."""
        return await _call(
            self.core.patch_namespaced_pod_status, name, namespace, patch, _content_type=STRATEGIC_MERGE
        )

    async def delete_pod(self, namespace: str, name: str, options: dict[str, Any]) -> dict[str, Any]:
        """Delete with DeleteOptions (gracePeriodSeconds, preconditions...); returns what the API server
        answered (the pod, or a Status)."""
        return await _call(self.core.delete_namespaced_pod, name, namespace, body=options)

    # -- objects pods use --------------------------------------------------------------------------

    async def read_config_map(self, namespace: str, name: str) -> dict[str, Any]:
        return await _call(self.core.read_namespaced_config_map, name, namespace)

    async def read_secret(self, namespace: str, name: str) -> dict[str, Any]:
        return await _call(self.core.read_namespaced_secret, name, namespace)
