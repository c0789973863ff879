"""The embedded API server's minimal scheduler: kube-scheduler's default filters, decided without I/O.

`schedule` places one pending pod on one of the given nodes, or explains why it cannot, in the exact
words kube-scheduler uses: `kubectl describe pod` prints them and people match on them. The filters,
their order and their messages follow the default plugin set (NodeUnschedulable, TaintToleration,
NodeAffinity, NodeResourcesFit) of current kube-scheduler; each node reports the first filter it fails,
as the framework stops there. The caller owns the I/O: it lists nodes, counts pods per node, and
writes the `Binding` or the `PodScheduled` condition this module builds.

Not modelled: host ports, volumes, topology spread, inter-pod affinity, scoring plugins beyond
"fewest pods" and actual preemption (the message reports no victims, which is what kube-scheduler
says when no lower-priority pod could make room).
"""

import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import msgspec

DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_MAX_PODS = 110

# PodScheduled condition reasons (k8s.io/api/core/v1 PodReason*).
REASON_SCHEDULED = "Scheduled"
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULING_GATED = "SchedulingGated"

# Filter reasons, worded as the plugins word them.
MSG_NODE_UNSCHEDULABLE = "node(s) were unschedulable"
MSG_UNTOLERATED_TAINT = "node(s) had untolerated taint(s)"
MSG_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
MSG_AFFINITY_PREFILTER = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
MSG_AFFINITY_CONFLICT = "pod affinity terms conflict"
MSG_TOO_MANY_PODS = "Too many pods"
MSG_NO_NODES = "no nodes available to schedule pods"
MSG_GATED = "Scheduling is blocked due to non-empty scheduling gates"
# PostFilter: DynamicResources runs before DefaultPreemption and, for a pod without resource
# claims, answers this; the framework joins both answers with ", ".
MSG_NO_CLAIMS = "no new claims to deallocate"
MSG_PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
MSG_NO_VICTIMS = "No preemption victims found for incoming pod"
MSG_PREEMPTION_NEVER = "not eligible due to preemptionPolicy=Never."

TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"

_BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
_FIT_ORDER = ("cpu", "memory", "ephemeral-storage")


@dataclass(frozen=True, slots=True)
class Decision:
    """Where the pod goes. `node=None, reason=""` means the pod is not this scheduler's to place."""

    node: str | None
    reason: str
    message: str


NOT_OURS = Decision(None, "", "")


# -- quantities --------------------------------------------------------------------------------------


class QuantityError(ValueError):
    """A resource quantity that Kubernetes would not parse; the message names the field."""


# apimachinery's resource.Quantity grammar; the error texts are its ErrFormatWrong/ErrNumeric/ErrSuffix.
_QUANTITY_RE_TEXT = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_QUANTITY_RE = re.compile(r"([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)")
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_ERR_FORMAT = "quantities must match the regular expression '%s'" % _QUANTITY_RE_TEXT
_ERR_NUMERIC = "unable to parse numeric part of quantity"
_ERR_SUFFIX = "unable to parse quantity's suffix"


def parse_quantity(value: str | int | float) -> Fraction:
    """The exact value of a Kubernetes quantity: `100m` → 1/10, `512Mi` → 536870912, `1e3` → 1000.

    JSON numbers are accepted as Kubernetes accepts them (`"cpu": 2`).
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuantityError(_ERR_FORMAT)
    text = value if isinstance(value, str) else repr(value)
    m = _QUANTITY_RE.fullmatch(text)
    if m is None:
        raise QuantityError(_ERR_FORMAT)
    number, suffix = m.groups()
    if not _NUMBER_RE.fullmatch(number):
        raise QuantityError(_ERR_NUMERIC)
    if suffix in _DECIMAL_SUFFIXES:
        scale = Fraction(10) ** _DECIMAL_SUFFIXES[suffix]
    elif suffix in _BINARY_SUFFIXES:
        scale = Fraction(2) ** _BINARY_SUFFIXES[suffix]
    elif len(suffix) > 1 and suffix[0] in "eE" and _INT_RE.fullmatch(suffix[1:]):
        scale = Fraction(10) ** int(suffix[1:])
    else:
        raise QuantityError(_ERR_SUFFIX)
    return Fraction(number) * scale


def resource_units(resource: str, quantity: Fraction) -> int:
    """The integer the scheduler compares: millicores for cpu, whole units otherwise, rounded up
    (as Quantity.MilliValue/Value round)."""
    return math.ceil(quantity * 1000) if resource == "cpu" else math.ceil(quantity)


@functools.lru_cache(maxsize=4096, typed=True)  # typed: True is not the quantity 1
def _cached_units(resource: str, raw: str | int | float) -> int:
    # A cluster has few distinct quantity strings ("4", "8Gi", "110", "100m"), and the filter reads each
    # node's allocatable for every pod: exact Fraction parsing once per string, not per node and pod.
    return resource_units(resource, parse_quantity(raw))


def _units(resource: str, raw: Any, field: str) -> int:
    try:
        return _cached_units(resource, raw)
    except QuantityError as e:
        raise QuantityError("%s: %s" % (field, e)) from None
    except TypeError:  # unhashable: not a quantity at all
        raise QuantityError("%s: %s" % (field, _ERR_FORMAT)) from None


# -- pod requests ------------------------------------------------------------------------------------


def _container_requests(c: Mapping[str, Any], field: str) -> dict[str, int]:
    res = c.get("resources") or {}
    requests = res.get("requests") or {}
    limits = res.get("limits") or {}
    out = {name: _units(name, q, "%s.resources.requests[%s]" % (field, name)) for name, q in requests.items()}
    # API defaulting copies a limit into a missing request; do it here too, in case it did not run.
    for name, q in limits.items():
        if name not in out:
            out[name] = _units(name, q, "%s.resources.limits[%s]" % (field, name))
    return out


def _add(into: dict[str, int], more: Mapping[str, int]) -> None:
    for name, v in more.items():
        into[name] = into.get(name, 0) + v


def _max(into: dict[str, int], more: Mapping[str, int]) -> None:
    for name, v in more.items():
        into[name] = max(into.get(name, 0), v)


def pod_requests(pod: Mapping[str, Any]) -> dict[str, int]:
    """What a pod asks of a node, in `resource_units` (cpu in millicores, memory in bytes).

    As k8s.io/component-helpers resource.PodRequests: the sum of the containers, raised to what any
    init container needs while it runs (restartable "sidecar" init containers keep running and add
    up), pod-level requests for cpu/memory when set, plus the pod overhead.
    """
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    for i, c in enumerate(spec.get("containers") or ()):
        _add(total, _container_requests(c, "spec.containers[%d]" % i))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for i, c in enumerate(spec.get("initContainers") or ()):
        reqs = _container_requests(c, "spec.initContainers[%d]" % i)
        if c.get("restartPolicy") == "Always":
            _add(total, reqs)
            _add(sidecars, reqs)
            _max(init_peak, sidecars)
        else:
            running = dict(sidecars)
            _add(running, reqs)
            _max(init_peak, running)
    _max(total, init_peak)
    pod_level = _container_requests(spec, "spec") if spec.get("resources") else {}
    for name in ("cpu", "memory"):
        if name in pod_level:
            total[name] = pod_level[name]
    for name, q in (spec.get("overhead") or {}).items():
        total[name] = total.get(name, 0) + _units(name, q, "spec.overhead[%s]" % name)
    return total


# -- filters -----------------------------------------------------------------------------------------


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """corev1 Toleration.ToleratesTaint: empty effect matches all effects, empty key with Exists
    matches all keys, operator defaults to Equal."""
    effect = toleration.get("effect") or ""
    if effect and effect != (taint.get("effect") or ""):
        return False
    key = toleration.get("key") or ""
    if key and key != (taint.get("key") or ""):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def _tolerated(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def node_taints(node: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The node's taints plus the NoSchedule taint the node lifecycle controller puts on a node that
    is not Ready (Ready=False: not-ready; Unknown or never reported: unreachable). kedge runs no such
    controller, so the scheduler derives it; a taint already present is not added twice."""
    taints = [dict(t) for t in ((node.get("spec") or {}).get("taints") or ())]
    ready = None
    for cond in (node.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            ready = cond.get("status")
    if ready != "True":
        key = TAINT_NOT_READY if ready == "False" else TAINT_UNREACHABLE
        if not any(t.get("key") == key and t.get("effect") == "NoSchedule" for t in taints):
            taints.append({"key": key, "effect": "NoSchedule"})
    return taints


def _parse_int64(text: str) -> int | None:
    if not _INT_RE.fullmatch(text):
        return None
    v = int(text)
    return v if -(2**63) <= v < 2**63 else None


def _label_requirement(req: Mapping[str, Any], labels: Mapping[str, str]) -> bool | None:
    """One matchExpressions entry against the node's labels; None when the requirement is invalid
    (the term then matches nothing, as kube-scheduler ignores terms it cannot parse)."""
    key, op, values = req.get("key") or "", req.get("operator"), list(req.get("values") or ())
    if op in ("In", "NotIn"):
        if not values:
            return None
        return (key in labels and labels[key] in values) == (op == "In")
    if op in ("Exists", "DoesNotExist"):
        if values:
            return None
        return (key in labels) == (op == "Exists")
    if op in ("Gt", "Lt"):
        bound = _parse_int64(values[0]) if len(values) == 1 else None
        if bound is None:
            return None
        have = _parse_int64(labels[key]) if key in labels else None
        if have is None:
            return False
        return have > bound if op == "Gt" else have < bound
    return None


def _field_requirement(req: Mapping[str, Any], node_name: str) -> bool | None:
    values = list(req.get("values") or ())
    if req.get("key") != "metadata.name" or len(values) != 1:
        return None
    if req.get("operator") == "In":
        return node_name == values[0]
    if req.get("operator") == "NotIn":
        return node_name != values[0]
    return None


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    exprs, fields = term.get("matchExpressions") or (), term.get("matchFields") or ()
    if not exprs and not fields:
        return False  # an empty term selects nothing
    results = [_label_requirement(r, labels) for r in exprs]
    results += [_field_requirement(r, node_name) for r in fields]
    return all(r is True for r in results)


def _required_terms(spec: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is None:
        return None
    return list(required.get("nodeSelectorTerms") or ())


def _matches_affinity(spec: Mapping[str, Any], node: "NodeInfo") -> bool:
    labels = node.labels
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    terms = _required_terms(spec)
    if terms is None:
        return True
    return any(_term_matches(t, labels, node.name) for t in terms)


def _affinity_node_names(spec: Mapping[str, Any]) -> set[str] | None:
    """NodeAffinity's PreFilter: when every required term pins `metadata.name In`, only those nodes
    are examined (None: all nodes)."""
    terms = _required_terms(spec)
    if not terms:
        return None
    names: set[str] = set()
    for term in terms:
        term_names: set[str] | None = None
        for req in term.get("matchFields") or ():
            if req.get("key") == "metadata.name" and req.get("operator") == "In":
                values = set(req.get("values") or ())
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None
        names |= term_names
    return names


def _allocatable(node: Mapping[str, Any], resource: str, field: str) -> int | None:
    status = node.get("status") or {}
    for where in ("allocatable", "capacity"):
        raw = (status.get(where) or {}).get(resource)
        if raw is not None:
            return _units(resource, raw, "%s: status.%s[%s]" % (field, where, resource))
    return None


class NodeInfo:
    """What the filters read of one node version, derived once (kube-scheduler's NodeInfo): its name,
    labels, taints with the not-ready one added, and allocatable units by resource. The filters run
    for hundreds of nodes per pod; the node changes only when it reports status."""

    __slots__ = ("_alloc", "labels", "name", "node", "static", "taints", "unschedulable")

    def __init__(self, node: Mapping[str, Any]) -> None:
        meta = node.get("metadata") or {}
        self.node = node
        self.name: str = meta.get("name") or ""
        self.labels: Mapping[str, str] = meta.get("labels") or {}
        self.taints = node_taints(node)
        self.unschedulable = bool((node.get("spec") or {}).get("unschedulable"))
        self._alloc: dict[str, int | None] = {}
        #: the static filters' verdict (unschedulable, taints, affinity) by pod placement key: pods of
        #: one shape get it by a lookup instead of running the filters on every node again
        self.static: dict[bytes, _Rejection | None] = {}

    def allocatable(self, resource: str) -> int | None:
        try:
            return self._alloc[resource]
        except KeyError:
            units = self._alloc[resource] = _allocatable(self.node, resource, "node %s" % self.name)
            return units


def node_infos(nodes: Iterable[Mapping[str, Any] | NodeInfo]) -> list[NodeInfo]:
    return [n if isinstance(n, NodeInfo) else NodeInfo(n) for n in nodes]


def _is_scalar(resource: str) -> bool:
    """Resources NodeResourcesFit checks besides cpu/memory/ephemeral-storage: extended resources
    (`example.com/gpu`), hugepages and attachable volumes."""
    return "/" in resource or resource.startswith(("hugepages-", "attachable-volumes-"))


def _fit_order(want: Mapping[str, int]) -> list[str]:
    """The resources NodeResourcesFit checks for a pod, in its order."""
    order = [r for r in _FIT_ORDER if r in want]
    return order + sorted(r for r in want if r not in _FIT_ORDER and _is_scalar(r))


def _fit(
    node: NodeInfo, want: Mapping[str, int], order: list[str], pods: int, used: Mapping[str, int]
) -> tuple[list[str], bool]:
    """NodeResourcesFit: every shortfall of the node, and whether any is beyond the node's whole
    allocatable (then no preemption could help)."""
    reasons: list[str] = []
    unresolvable = False
    max_pods = node.allocatable("pods")
    if pods + 1 > (DEFAULT_MAX_PODS if max_pods is None else max_pods):
        reasons.append(MSG_TOO_MANY_PODS)
    for resource in order:
        amount = want[resource]
        if amount <= 0:
            continue
        capacity = node.allocatable(resource) or 0
        if amount > capacity - used.get(resource, 0):
            reasons.append("Insufficient %s" % resource)
            unresolvable = unresolvable or amount > capacity
    return reasons, unresolvable


@dataclass(frozen=True, slots=True)
class _Rejection:
    reasons: tuple[str, ...]
    resolvable: bool  # whether evicting lower-priority pods could make room (only resource shortfalls)


#: placement keys a NodeInfo remembers verdicts for before it starts over
_STATIC_KEYS = 64
_KEY_ENCODER = msgspec.json.Encoder()


def _static_key(spec: Mapping[str, Any]) -> bytes:
    """What the static filters read of a pod: equal keys, equal verdicts on every node version."""
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    return _KEY_ENCODER.encode((spec.get("nodeSelector"), affinity, spec.get("tolerations")))


def _static_filter(
    spec: Mapping[str, Any], tolerations: list[Mapping[str, Any]], node: NodeInfo, key: bytes
) -> _Rejection | None:
    """NodeUnschedulable, TaintToleration and NodeAffinity for `node`, remembered on the node's
    NodeInfo (which a new node version replaces)."""
    cache = node.static
    try:
        return cache[key]
    except KeyError:
        pass
    if len(cache) >= _STATIC_KEYS:
        cache.clear()
    verdict = cache[key] = _static_rejection(spec, tolerations, node)
    return verdict


def _static_rejection(
    spec: Mapping[str, Any], tolerations: list[Mapping[str, Any]], node: NodeInfo
) -> _Rejection | None:
    if node.unschedulable and not _tolerated(
        tolerations, {"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"}
    ):
        return _Rejection((MSG_NODE_UNSCHEDULABLE,), False)
    for taint in node.taints:
        if taint.get("effect") in _BLOCKING_EFFECTS and not _tolerated(tolerations, taint):
            return _Rejection((MSG_UNTOLERATED_TAINT,), False)
    if not _matches_affinity(spec, node):
        return _Rejection((MSG_NODE_AFFINITY,), False)
    return None


def _filter(
    spec: Mapping[str, Any],
    tolerations: list[Mapping[str, Any]],
    node: NodeInfo,
    want: Mapping[str, int],
    order: list[str],
    pods: int,
    used: Mapping[str, int],
    key: bytes,
) -> _Rejection | None:
    """Runs the filters in kube-scheduler's order and stops at the first that rejects."""
    rejection = _static_filter(spec, tolerations, node, key)
    if rejection is not None:
        return rejection
    reasons, unresolvable = _fit(node, want, order, pods, used)
    if reasons:
        return _Rejection(tuple(reasons), not unresolvable)
    return None


# -- messages ----------------------------------------------------------------------------------------


def _fit_error(total: int, reasons: Counter[str], pre_filter: str = "") -> str:
    """framework.FitError.Error(): `0/N nodes are available: <histogram sorted as strings>.`"""
    msg = "0/%d nodes are available:" % total
    if pre_filter:
        return msg + " %s." % pre_filter
    if reasons:
        msg += " %s." % ", ".join(sorted("%d %s" % (n, r) for r, n in reasons.items()))
    return msg


def _post_filter(spec: Mapping[str, Any], total: int, rejections: Iterable[_Rejection]) -> str:
    if spec.get("preemptionPolicy") == "Never":
        preemption = MSG_PREEMPTION_NEVER
    else:
        outcome = Counter(MSG_NO_VICTIMS if r.resolvable else MSG_PREEMPTION_NOT_HELPFUL for r in rejections)
        preemption = _fit_error(total, outcome)
    return "%s, preemption: %s" % (MSG_NO_CLAIMS, preemption)


# -- the decision ------------------------------------------------------------------------------------


_EMPTY: Mapping[str, int] = {}

#: kube-scheduler's minFeasibleNodesToFind and its adaptive percentageOfNodesToScore bounds.
MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENT = 5


def feasible_nodes_to_find(total: int) -> int:
    """How many feasible nodes kube-scheduler looks for before it stops filtering (its default, adaptive
    percentageOfNodesToScore: 50 % less 1 % per 125 nodes, at least 5 %, at least 100 nodes). Small
    clusters are searched whole; 10,000 nodes are sampled 500 at a time."""
    if total < MIN_FEASIBLE_NODES:
        return total
    percent = max(MIN_FEASIBLE_PERCENT, 50 - total // 125)
    return max(MIN_FEASIBLE_NODES, total * percent // 100)


_shape_encode = msgspec.json.Encoder(order="sorted").encode


def placement_shape(pod: Mapping[str, Any]) -> bytes:
    """What the filters and the unschedulable message read of a pod: two pods of one shape get the same
    answer from the same nodes. Raises QuantityError as pod_requests does."""
    spec = pod.get("spec") or {}
    return _shape_encode(
        [
            spec.get("schedulerName"),
            spec.get("schedulingGates"),
            spec.get("tolerations"),
            spec.get("nodeSelector"),
            spec.get("affinity"),
            spec.get("preemptionPolicy"),
            pod_requests(pod),
        ]
    )


def schedule(
    pod: Mapping[str, Any],
    nodes: list[Mapping[str, Any]] | list[NodeInfo],
    pods_on_node: Mapping[str, int],
    requested: Mapping[str, Mapping[str, int]] | None = None,
) -> Decision:
    """Decides where `pod` runs, looking at every node.

    `pods_on_node` counts the non-terminated pods bound to each node; `requested` sums their
    `pod_requests` per node (missing: nothing requested). Among feasible nodes the one with the
    fewest pods wins, then the first by name. Raises QuantityError for a resource quantity
    Kubernetes would not accept.
    """
    return schedule_sampled(pod, node_infos(nodes), pods_on_node, requested)[0]


def schedule_sampled(
    pod: Mapping[str, Any],
    nodes: list[NodeInfo],
    pods_on_node: Mapping[str, int],
    requested: Mapping[str, Mapping[str, int]] | None = None,
    *,
    start: int = 0,
    enough: int = 0,
) -> tuple[Decision, int]:
    """schedule() as kube-scheduler does it in large clusters: filter nodes from index `start` on
    (wrapping around) and stop once `enough` feasible ones are found (0: look at all), then choose among
    those. Returns the decision and how many nodes were examined, for the caller to start the next pod
    after them, so that the whole cluster is visited in turn. `nodes` are NodeInfo (node_infos())."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    if (spec.get("schedulerName") or DEFAULT_SCHEDULER) != DEFAULT_SCHEDULER:
        return NOT_OURS, 0
    if spec.get("nodeName"):
        return Decision(spec["nodeName"], "", ""), 0
    if meta.get("deletionTimestamp"):
        return NOT_OURS, 0
    if spec.get("schedulingGates"):
        return Decision(None, REASON_SCHEDULING_GATED, MSG_GATED), 0
    if not nodes:
        return Decision(None, REASON_UNSCHEDULABLE, MSG_NO_NODES), 0

    total = len(nodes)
    pinned = _affinity_node_names(spec)
    if pinned is not None and not pinned:
        conflict = [_Rejection((MSG_AFFINITY_CONFLICT,), False)] * total
        message = _fit_error(total, Counter(), MSG_AFFINITY_CONFLICT)
        decision = Decision(
            None, REASON_UNSCHEDULABLE, "%s %s" % (message, _post_filter(spec, total, conflict))
        )
        return decision, 0

    want = pod_requests(pod)
    fit_order = _fit_order(want)
    tolerations = list(spec.get("tolerations") or ())
    requested = requested or {}
    key = _static_key(spec)
    feasible: list[tuple[int, str]] = []
    rejections: list[_Rejection] = []
    start = start % total
    order = itertools.chain(itertools.islice(nodes, start, None), itertools.islice(nodes, 0, start))
    examined = 0
    for node in order:
        if enough and len(feasible) >= enough:
            break
        examined += 1
        name = node.name
        count = pods_on_node.get(name, 0)
        if pinned is not None and name not in pinned:
            rejection: _Rejection | None = _Rejection((MSG_AFFINITY_PREFILTER,), False)
        else:
            rejection = _filter(
                spec, tolerations, node, want, fit_order, count, requested.get(name) or _EMPTY, key
            )
        if rejection is None:
            feasible.append((count, name))
        else:
            rejections.append(rejection)

    if feasible:
        _, best = min(feasible)
        where = "%s/%s" % (meta.get("namespace") or "default", meta.get("name") or "")
        return Decision(best, REASON_SCHEDULED, "Successfully assigned %s to %s" % (where, best)), examined
    histogram = Counter(reason for r in rejections for reason in r.reasons)
    message = "%s %s" % (_fit_error(total, histogram), _post_filter(spec, total, rejections))
    return Decision(None, REASON_UNSCHEDULABLE, message), examined


def pod_scheduled_condition(decision: Decision, now: str, *, observed_generation: int | None = None) -> dict:
    """The pod's `PodScheduled` condition for a decision: False with the reason and message when the
    pod could not be placed (or is gated), True once it has a node. `now` is an RFC 3339 timestamp."""
    if decision.node is None and not decision.reason:
        raise ValueError("a pod this scheduler does not place gets no PodScheduled condition from it")
    cond: dict[str, Any] = {"type": "PodScheduled"}
    if observed_generation is not None:
        cond["observedGeneration"] = observed_generation
    cond["status"] = "True" if decision.node is not None else "False"
    cond["lastProbeTime"] = None
    cond["lastTransitionTime"] = now
    if decision.node is None:
        cond["reason"] = decision.reason
        cond["message"] = decision.message
    return cond


def binding(pod: Mapping[str, Any], node: str) -> dict:
    """The v1 Binding the default binder posts to `pods/<name>/binding`."""
    meta = pod.get("metadata") or {}
    binding_meta: dict[str, Any] = {
        "name": meta.get("name") or "",
        "namespace": meta.get("namespace") or "default",
    }
    if meta.get("uid"):
        binding_meta["uid"] = meta["uid"]
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": binding_meta,
        "target": {"kind": "Node", "name": node},
    }
