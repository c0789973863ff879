"""The node as Edged reports it: host facts, the Node object it registers, its status conditions, the status
patch and the Lease it renews (messages 1-3 of the issue 5 contract).

Shapes and texts follow the kubelet (nodestatus setters, nodelease controller) as KubeEdge runs it: labels
node-role.kubernetes.io/edge and .../agent, daemon endpoint 10350, kubeletVersion v1.32.10-kedge-<version>.
Time is passed in; nothing here reads the clock.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import msgspec

from kedge import __version__
from kedge.edge.edged.env import QuantityError, parse_quantity

__all__ = [
    "KUBELET_PORT",
    "KUBELET_VERSION",
    "LEASE_NAMESPACE",
    "HostFacts",
    "allocatable",
    "capacity",
    "format_quantity",
    "host_facts",
    "lease_object",
    "node_conditions",
    "node_object",
    "node_status",
    "node_status_patch",
    "rfc3339",
    "rfc3339_micro",
]

log = logging.getLogger(__name__)

KUBELET_PORT = 10350
KUBELET_VERSION = "v1.32.10-kedge-%s" % __version__
LEASE_NAMESPACE = "kube-node-lease"

# uname machine -> GOARCH, the value Kubernetes labels and nodeInfo use
_GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "loongarch64": "loong64",
}


@dataclass(slots=True)
class HostFacts:
    hostname: str
    node_ip: str
    cpu: int  # logical CPUs
    memory: int  # bytes (MemTotal)
    ephemeral_storage: int  # bytes of the filesystem holding the kubelet root directory
    pods: int
    architecture: str  # GOARCH: amd64, arm64, arm ...
    operating_system: str = "linux"
    kernel_version: str = ""
    os_image: str = ""
    machine_id: str = ""
    boot_id: str = ""
    system_uuid: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # further capacity entries, e.g. hugepages-2Mi


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def _meminfo_total(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                scale = 1024 if len(parts) < 3 or parts[2].lower() == "kb" else 1
                return int(parts[1]) * scale
    return 0


def _os_image(text: str) -> str:
    """PRETTY_NAME of /etc/os-release, as the kubelet (cadvisor) reports osImage."""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "PRETTY_NAME":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            return value
    return ""


def local_address_towards(host: str, port: int = 10000) -> str:
    """The local address the kernel picks to reach `host` (a UDP connect sends nothing); "" if none."""
    import socket  # only here: the rest of the module is pure

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        return ""
    for family, kind, proto, _canon, addr in infos:
        try:
            with socket.socket(family, kind, proto) as s:
                s.connect(addr)
                return str(s.getsockname()[0])
        except OSError:
            continue
    return ""


def host_facts(
    *,
    node_ip: str = "",
    cloud_host: str = "",
    cloud_port: int = 10000,
    storage_dir: str = "/var/lib/kubelet",
    max_pods: int = 110,
    hostname: str = "",
    proc: str = "/proc",
    etc: str = "/etc",
    sysfs: str = "/sys",
) -> HostFacts:
    """Read this host's facts. node_ip wins; else the address used to reach cloud_host; else 127.0.0.1.
    storage_dir is the kubelet root directory (ephemeral-storage = size of its filesystem; the nearest
    existing parent is used if it does not exist yet). proc/etc/sysfs let tests point at fixture trees."""
    uname = os.uname()
    ip = node_ip or (local_address_towards(cloud_host, cloud_port) if cloud_host else "")
    if not ip:
        ip = "127.0.0.1"
        log.warning("no node IP given and none found towards the cloud; reporting %s", ip)
    storage = 0
    probe = os.path.abspath(storage_dir)
    while True:
        try:
            st = os.statvfs(probe)
            storage = st.f_blocks * st.f_frsize
            break
        except OSError:
            parent = os.path.dirname(probe)
            if parent == probe:
                break
            probe = parent
    machine_id = _read(os.path.join(etc, "machine-id")) or _read("/var/lib/dbus/machine-id")
    return HostFacts(
        hostname=(hostname or uname.nodename).lower(),
        node_ip=ip,
        cpu=os.cpu_count() or 1,
        memory=_meminfo_total(_read(os.path.join(proc, "meminfo"))),
        ephemeral_storage=storage,
        pods=max_pods,
        architecture=_GOARCH.get(uname.machine.lower(), uname.machine.lower()),
        operating_system=uname.sysname.lower() or "linux",
        kernel_version=uname.release,
        os_image=_os_image(_read(os.path.join(etc, "os-release"))) or "Linux",
        machine_id=machine_id,
        boot_id=_read(os.path.join(proc, "sys/kernel/random/boot_id")),
        system_uuid=_read(os.path.join(sysfs, "class/dmi/id/product_uuid")).lower(),
    )


# -- quantities ---------------------------------------------------------------------------------------

_BINARY = (("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10))


def format_quantity(resource: str, value: Fraction | int) -> str:
    """Canonical text the kubelet shows: cpu in cores or millicores ("4", "3900m"), byte amounts with the
    largest binary suffix that divides them ("16318480Ki"), counts as plain integers."""
    if resource == "cpu":
        milli = math.ceil(Fraction(value) * 1000)
        return str(milli // 1000) if milli % 1000 == 0 else "%dm" % milli
    n = math.ceil(Fraction(value))
    if resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-"):
        for suffix, shift in _BINARY:
            if n and n % (1 << shift) == 0:
                return "%d%s" % (n >> shift, suffix)
    return str(n)


def capacity(facts: HostFacts) -> dict[str, str]:
    out = {
        "cpu": format_quantity("cpu", facts.cpu),
        "ephemeral-storage": format_quantity("ephemeral-storage", facts.ephemeral_storage),
        "memory": format_quantity("memory", facts.memory),
        "pods": str(facts.pods),
    }
    out.update(facts.extra)
    return out


def allocatable(
    cap: Mapping[str, str],
    *,
    reserved: Iterable[Mapping[str, str]] = (),
    eviction_hard: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """capacity - kubeReserved - systemReserved - hard eviction thresholds (memory.available,
    nodefs.available), never below zero: the kubelet's allocatable. Raises ValueError naming a bad entry."""
    values: dict[str, Fraction] = {}
    for name, raw in cap.items():
        values[name] = _quantity(raw, "capacity", name)
    for table in reserved:
        for name, raw in table.items():
            if name in values:
                values[name] -= _quantity(raw, "reserved", name)
    for signal, resource in (("memory.available", "memory"), ("nodefs.available", "ephemeral-storage")):
        raw = (eviction_hard or {}).get(signal)
        if raw is None or resource not in values:
            continue
        text = str(raw).strip()
        if text.endswith("%"):
            try:
                pct = Fraction(text[:-1])
            except ValueError:
                raise ValueError("evictionHard[%s]: %r is not a percentage" % (signal, raw)) from None
            values[resource] -= values[resource] * pct / 100
        else:
            values[resource] -= _quantity(raw, "evictionHard", signal)
    return {name: format_quantity(name, max(v, Fraction(0))) for name, v in values.items()}


def _quantity(raw: object, where: str, name: str) -> Fraction:
    try:
        return parse_quantity(raw)
    except QuantityError as e:
        raise ValueError("%s[%s]: %s" % (where, name, e)) from None


# -- time ---------------------------------------------------------------------------------------------


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def rfc3339(now: datetime) -> str:
    """metav1.Time: seconds, UTC, "Z"."""
    return _utc(now).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(now: datetime) -> str:
    """metav1.MicroTime: microseconds, UTC, "Z" (Lease renewTime)."""
    return _utc(now).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the Node -----------------------------------------------------------------------------------------

# type -> ((reason, message) when False, (reason, message) when True); the kubelet's texts
_PRESSURE = {
    "MemoryPressure": (
        ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    ),
    "DiskPressure": (
        ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    ),
    "PIDPressure": (
        ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
    ),
}


def node_conditions(
    now: datetime,
    *,
    ready: bool,
    reason: str = "",
    message: str = "",
    previous: Iterable[Mapping[str, Any]] | None = None,
    memory_pressure: bool = False,
    disk_pressure: bool = False,
    pid_pressure: bool = False,
) -> list[dict[str, Any]]:
    """MemoryPressure, DiskPressure, PIDPressure, Ready (the kubelet's order). lastHeartbeatTime = now;
    lastTransitionTime stays as in `previous` while the status is unchanged. reason/message override the
    Ready condition's defaults (KubeletReady "kubelet is posting ready status" / KubeletNotReady)."""
    prev = {str(c.get("type")): c for c in previous or () if isinstance(c, Mapping)}
    stamp = rfc3339(now)
    out: list[dict[str, Any]] = []
    flags = {"MemoryPressure": memory_pressure, "DiskPressure": disk_pressure, "PIDPressure": pid_pressure}
    for ctype, (when_false, when_true) in _PRESSURE.items():
        on = flags[ctype]
        out.append(_condition(ctype, on, *(when_true if on else when_false), stamp, prev.get(ctype)))
    if ready:
        r, m = reason or "KubeletReady", message or "kubelet is posting ready status"
    else:
        r, m = reason or "KubeletNotReady", message or "kubelet is not ready"
    out.append(_condition("Ready", ready, r, m, stamp, prev.get("Ready")))
    return out


def _condition(
    ctype: str, on: bool, reason: str, message: str, stamp: str, prev: Mapping[str, Any] | None
) -> dict[str, Any]:
    status = "True" if on else "False"
    since = stamp
    if prev is not None and prev.get("status") == status and prev.get("lastTransitionTime"):
        since = str(prev["lastTransitionTime"])
    return {
        "type": ctype,
        "status": status,
        "lastHeartbeatTime": stamp,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }


def node_status(
    facts: HostFacts,
    *,
    runtime_version: str = "",
    kubelet_version: str = KUBELET_VERSION,
    reserved: Iterable[Mapping[str, str]] = (),
    eviction_hard: Mapping[str, str] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    hostname: str = "",
) -> dict[str, Any]:
    """The Node's status: capacity, allocatable, addresses, daemonEndpoints, nodeInfo (+ conditions)."""
    cap = capacity(facts)
    status: dict[str, Any] = {
        "capacity": cap,
        "allocatable": allocatable(cap, reserved=reserved, eviction_hard=eviction_hard),
        "addresses": [
            {"type": "InternalIP", "address": facts.node_ip},
            {"type": "Hostname", "address": hostname or facts.hostname},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": facts.machine_id,
            "systemUUID": facts.system_uuid,
            "bootID": facts.boot_id,
            "kernelVersion": facts.kernel_version,
            "osImage": facts.os_image,
            "containerRuntimeVersion": runtime_version,
            "kubeletVersion": kubelet_version,
            "kubeProxyVersion": "",
            "operatingSystem": facts.operating_system,
            "architecture": facts.architecture,
        },
    }
    if conditions is not None:
        status["conditions"] = conditions
    return status


def node_object(
    name: str,
    facts: HostFacts,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    taints: Iterable[Mapping[str, Any]] | None = None,
    runtime_version: str = "",
    kubelet_version: str = KUBELET_VERSION,
    reserved: Iterable[Mapping[str, str]] = (),
    eviction_hard: Mapping[str, str] | None = None,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The Node Edged registers (contract item 1). The hostname label and address carry the node name,
    as KubeEdge sets hostnameOverride to it; `labels`/`annotations` are added over the defaults."""
    all_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": facts.operating_system,
        "kubernetes.io/arch": facts.architecture,
        "beta.kubernetes.io/os": facts.operating_system,
        "beta.kubernetes.io/arch": facts.architecture,
        "node-role.kubernetes.io/edge": "",
        "node-role.kubernetes.io/agent": "",
    }
    all_labels.update(labels or {})
    all_annotations = {"node.alpha.kubernetes.io/ttl": "0"}
    all_annotations.update(annotations or {})
    spec: dict[str, Any] = {}
    taint_list = [dict(t) for t in taints or ()]
    if taint_list:
        spec["taints"] = taint_list
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels, "annotations": all_annotations},
        "spec": spec,
        "status": node_status(
            facts,
            runtime_version=runtime_version,
            kubelet_version=kubelet_version,
            reserved=reserved,
            eviction_hard=eviction_hard,
            conditions=conditions,
            hostname=name,
        ),
    }


_encode = msgspec.json.Encoder().encode


def node_status_patch(status: Mapping[str, Any]) -> str:
    """Contract item 2's content: the JSON text '{"status":{...}}' (a strategic-merge patch)."""
    return _encode({"status": status}).decode()


def lease_object(
    node: str, now: datetime, duration_seconds: int, node_uid: str | None = None
) -> dict[str, Any]:
    """Contract item 3's content: the node's Lease in kube-node-lease, owned by the Node once its uid is
    known (as the kubelet's lease controller sets it)."""
    meta: dict[str, Any] = {"name": node, "namespace": LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": meta,
        "spec": {
            "holderIdentity": node,
            "leaseDurationSeconds": int(duration_seconds),
            "renewTime": rfc3339_micro(now),
        },
    }
