"""Node lifecycle: what kube-controller-manager's node lifecycle and taint-eviction controllers decide,
as functions of the objects and the time (`now`: Unix seconds or an aware datetime), without I/O.

- Health. A node is alive while its Lease in kube-node-lease (named after the node) is renewed or the
  heartbeat of its Ready condition changes. As in kube, the controller remembers *when it saw* the last
  change, on its own clock (`Health`): an edge node whose clock is off is judged by the cloud's clock.
  Silent for longer than the grace period, the node's Ready and pressure conditions become Unknown.
- Taints. Ready=False: `node.kubernetes.io/not-ready`; Ready=Unknown: `node.kubernetes.io/unreachable`;
  each as NoSchedule and as NoExecute (the latter with timeAdded). Ready=True: neither.
- Eviction. A pod on a node with NoExecute taints goes when it does not tolerate one of them, or when
  the shortest tolerationSeconds of the tolerations it uses has passed since the taint was added (or
  since the pod was created, when that is later). A toleration without tolerationSeconds keeps the pod.
- Admission. DefaultTolerationSeconds (tolerate not-ready and unreachable for 300 s) and KubeEdge's
  offline-migration mutation: a pod labelled `app-offline.kubeedge.io=autonomy` tolerates unreachable
  for ever, so an edge node going offline does not get its pods evicted in the cloud.

Not modelled: kube's zone disruption modes (rate-limited tainting, no evictions when every node of a
zone is down) and the events kube records for evictions.
"""

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kedge.apiserver.scheduling import TAINT_NOT_READY, TAINT_UNREACHABLE, tolerates

NOEXECUTE = "NoExecute"
NOSCHEDULE = "NoSchedule"
LEASE_NAMESPACE = "kube-node-lease"
#: DefaultTolerationSeconds admission plugin: how long pods tolerate a not-ready/unreachable node.
DEFAULT_TOLERATION_SECONDS = 300
#: KubeEdge's offline-migration webhook acts on pods with this label.
AUTONOMY_LABEL = "app-offline.kubeedge.io"
AUTONOMY_VALUE = "autonomy"

REASON_UNKNOWN = "NodeStatusUnknown"
MESSAGE_UNKNOWN = "Kubelet stopped posting node status."
REASON_NEVER_UPDATED = "NodeStatusNeverUpdated"
MESSAGE_NEVER_UPDATED = "Kubelet never posted node status."
#: Conditions that become Unknown when a node goes silent (NetworkUnavailable is not the kubelet's).
SILENT_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
DISRUPTION_REASON = "DeletionByTaintManager"
DISRUPTION_MESSAGE = "Taint manager: deleting due to NoExecute taint"

Time = float | datetime


@dataclass(frozen=True, slots=True)
class NodeLifecycleSettings:
    """kube-controller-manager's --node-monitor-period, --node-monitor-grace-period and
    --node-startup-grace-period, in seconds."""

    monitor_period: float = 5.0
    grace_period: float = 40.0
    startup_grace_period: float = 60.0

    def __post_init__(self) -> None:
        for name in ("monitor_period", "grace_period", "startup_grace_period"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
                raise ValueError(
                    "node lifecycle %s must be a positive number of seconds, got %r" % (name, value)
                )


@dataclass(frozen=True, slots=True)
class Health:
    """What the controller last saw of a node. probe: when (controller clock) it last saw the node
    alive; heartbeat: Ready's lastHeartbeatTime then (None: no Ready condition); renew: the lease's
    renewTime then (None: no lease)."""

    probe: float
    heartbeat: str | None
    renew: float | None


@dataclass(frozen=True, slots=True)
class NodeDecision:
    """health: remember for the next pass; conditions / taints: the node's new status.conditions /
    spec.taints, or None when they stay as they are."""

    health: Health
    conditions: list[dict[str, Any]] | None
    taints: list[dict[str, Any]] | None


# -- time ----------------------------------------------------------------------------------------


def epoch(now: Time) -> float:
    if isinstance(now, datetime):
        return (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()
    return float(now)


def parse_time(value: Any) -> float | None:
    """An RFC 3339 time (metav1.Time or MicroTime) as Unix seconds; None when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return epoch(parsed)


def rfc3339(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


# -- node health ---------------------------------------------------------------------------------


def condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(c, Mapping) and c.get("type") == type_:
            return c
    return None


def ready_status(node: Mapping[str, Any]) -> str | None:
    """The node's Ready condition status ("True", "False", "Unknown"), None without one."""
    ready = condition(node, "Ready")
    return None if ready is None else str(ready.get("status") or "Unknown")


def observe(
    prior: Health | None, node: Mapping[str, Any], lease: Mapping[str, Any] | None, now: Time
) -> Health:
    """Update what is known of a node: a changed Ready heartbeat or a renewed lease counts as alive now.
    First sight counts as alive now too (kube: the grace period starts when the controller starts),
    except for a node that never posted status, which counts from its creation."""
    t = epoch(now)
    ready = condition(node, "Ready")
    heartbeat = None if ready is None else str(ready.get("lastHeartbeatTime") or "")
    renew = parse_time((lease.get("spec") or {}).get("renewTime")) if lease is not None else None
    if prior is None:
        created = parse_time((node.get("metadata") or {}).get("creationTimestamp"))
        probe = t if ready is not None or created is None else min(created, t)
    elif heartbeat is not None and heartbeat != prior.heartbeat:
        probe = t
    else:
        probe = prior.probe
    if renew is not None and (prior is None or prior.renew is None or renew > prior.renew):
        probe = t
    elif renew is None and prior is not None:
        renew = prior.renew  # a lease that went away does not make the node newer or older
    return Health(probe, heartbeat, renew)


def is_silent(health: Health, node: Mapping[str, Any], now: Time, settings: NodeLifecycleSettings) -> bool:
    """No sign of life for longer than the grace period (the startup grace for a node that never
    posted status)."""
    grace = settings.grace_period if condition(node, "Ready") is not None else settings.startup_grace_period
    return epoch(now) > health.probe + grace


def silent_conditions(node: Mapping[str, Any], now: Time) -> list[dict[str, Any]] | None:
    """The node's conditions with Ready and the pressure conditions set to Unknown, as kube writes them
    for a node that stopped posting status; None when they already are."""
    t = rfc3339(epoch(now))
    conditions = [
        dict(c) for c in (node.get("status") or {}).get("conditions") or () if isinstance(c, Mapping)
    ]
    created = (node.get("metadata") or {}).get("creationTimestamp")
    changed = False
    for type_ in SILENT_CONDITIONS:
        current = next((c for c in conditions if c.get("type") == type_), None)
        if current is None:
            conditions.append(
                {
                    "type": type_,
                    "status": "Unknown",
                    "lastHeartbeatTime": created,
                    "lastTransitionTime": t,
                    "reason": REASON_NEVER_UPDATED,
                    "message": MESSAGE_NEVER_UPDATED,
                }
            )
            changed = True
        elif current.get("status") != "Unknown":
            current.update(
                status="Unknown", reason=REASON_UNKNOWN, message=MESSAGE_UNKNOWN, lastTransitionTime=t
            )
            changed = True
    return conditions if changed else None


def lifecycle_taints(node: Mapping[str, Any], now: Time) -> list[dict[str, Any]] | None:
    """The node's taints with not-ready/unreachable made to follow its Ready condition; None when they
    already do. Without a Ready condition nothing is decided (kube waits until it is Unknown)."""
    status = ready_status(node)
    if status is None:
        return None
    want_key = {"True": None, "False": TAINT_NOT_READY}.get(status, TAINT_UNREACHABLE)
    taints = [t for t in (node.get("spec") or {}).get("taints") or () if isinstance(t, Mapping)]
    ours = (TAINT_NOT_READY, TAINT_UNREACHABLE)
    kept = [dict(t) for t in taints if t.get("key") not in ours or t.get("key") == want_key]
    if want_key is not None:
        for effect in (NOSCHEDULE, NOEXECUTE):
            if not any(t.get("key") == want_key and t.get("effect") == effect for t in kept):
                taint: dict[str, Any] = {"key": want_key, "effect": effect}
                if effect == NOEXECUTE:
                    taint["timeAdded"] = rfc3339(epoch(now))
                kept.append(taint)
    return None if kept == [dict(t) for t in taints] else kept


def decide_node(
    node: Mapping[str, Any],
    lease: Mapping[str, Any] | None,
    prior: Health | None,
    now: Time,
    settings: NodeLifecycleSettings | None = None,
) -> NodeDecision:
    """One monitor pass over one node: its health, and the conditions and taints to write."""
    settings = settings or NodeLifecycleSettings()
    health = observe(prior, node, lease, now)
    conditions = silent_conditions(node, now) if is_silent(health, node, now, settings) else None
    effective = node
    if conditions is not None:
        effective = {**node, "status": {**(node.get("status") or {}), "conditions": conditions}}
    return NodeDecision(health, conditions, lifecycle_taints(effective, now))


# -- taint-based eviction ------------------------------------------------------------------------


def noexecute_taints(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        t
        for t in (node.get("spec") or {}).get("taints") or ()
        if isinstance(t, Mapping) and t.get("effect") == NOEXECUTE
    ]


def eviction_time(
    pod: Mapping[str, Any], taints: Iterable[Mapping[str, Any]], *, default_start: Time
) -> float | None:
    """When a pod on a node with these NoExecute taints is to be deleted (Unix seconds; may be in the
    past), or None for never. Per taint the first toleration that tolerates it is the one used, as in
    kube; an untolerated taint means at once. A taint counts from its timeAdded (default_start when it
    has none), or from the pod's creation when that is later."""
    tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or () if isinstance(t, Mapping)]
    created = parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
    due: float | None = None
    for taint in taints:
        if taint.get("effect") != NOEXECUTE:
            continue
        start = parse_time(taint.get("timeAdded"))
        if start is None:
            start = epoch(default_start)
        if created is not None and created > start:
            start = created
        used = next((t for t in tolerations if tolerates(t, taint)), None)
        if used is None:
            at = start
        else:
            seconds = used.get("tolerationSeconds")
            if seconds is None or isinstance(seconds, bool) or not isinstance(seconds, int | float):
                continue  # tolerated for ever
            at = start + max(0, seconds)
        due = at if due is None else min(due, at)
    return due


def due_evictions(
    pods: Iterable[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    now: Time,
    *,
    taint_seen: Mapping[str, float] | None = None,
) -> list[Mapping[str, Any]]:
    """Pods to delete now: bound to a node (by name in `nodes`) with NoExecute taints they no longer
    tolerate. taint_seen: per node, when the controller first saw it with NoExecute taints (the start
    for taints without timeAdded)."""
    t = epoch(now)
    out = []
    for pod in pods:
        node = nodes.get(str((pod.get("spec") or {}).get("nodeName") or ""))
        if node is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        taints = noexecute_taints(node)
        if not taints:
            continue
        name = str((node.get("metadata") or {}).get("name") or "")
        at = eviction_time(pod, taints, default_start=(taint_seen or {}).get(name, t))
        if at is not None and at <= t:
            out.append(pod)
    return out


def _with_condition(pod: Mapping[str, Any], cond: dict[str, Any], now: Time) -> list[dict[str, Any]] | None:
    """The pod's conditions with `cond` set (kube's UpdatePodCondition: lastTransitionTime moves only
    when the status changes); None when nothing changes."""
    t = rfc3339(epoch(now))
    conditions = [
        dict(c) for c in (pod.get("status") or {}).get("conditions") or () if isinstance(c, Mapping)
    ]
    for i, old in enumerate(conditions):
        if old.get("type") == cond["type"]:
            new = {**old, **cond}
            new["lastTransitionTime"] = (
                old.get("lastTransitionTime") if old.get("status") == cond["status"] else t
            )
            if new == old:
                return None
            conditions[i] = new
            return conditions
    conditions.append({**cond, "lastTransitionTime": t})
    return conditions


def disruption_conditions(pod: Mapping[str, Any], now: Time) -> list[dict[str, Any]] | None:
    """The DisruptionTarget condition kube's taint manager sets before it deletes a pod."""
    cond = {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": DISRUPTION_REASON,
        "message": DISRUPTION_MESSAGE,
    }
    return _with_condition(pod, cond, now)


def not_ready_conditions(pod: Mapping[str, Any], now: Time) -> list[dict[str, Any]] | None:
    """A pod on a node that is not Ready is not Ready either (kube's MarkPodsNotReady): its Ready
    condition, when it has one, turns False; None when there is nothing to change."""
    ready = condition(pod, "Ready")
    if ready is None or ready.get("status") == "False":
        return None
    return _with_condition(pod, {"type": "Ready", "status": "False"}, now)


# -- admission -----------------------------------------------------------------------------------


def _covers(toleration: Any, key: str) -> bool:
    """DefaultTolerationSeconds' test: the pod already tolerates `key` NoExecute (an empty key or an
    empty effect counts as a match, whatever the operator)."""
    return (
        isinstance(toleration, Mapping)
        and (toleration.get("key") or "") in ("", key)
        and (toleration.get("effect") or "") in ("", NOEXECUTE)
    )


def admit_pod_tolerations(pod: dict[str, Any]) -> None:
    """Pod admission on create and update, in kube-apiserver's order: DefaultTolerationSeconds, then
    KubeEdge's offline-migration webhook (pods labelled app-offline.kubeedge.io=autonomy lose every
    unreachable toleration and get `unreachable Exists` without effect or tolerationSeconds). A body
    whose spec or tolerations are malformed is left for validation to reject."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    tolerations = spec.setdefault("tolerations", [])
    if not isinstance(tolerations, list):
        return
    for key in (TAINT_NOT_READY, TAINT_UNREACHABLE):
        if not any(_covers(t, key) for t in tolerations):
            tolerations.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": NOEXECUTE,
                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                }
            )
    labels = (pod.get("metadata") or {}).get("labels")
    if isinstance(labels, Mapping) and labels.get(AUTONOMY_LABEL) == AUTONOMY_VALUE:
        kept = [t for t in tolerations if not (isinstance(t, Mapping) and t.get("key") == TAINT_UNREACHABLE)]
        spec["tolerations"] = [*kept, {"key": TAINT_UNREACHABLE, "operator": "Exists"}]
