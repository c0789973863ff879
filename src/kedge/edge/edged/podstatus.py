"""A pod's status from what the runtime shows (pure): phase, conditions, containerStatuses, QoS, and the
CrashLoopBackOff delay. Kubernetes' own rules (kubelet getPhase, status manager conditions), time passed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kedge.edge.edged.runtime.base import EXITED, RUNNING, ContainerInfo

#: kubelet's CrashLoopBackOff: 10 s doubling to 5 min; a container that ran 10 min resets it.
BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0

PENDING, RUNNING_PHASE, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"


def rfc3339(t: float) -> str:
    return dt.datetime.fromtimestamp(int(t), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def crash_backoff(restarts: int) -> float:
    """Delay before restart number `restarts` (1 = the first restart is immediate, as kubelet does)."""
    if restarts <= 1:
        return 0.0
    return min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (restarts - 2))


@dataclass(slots=True)
class ContainerView:
    """What Edged knows about one container of a pod."""

    name: str
    image: str
    current: ContainerInfo | None = None  # the latest attempt
    previous: ContainerInfo | None = None  # the attempt before it, when it terminated
    waiting_reason: str = (
        ""  # why it is not running (ContainerCreating, CrashLoopBackOff, ErrImageNeverPull...)
    )
    waiting_message: str = ""
    ready: bool = False
    restart_count: int = 0
    runtime_kind: str = "cri"


def _container_id(kind: str, info: ContainerInfo) -> str:
    return "%s://%s" % ("containerd" if kind == "cri" else kind, info.id)


def _terminated(kind: str, info: ContainerInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "exitCode": info.exit_code,
        "reason": info.reason or ("Completed" if info.exit_code == 0 else "Error"),
        "containerID": _container_id(kind, info),
    }
    if info.message:
        out["message"] = info.message
    if info.started_at:
        out["startedAt"] = rfc3339(info.started_at)
    if info.finished_at:
        out["finishedAt"] = rfc3339(info.finished_at)
    return out


def container_status(v: ContainerView) -> dict[str, Any]:
    cur = v.current
    st: dict[str, Any] = {
        "name": v.name,
        "image": v.image,
        "imageID": (cur.image_ref if cur is not None else "") or "",
        "ready": bool(v.ready and cur is not None and cur.state == RUNNING),
        "restartCount": v.restart_count,
        "started": bool(cur is not None and cur.state == RUNNING),
    }
    if v.waiting_reason:
        waiting: dict[str, Any] = {"reason": v.waiting_reason}
        if v.waiting_message:
            waiting["message"] = v.waiting_message
        st["state"] = {"waiting": waiting}
        last = cur if cur is not None and cur.state == EXITED else v.previous
    elif cur is not None and cur.state == RUNNING:
        st["state"] = {"running": {"startedAt": rfc3339(cur.started_at or cur.created_at)}}
        st["containerID"] = _container_id(v.runtime_kind, cur)
        last = v.previous
    elif cur is not None and cur.state == EXITED:
        st["state"] = {"terminated": _terminated(v.runtime_kind, cur)}
        st["containerID"] = _container_id(v.runtime_kind, cur)
        last = v.previous
    else:
        st["state"] = {"waiting": {"reason": "ContainerCreating"}}
        last = v.previous
    if last is not None and last.state == EXITED:
        st["lastState"] = {"terminated": _terminated(v.runtime_kind, last)}
    else:
        st["lastState"] = {}
    return st


def pod_phase(restart_policy: str, statuses: list[dict[str, Any]]) -> str:
    """kubelet's getPhase for regular containers."""
    running = waiting = stopped = succeeded = 0
    for st in statuses:
        state = st["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"]["exitCode"] == 0:
                succeeded += 1
        elif st.get("lastState", {}).get("terminated"):
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return PENDING
    if running:
        return RUNNING_PHASE
    if stopped:
        if restart_policy == "Always":
            return RUNNING_PHASE
        if succeeded == stopped:
            return SUCCEEDED
        if restart_policy == "OnFailure":
            return RUNNING_PHASE
        return FAILED
    return PENDING


def qos_class(pod: dict[str, Any]) -> str:
    """BestEffort (no requests/limits), Guaranteed (limits = requests for cpu and memory everywhere), else
    Burstable."""
    containers = (pod.get("spec") or {}).get("containers") or []
    any_set = False
    guaranteed = True
    for ctr in containers:
        res = ctr.get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        if limits or requests:
            any_set = True
        for r in ("cpu", "memory"):
            lim = limits.get(r)
            if lim is None or requests.get(r, lim) != lim:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _condition(type_: str, ok: bool, now: str, previous: dict[str, dict[str, Any]], reason: str = "") -> dict:
    status = "True" if ok else "False"
    prev = previous.get(type_)
    since = (
        prev["lastTransitionTime"]
        if prev and prev.get("status") == status and prev.get("lastTransitionTime")
        else now
    )
    cond: dict[str, Any] = {
        "type": type_,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }
    if reason and not ok:
        cond["reason"] = reason
    return cond


def pod_status(
    pod: dict[str, Any],
    views: list[ContainerView],
    *,
    sandbox_ready: bool,
    pod_ip: str,
    host_ip: str,
    now: float,
    previous: dict[str, Any] | None = None,
    reason: str = "",
    message: str = "",
    init_views: list[ContainerView] | tuple[()] = (),
    initialized: bool = True,
    init_failed: bool = False,
) -> dict[str, Any]:
    """The pod's status object. `reason`/`message` set a pod-level failure (then the phase is Failed);
    while init containers run the pod is Pending and not Initialized, and a failed one with
    restartPolicy Never fails the pod."""
    spec = pod.get("spec") or {}
    previous = previous or {}
    prev_conds = {cnd.get("type"): cnd for cnd in previous.get("conditions") or () if isinstance(cnd, dict)}
    statuses = [container_status(v) for v in views]
    init_statuses = [container_status(v) for v in init_views]
    for st in init_statuses:  # an init container is ready once it has completed
        st["ready"] = st["state"].get("terminated", {}).get("exitCode") == 0
    if reason or init_failed:
        phase = FAILED
    elif not initialized:
        phase = PENDING
    else:
        phase = pod_phase(spec.get("restartPolicy") or "Always", statuses)
    stamp = rfc3339(now)
    all_ready = bool(statuses) and all(st["ready"] for st in statuses)
    not_ready = [st["name"] for st in statuses if not st["ready"]]
    ready_reason = "PodCompleted" if phase in (SUCCEEDED, FAILED) else "ContainersNotReady"
    conditions = [
        _condition("PodReadyToStartContainers", sandbox_ready, stamp, prev_conds),
        _condition("Initialized", initialized, stamp, prev_conds, "ContainersNotInitialized"),
        _condition("Ready", all_ready and phase == RUNNING_PHASE, stamp, prev_conds, ready_reason),
        _condition("ContainersReady", all_ready, stamp, prev_conds, ready_reason),
        _condition("PodScheduled", True, stamp, prev_conds),
    ]
    if not initialized:
        pending = [st["name"] for st in init_statuses if not st["ready"]]
        conditions[1]["message"] = "containers with incomplete status: [%s]" % " ".join(pending)
    for cond in conditions[2:4]:
        if cond["status"] == "False" and not_ready and ready_reason == "ContainersNotReady":
            cond["message"] = "containers with unready status: [%s]" % " ".join(not_ready)
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}] if host_ip else [],
        "startTime": previous.get("startTime") or stamp,
        "containerStatuses": statuses,
        **({"initContainerStatuses": init_statuses} if init_statuses else {}),
        "qosClass": qos_class(pod),
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if reason:
        status["reason"] = reason
        status["message"] = message
    return status


def same_status(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    """Whether two statuses differ only in heartbeat-like fields (none for pods: compare all)."""
    return a == b


def status_applied(local: Any, cloud: Any) -> bool:
    """Whether the cloud's copy of a pod status already holds everything in `local`, the status this node
    reported (every field equal; a list element equal to some element of the cloud's list, as the API
    server's merge keeps elements by key; a null matches an absent field). The periodic full report sends
    only the statuses that fail this: resending every pod's unchanged status each period made 5,000 nodes
    started together write 28,000 statuses in one minute (kubelet, too, reconciles only what the API
    server's copy lacks)."""
    if isinstance(local, dict):
        # a null is an absent field to the API server (it stores `lastProbeTime: null` as nothing)
        return isinstance(cloud, dict) and all(
            cloud.get(k) is None if v is None else k in cloud and status_applied(v, cloud[k])
            for k, v in local.items()
        )
    if isinstance(local, list):
        return isinstance(cloud, list) and all(any(status_applied(v, w) for w in cloud) for v in local)
    return local == cloud and type(local) is type(cloud)
