"""The built-in resources: discovery names, verbs, subresources, schemas and `kubectl get` columns.

Names, short names, categories, verbs and columns are what kube-apiserver serves
(pkg/printers/internalversion/printers.go for the columns; the server always sends the wide columns,
with priority 1, and kubectl shows them for `-o wide`). Cells that kube computes in Go are computed
here the same way; see `kubectl get pods` STATUS for how much logic hides in one column.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kedge.apiserver import builtin_schemas as schemas
from kedge.apiserver.registry import CRD_GROUP, CellFunction, PrinterColumn, Registry, ResourceInfo
from kedge.apiserver.tables import format_label_selector, format_labels, parse_time, since

Obj = Mapping[str, Any]

_NAME_DOC = "Name must be unique within a namespace; it cannot be updated."
_AGE_DOC = "CreationTimestamp is a timestamp representing the server time when this object was created."
_NONE = "<none>"
_UNKNOWN = "<unknown>"


def _get(obj: Any, *path: str | int) -> Any:
    """obj[path...] or None, through dicts and lists."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(obj, list) or not -len(obj) <= key < len(obj):
                return None
        elif not isinstance(obj, Mapping):
            return None
        obj = obj[key] if isinstance(key, int) else obj.get(key)
        if obj is None:
            return None
    return obj


def _list(obj: Any, *path: str) -> list[Any]:
    value = _get(obj, *path)
    return value if isinstance(value, list) else []


def _age(obj: Obj, now: datetime) -> str:
    return since(_get(obj, "metadata", "creationTimestamp"), now)


def _column(
    name: str, compute: Any, description: str, *, type_: str = "string", priority: int = 0
) -> PrinterColumn:
    return PrinterColumn(name, type_, "", description, priority, "", compute)


_AGE = _column("Age", _age, _AGE_DOC)


def _containers_and_images(containers: list[Any]) -> tuple[str, str]:
    return (
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    )


# -- pods ----------------------------------------------------------------------------------------------


def _is_sidecar(container: Any) -> bool:
    return isinstance(container, Mapping) and container.get("restartPolicy") == "Always"


def _condition_true(conditions: list[Any], type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == "True" for c in conditions if isinstance(c, Mapping)
    )


def _later(a: datetime | None, b: Any) -> datetime | None:
    t = parse_time(b)
    if t is None:
        return a
    return t if a is None or t > a else a


def pod_summary(pod: Obj) -> tuple[int, int, str, int, datetime | None]:
    """(ready, total, status, restarts, last restart) as `kubectl get pods` computes them."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    conditions = _list(status, "conditions")
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for c in conditions:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = {c.get("name"): c for c in _list(spec, "initContainers") if isinstance(c, Mapping)}
    total = len(_list(spec, "containers")) + sum(1 for c in init_specs.values() if _is_sidecar(c))
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    init_statuses = _list(status, "initContainerStatuses")
    initializing = False
    for i, cs in enumerate(init_statuses):
        sidecar = _is_sidecar(init_specs.get(cs.get("name")))
        count = int(cs.get("restartCount") or 0)
        restarts += count
        finished = _get(cs, "lastState", "terminated", "finishedAt")
        last_restart = _later(last_restart, finished)
        if sidecar:
            sidecar_restarts += count
            last_sidecar_restart = _later(last_sidecar_restart, finished)
        terminated = _get(cs, "state", "terminated")
        waiting = _get(cs, "state", "waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = "Init:Signal:%d" % terminated["signal"]
            else:
                reason = "Init:ExitCode:%d" % int(terminated.get("exitCode") or 0)
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = "Init:%d/%d" % (i, len(init_specs))
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for cs in reversed(_list(status, "containerStatuses")):
            restarts += int(cs.get("restartCount") or 0)
            last_restart = _later(last_restart, _get(cs, "lastState", "terminated", "finishedAt"))
            waiting = _get(cs, "state", "waiting")
            terminated = _get(cs, "state", "terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                if terminated.get("signal"):
                    reason = "Signal:%d" % terminated["signal"]
                else:
                    reason = "ExitCode:%d" % int(terminated.get("exitCode") or 0)
            elif cs.get("ready") and _get(cs, "state", "running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    if _get(pod, "metadata", "deletionTimestamp") is not None:
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return ready, total, reason, restarts, last_restart


def _pod_ready(pod: Obj, now: datetime) -> str:
    ready, total, *_ = pod_summary(pod)
    return "%d/%d" % (ready, total)


def _pod_status(pod: Obj, now: datetime) -> str:
    return pod_summary(pod)[2]


def _pod_restarts(pod: Obj, now: datetime) -> str:
    _, _, _, restarts, last = pod_summary(pod)
    if restarts and last is not None:
        return "%d (%s ago)" % (restarts, since(last, now))
    return str(restarts)


def _pod_ip(pod: Obj, now: datetime) -> str:
    return _get(pod, "status", "podIPs", 0, "ip") or _get(pod, "status", "podIP") or _NONE


def _pod_node(pod: Obj, now: datetime) -> str:
    return _get(pod, "spec", "nodeName") or _NONE


def _pod_nominated_node(pod: Obj, now: datetime) -> str:
    return _get(pod, "status", "nominatedNodeName") or _NONE


def _pod_readiness_gates(pod: Obj, now: datetime) -> str:
    gates = _list(pod, "spec", "readinessGates")
    if not gates:
        return _NONE
    conditions = {c.get("type"): c.get("status") for c in _list(pod, "status", "conditions")}
    passed = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
    return "%d/%d" % (passed, len(gates))


def _pod_row_conditions(pod: Obj) -> list[dict[str, str]]:
    phase = _get(pod, "status", "phase")
    if phase == "Succeeded":
        return [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return []


# -- nodes ---------------------------------------------------------------------------------------------


def _node_status(node: Obj, now: datetime) -> str:
    states = []
    for condition in _list(node, "status", "conditions"):
        if condition.get("type") == "Ready":
            states = ["Ready" if condition.get("status") == "True" else "NotReady"]
    if not states:
        states = ["Unknown"]
    if _get(node, "spec", "unschedulable"):
        states.append("SchedulingDisabled")
    return ",".join(states)


def _node_roles(node: Obj, now: datetime) -> str:
    roles = set()
    for key, value in (_get(node, "metadata", "labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key != "node-role.kubernetes.io/":
            roles.add(key.removeprefix("node-role.kubernetes.io/"))
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or _NONE


def _node_address(kind: str) -> CellFunction:
    def cell(node: Obj, now: datetime) -> str:
        for address in _list(node, "status", "addresses"):
            if address.get("type") == kind:
                return str(address.get("address", ""))
        return _NONE

    return cell


def _node_info(key: str) -> CellFunction:
    def cell(node: Obj, now: datetime) -> str:
        return _get(node, "status", "nodeInfo", key) or _UNKNOWN

    return cell


# -- services, endpoints, deployments, events ----------------------------------------------------------


def _service_cluster_ip(svc: Obj, now: datetime) -> str:
    return _get(svc, "spec", "clusterIPs", 0) or _get(svc, "spec", "clusterIP") or _NONE


def _service_external_ip(svc: Obj, now: datetime) -> str:
    spec = svc.get("spec") or {}
    external = [str(ip) for ip in spec.get("externalIPs") or ()]
    type_ = spec.get("type") or "ClusterIP"
    if type_ in ("ClusterIP", "NodePort"):
        return ",".join(external) or _NONE
    if type_ == "LoadBalancer":
        ingress = sorted(
            {
                str(i.get("ip") or i.get("hostname"))
                for i in _list(svc, "status", "loadBalancer", "ingress")
                if i.get("ip") or i.get("hostname")
            }
        )
        return ",".join(ingress + external) or "<pending>"
    if type_ == "ExternalName":
        return str(spec.get("externalName", ""))
    return _UNKNOWN


def _service_ports(svc: Obj, now: datetime) -> str:
    pieces = []
    for port in _list(svc, "spec", "ports"):
        protocol = port.get("protocol") or "TCP"
        if port.get("nodePort"):
            pieces.append("%s:%s/%s" % (port.get("port"), port["nodePort"], protocol))
        else:
            pieces.append("%s/%s" % (port.get("port"), protocol))
    return ",".join(pieces) or _NONE


def _endpoints(ep: Obj, now: datetime) -> str:
    subsets = _list(ep, "subsets")
    if not subsets:
        return _NONE
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or ()]
        ports = subset.get("ports") or []
        for port in ports or [None]:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == 3:
                    break
                if port is None:
                    shown.append(ip)
                elif ":" in ip:
                    shown.append("[%s]:%s" % (ip, port.get("port")))
                else:
                    shown.append("%s:%s" % (ip, port.get("port")))
    text = ",".join(shown)
    return "%s + %d more..." % (text, count - 3) if count > 3 else text


def _deployment_ready(d: Obj, now: datetime) -> str:
    desired = _get(d, "spec", "replicas")
    return "%d/%d" % (int(_get(d, "status", "readyReplicas") or 0), 1 if desired is None else int(desired))


def _status_int(key: str) -> CellFunction:
    def cell(obj: Obj, now: datetime) -> int:
        return int(_get(obj, "status", key) or 0)

    return cell


def _template_containers(obj: Obj, now: datetime) -> str:
    return _containers_and_images(_list(obj, "spec", "template", "spec", "containers"))[0]


def _template_images(obj: Obj, now: datetime) -> str:
    return _containers_and_images(_list(obj, "spec", "template", "spec", "containers"))[1]


def _deployment_selector(d: Obj, now: datetime) -> str:
    return format_label_selector(_get(d, "spec", "selector"))


def _service_selector(svc: Obj, now: datetime) -> str:
    return format_labels(_get(svc, "spec", "selector"))


def _event_first_seen(ev: Obj, now: datetime) -> str:
    first = ev.get("firstTimestamp")
    return since(first if first else ev.get("eventTime"), now)


def _event_last_seen(ev: Obj, now: datetime) -> str:
    series_time = _get(ev, "series", "lastObservedTime")
    if ev.get("series") is not None:
        return since(series_time, now)
    last = ev.get("lastTimestamp")
    return since(last, now) if last else _event_first_seen(ev, now)


def _event_object(ev: Obj, now: datetime) -> str:
    kind = str(_get(ev, "involvedObject", "kind") or "").lower()
    name = _get(ev, "involvedObject", "name")
    return "%s/%s" % (kind, name) if name else kind


def _event_source(ev: Obj, now: datetime) -> str:
    component = _get(ev, "source", "component") or ev.get("reportingComponent") or ""
    host = _get(ev, "source", "host") or ev.get("reportingInstance") or ""
    return "%s, %s" % (component, host) if host else component


def _event_count(ev: Obj, now: datetime) -> int:
    if ev.get("series") is not None:
        return int(_get(ev, "series", "count") or 0)
    return int(ev.get("count") or 0) or 1


def _text(*path: str) -> CellFunction:
    def cell(obj: Obj, now: datetime) -> str:
        value = _get(obj, *path)
        return "" if value is None else str(value)

    return cell


def _name(obj: Obj, now: datetime) -> str:
    return str(_get(obj, "metadata", "name") or "")


def _created_at(obj: Obj, now: datetime) -> str:
    created = parse_time(_get(obj, "metadata", "creationTimestamp"))
    return created.strftime("%Y-%m-%dT%H:%M:%SZ") if created is not None else "0001-01-01T00:00:00Z"


# -- the resources -------------------------------------------------------------------------------------


def _schema(definition: str) -> Mapping[str, Any]:
    return schemas.inline(definition)


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="",
        version="v1",
        kind="Namespace",
        plural="namespaces",
        singular="namespace",
        namespaced=False,
        short_names=("ns",),
        subresources=frozenset({"status"}),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        printer_columns=(_column("Status", _text("status", "phase"), "The status of the namespace"), _AGE),
        schema=_schema(schemas.CORE + "Namespace"),
    ),
    ResourceInfo(
        group="",
        version="v1",
        kind="Pod",
        plural="pods",
        singular="pod",
        namespaced=True,
        short_names=("po",),
        categories=("all",),
        subresources=frozenset({"status", "binding"}),
        printer_columns=(
            _column("Ready", _pod_ready, "The aggregate readiness state of this pod for accepting traffic."),
            _column("Status", _pod_status, "The aggregate status of the containers in this pod."),
            _column(
                "Restarts",
                _pod_restarts,
                "The number of times the containers in this pod have been restarted and when the last "
                "container in this pod has restarted.",
            ),
            _AGE,
            _column("IP", _pod_ip, "podIP address allocated to the pod.", priority=1),
            _column("Node", _pod_node, "NodeName is the node the pod is scheduled onto.", priority=1),
            _column(
                "Nominated Node",
                _pod_nominated_node,
                "nominatedNodeName is the node the pod may run on once preemption there completes.",
                priority=1,
            ),
            _column(
                "Readiness Gates",
                _pod_readiness_gates,
                "Extra conditions evaluated for pod readiness.",
                priority=1,
            ),
        ),
        schema=_schema(schemas.CORE + "Pod"),
        row_conditions=_pod_row_conditions,
    ),
    ResourceInfo(
        group="",
        version="v1",
        kind="Node",
        plural="nodes",
        singular="node",
        namespaced=False,
        short_names=("no",),
        subresources=frozenset({"status"}),
        printer_columns=(
            _column("Status", _node_status, "The status of the node"),
            _column("Roles", _node_roles, "The roles of the node"),
            _AGE,
            _column("Version", _node_info("kubeletVersion"), "Version of the node agent."),
            _column(
                "Internal-IP", _node_address("InternalIP"), "Internal IP address of the node.", priority=1
            ),
            _column(
                "External-IP", _node_address("ExternalIP"), "External IP address of the node.", priority=1
            ),
            _column("OS-Image", _node_info("osImage"), "OS image reported by the node.", priority=1),
            _column(
                "Kernel-Version",
                _node_info("kernelVersion"),
                "Kernel version reported by the node.",
                priority=1,
            ),
            _column(
                "Container-Runtime",
                _node_info("containerRuntimeVersion"),
                "Container runtime version reported by the node.",
                priority=1,
            ),
        ),
        schema=_schema(schemas.CORE + "Node"),
    ),
    ResourceInfo(
        group="",
        version="v1",
        kind="ConfigMap",
        plural="configmaps",
        singular="configmap",
        namespaced=True,
        short_names=("cm",),
        printer_columns=(
            _column(
                "Data",
                lambda o, now: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                "Number of keys in data and binaryData.",
            ),
            _AGE,
        ),
        schema=_schema(schemas.CORE + "ConfigMap"),
    ),
    ResourceInfo(
        group="",
        version="v1",
        kind="Secret",
        plural="secrets",
        singular="secret",
        namespaced=True,
        printer_columns=(
            _column("Type", _text("type"), "Used to facilitate programmatic handling of secret data."),
            _column("Data", lambda o, now: len(o.get("data") or {}), "Number of keys in data."),
            _AGE,
        ),
        schema=_schema(schemas.CORE + "Secret"),
    ),
    ResourceInfo(
        group="",
        version="v1",
        kind="Service",
        plural="services",
        singular="service",
        namespaced=True,
        short_names=("svc",),
        categories=("all",),
        subresources=frozenset({"status"}),
        printer_columns=(
            _column("Type", _text("spec", "type"), "How the service is exposed."),
            _column("Cluster-IP", _service_cluster_ip, "Virtual IP address of the service."),
            _column(
                "External-IP", _service_external_ip, "Addresses outside the cluster the service answers on."
            ),
            _column("Port(s)", _service_ports, "The ports exposed by the service."),
            _AGE,
            _column("Selector", _service_selector, "Labels of the pods behind the service.", priority=1),
        ),
        schema=_schema(schemas.CORE + "Service"),
    ),
    ResourceInfo(
        group="",
        version="v1",
        kind="Endpoints",
        plural="endpoints",
        singular="endpoints",
        namespaced=True,
        short_names=("ep",),
        printer_columns=(_column("Endpoints", _endpoints, "The addresses and ports of the service."), _AGE),
        schema=_schema(schemas.CORE + "Endpoints"),
    ),
    ResourceInfo(
        group="",
        version="v1",
        kind="Event",
        plural="events",
        singular="event",
        namespaced=True,
        short_names=("ev",),
        printer_columns=(
            _column(
                "Last Seen", _event_last_seen, "The time at which the most recent occurrence was recorded."
            ),
            _column("Type", _text("type"), "Type of this event (Normal, Warning)."),
            _column("Reason", _text("reason"), "Short, machine understandable reason for the event."),
            _column("Object", _event_object, "The object that this event is about."),
            _column(
                "Subobject", _text("involvedObject", "fieldPath"), "Part of the object concerned.", priority=1
            ),
            _column("Source", _event_source, "The component reporting this event.", priority=1),
            _column(
                "Message", lambda o, now: str(o.get("message") or "").strip(), "A description of the event."
            ),
            _column("First Seen", _event_first_seen, "The time the event was first recorded.", priority=1),
            _column("Count", _event_count, "The number of times this event has occurred.", priority=1),
            PrinterColumn("Name", "string", "", _NAME_DOC, 1, "name", _name),
        ),
        schema=_schema(schemas.CORE + "Event"),
    ),
    ResourceInfo(
        group="",
        version="v1",
        kind="ServiceAccount",
        plural="serviceaccounts",
        singular="serviceaccount",
        namespaced=True,
        short_names=("sa",),
        printer_columns=(
            _column(
                "Secrets", lambda o, now: len(o.get("secrets") or ()), "Number of secrets of the account."
            ),
            _AGE,
        ),
        schema=_schema(schemas.CORE + "ServiceAccount"),
    ),
    ResourceInfo(
        group="apps",
        version="v1",
        kind="Deployment",
        plural="deployments",
        singular="deployment",
        namespaced=True,
        short_names=("deploy",),
        categories=("all",),
        subresources=frozenset({"status", "scale"}),
        printer_columns=(
            _column("Ready", _deployment_ready, "Number of the pod with ready state"),
            _column("Up-to-date", _status_int("updatedReplicas"), "Total number of updated pods."),
            _column("Available", _status_int("availableReplicas"), "Total number of available pods."),
            _AGE,
            _column(
                "Containers", _template_containers, "Names of each container in the template.", priority=1
            ),
            _column(
                "Images", _template_images, "Images referenced by each container in the template.", priority=1
            ),
            _column("Selector", _deployment_selector, "Label selector for pods.", priority=1),
        ),
        schema=_schema(schemas.APPS + "Deployment"),
    ),
    ResourceInfo(
        group="coordination.k8s.io",
        version="v1",
        kind="Lease",
        plural="leases",
        singular="lease",
        namespaced=True,
        printer_columns=(
            _column("Holder", _text("spec", "holderIdentity"), "Identity of the lease holder."),
            _AGE,
        ),
        schema=_schema(schemas.COORDINATION + "Lease"),
    ),
    ResourceInfo(
        group=CRD_GROUP,
        version="v1",
        kind="CustomResourceDefinition",
        plural="customresourcedefinitions",
        singular="customresourcedefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=frozenset({"status"}),
        printer_columns=(_column("Created At", _created_at, _AGE_DOC, type_="date"),),
        schema=_schema(schemas.APIEXT + "CustomResourceDefinition"),
    ),
)


def new_registry() -> Registry:
    """A registry serving the built-in resources and no CRDs yet."""
    return Registry(RESOURCES)
