"""Server-side object handling: metadata on create and update, and defaulting of the built-in kinds.

Defaults are the ones kube-apiserver fills in (pkg/apis/*/v1/defaults.go) for the fields clients read
back: kubectl's output and controllers rely on them being present.
"""

import copy
import ipaddress
import random
import time
import uuid
from typing import Any

import msgspec

from kedge.apiserver import nodelifecycle
from kedge.apiserver.errors import ApiError
from kedge.apiserver.registry import ResourceInfo

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's generateName alphabet (no vowels)
_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")
#: The ClusterIP range services are given addresses from (kube's default service CIDR).
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def rfc3339(now: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))


def generated_name(prefix: str, rng: random.Random | None = None) -> str:
    r = rng or random
    return prefix + "".join(r.choice(_NAME_CHARS) for _ in range(5))


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def json_copy(obj: Any) -> Any:
    """A deep copy of a JSON value through msgspec: several times faster than copy.deepcopy on the
    objects a write copies (every patch copies the live object before patching it)."""
    return _decode(_encode(obj))


def metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    elif not isinstance(meta, dict):
        raise ApiError.bad_request("metadata must be an object, got %s" % type(meta).__name__)
    return meta


def check_type(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """The body's apiVersion/kind, when given, must be the endpoint's (kube answers 400 otherwise)."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version not in (None, "") and api_version != info.api_version:
        raise ApiError.bad_request(
            "the API version in the data (%s) does not match the expected API version (%s)"
            % (api_version, info.api_version)
        )
    if kind not in (None, "") and kind != info.kind:
        raise ApiError.bad_request(
            "the kind in the data (%s) does not match the expected kind (%s)" % (kind, info.kind)
        )
    obj["apiVersion"] = info.api_version
    obj["kind"] = info.kind


def check_namespace(info: ResourceInfo, meta: dict[str, Any], namespace: str) -> None:
    if not info.namespaced:
        meta.pop("namespace", None)
        return
    given = meta.get("namespace")
    if given and given != namespace:
        raise ApiError.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    meta["namespace"] = namespace


def prepare_create(info: ResourceInfo, obj: dict[str, Any], namespace: str, *, now: float) -> dict[str, Any]:
    """Fill server-owned metadata of a new object (the name must already be set)."""
    check_type(info, obj)
    meta = metadata(obj)
    check_namespace(info, meta, namespace)
    for key in ("resourceVersion", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(key, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = rfc3339(now)
    if "spec" in obj or info.crd:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    return obj


def prepare_update(
    info: ResourceInfo, old: dict[str, Any], new: dict[str, Any], *, subresource: str = ""
) -> dict[str, Any]:
    """Carry server-owned fields from the stored object into an update; the status subresource and the
    main resource each change only their own part, as kube-apiserver's strategies do."""
    check_type(info, new)
    old_meta, meta = old["metadata"], metadata(new)
    if meta.get("name", old_meta["name"]) != old_meta["name"]:
        raise ApiError.bad_request(
            "the name of the object (%s) does not match the name on the URL (%s)"
            % (meta["name"], old_meta["name"])
        )
    if info.namespaced and meta.get("namespace", old_meta["namespace"]) != old_meta["namespace"]:
        raise ApiError.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    if subresource == "status":
        # Only status changes; metadata other than what kube lets status writers touch stays.
        updated = copy.copy(old)
        updated["status"] = new.get("status", {})
        updated["metadata"] = dict(old_meta)
        return updated
    meta["name"] = old_meta["name"]
    if info.namespaced:
        meta["namespace"] = old_meta["namespace"]
    for key in _SERVER_META:
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if "status" in info.subresources:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    if "generation" in old_meta and _spec_changed(old, new):
        meta["generation"] = old_meta["generation"] + 1
    return new


def set_generation(old: dict[str, Any], new: dict[str, Any]) -> None:
    """generation as prepare_update sets it, judged again on the stored forms of a converted object (a
    conversion moves fields into or out of spec, e.g. a v1alpha2 Device's desired values)."""
    gen = old["metadata"].get("generation")
    if gen is not None:
        new["metadata"]["generation"] = gen + 1 if _spec_changed(old, new) else gen


def _spec_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    for key in set(old) | set(new):
        if key not in ("metadata", "status", "apiVersion", "kind") and old.get(key) != new.get(key):
            return True
    return False


def same_content(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when an update would change nothing (kube then writes nothing and bumps no revision)."""
    if old.keys() != new.keys():
        return False
    for key, value in new.items():
        if key == "metadata":
            a = {k: v for k, v in old["metadata"].items() if k != "resourceVersion"}
            b = {k: v for k, v in value.items() if k != "resourceVersion"}
            if a != b:
                return False
        elif old[key] != value:
            return False
    return True


# -- defaulting of built-in kinds ------------------------------------------------------------------


def apply_defaults(info: ResourceInfo, obj: dict[str, Any]) -> None:
    fn = _DEFAULTERS.get((info.group, info.kind))
    if fn is not None:
        fn(obj)


def _default_container(c: dict[str, Any]) -> None:
    image = c.get("image") or ""
    if "imagePullPolicy" not in c:
        tagless = "@" not in image and ":" not in image.rsplit("/", 1)[-1]
        c["imagePullPolicy"] = "Always" if tagless or image.endswith(":latest") else "IfNotPresent"
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    res = c["resources"]
    if isinstance(res, dict) and isinstance(res.get("limits"), dict):
        # A limit without a request defaults the request to the limit.
        requests = res.setdefault("requests", {})
        for name, value in res["limits"].items():
            requests.setdefault(name, value)


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or ():
            if isinstance(c, dict):
                _default_container(c)


def _qos_class(spec: dict[str, Any]) -> str:
    containers = [
        c for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) if isinstance(c, dict)
    ]
    requests_or_limits = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            requests_or_limits = True
        for name in ("cpu", "memory"):
            if name not in lim or req.get(name, lim.get(name)) != lim.get(name):
                guaranteed = False
    if not requests_or_limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _default_pod(pod: dict[str, Any]) -> None:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    default_pod_spec(spec)
    # Admission rather than defaulting in kube, but applied at the same point of every write.
    nodelifecycle.admit_pod_tolerations(pod)
    status = pod.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("phase", "Pending")
        status.setdefault("qosClass", _qos_class(spec))


def _default_service(svc: dict[str, Any]) -> None:
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    svc.setdefault("status", {"loadBalancer": {}})


def _default_namespace(ns: dict[str, Any]) -> None:
    meta = metadata(ns)
    labels = meta.setdefault("labels", {})
    if isinstance(labels, dict) and meta.get("name"):
        labels["kubernetes.io/metadata.name"] = meta["name"]
    spec = ns.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("finalizers", ["kubernetes"])
    status = ns.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("phase", "Active")


def _default_secret(secret: dict[str, Any]) -> None:
    secret.setdefault("type", "Opaque")


def _default_deployment(dep: dict[str, Any]) -> None:
    spec = dep.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"])


def _default_crd(crd: dict[str, Any]) -> None:
    spec = crd.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("conversion", {"strategy": "None"})


_DEFAULTERS = {
    ("", "Pod"): _default_pod,
    ("", "Service"): _default_service,
    ("", "Namespace"): _default_namespace,
    ("", "Secret"): _default_secret,
    ("apps", "Deployment"): _default_deployment,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _default_crd,
}


def allocate_cluster_ip(used: set[str], rng: random.Random | None = None) -> str:
    """A free address in SERVICE_CIDR (first and last addresses are never handed out)."""
    r = rng or random
    size = SERVICE_CIDR.num_addresses
    for _ in range(64):
        ip = str(SERVICE_CIDR[r.randrange(2, size - 1)])
        if ip not in used:
            return ip
    for i in range(2, size - 1):  # nearly full: walk it
        ip = str(SERVICE_CIDR[i])
        if ip not in used:
            return ip
    raise ApiError.internal("failed to allocate a serviceIP: range is full")
