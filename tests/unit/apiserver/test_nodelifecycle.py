"""Node lifecycle: node health from leases and heartbeats, lifecycle taints, taint-based eviction and
the pod tolerations admission adds; then the controller pass on a real store with a fake clock."""

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.apiserver import nodelifecycle as nl
from kedge.apiserver.builtin import new_registry
from kedge.apiserver.controllers import Controllers
from kedge.apiserver.request import Target
from kedge.apiserver.rest import Rest
from kedge.apiserver.scheduling import tolerates
from kedge.apiserver.storage import Storage

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
SETTINGS = nl.NodeLifecycleSettings(monitor_period=1, grace_period=40, startup_grace_period=60)


def ts(t: float) -> str:
    return nl.rfc3339(t)


def node(
    name: str = "n1",
    *,
    ready: str | None = "True",
    heartbeat: float = T0,
    taints: list[dict[str, Any]] | None = None,
    pressure: bool = False,
) -> dict[str, Any]:
    conditions = []
    if pressure:
        for type_ in ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"):
            conditions.append(
                {"type": type_, "status": "False", "lastHeartbeatTime": ts(heartbeat), "reason": "Fine"}
            )
    if ready is not None:
        conditions.append(
            {
                "type": "Ready",
                "status": ready,
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": ts(heartbeat),
                "lastTransitionTime": ts(T0 - 3600),
            }
        )
    obj: dict[str, Any] = {
        "metadata": {"name": name, "creationTimestamp": ts(T0 - 7200)},
        "spec": {},
        "status": {"conditions": conditions},
    }
    if taints:
        obj["spec"]["taints"] = taints
    return obj


def lease(renew: float, name: str = "n1") -> dict[str, Any]:
    micro = datetime.fromtimestamp(renew, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro},
    }


def pod(
    tolerations: list[dict[str, Any]] | None = None, *, node_name: str = "n1", created: float = T0 - 600
) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": node_name, "containers": [{"name": "c", "image": "i"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"metadata": {"name": "p", "namespace": "default", "creationTimestamp": ts(created)}, "spec": spec}


def taint(key: str = UNREACHABLE, effect: str = "NoExecute", added: float | None = T0, **extra: Any) -> dict:
    t = {"key": key, "effect": effect, **extra}
    if added is not None:
        t["timeAdded"] = ts(added)
    return t


def cond(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in obj.get("conditions") or () if c["type"] == type_), None)


# -- health ---------------------------------------------------------------------------------------


def test_stale_lease_marks_the_node_unknown_and_taints_it_unreachable() -> None:
    n, le = node(heartbeat=T0 - 300), lease(T0)
    first = nl.decide_node(n, le, None, T0, SETTINGS)
    assert first.conditions is None and first.taints is None and first.health.probe == T0
    still = nl.decide_node(n, le, first.health, T0 + 40, SETTINGS)
    assert still.conditions is None and still.taints is None  # 40 s is the grace, not past it
    later = T0 + 40.5
    d = nl.decide_node(n, le, still.health, later, SETTINGS)
    ready = cond({"conditions": d.conditions}, "Ready")
    assert ready == {
        "type": "Ready",
        "status": "Unknown",
        "reason": "NodeStatusUnknown",
        "message": "Kubelet stopped posting node status.",
        "lastHeartbeatTime": ts(T0 - 300),  # kept: it is when the kubelet last spoke
        "lastTransitionTime": ts(later),
    }
    assert d.taints == [
        {"key": UNREACHABLE, "effect": "NoSchedule"},
        {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": ts(later)},
    ]


def test_a_renewed_lease_keeps_the_node_alive_whatever_the_edge_clock_says() -> None:
    n = node(heartbeat=T0 - 86400)
    skewed = T0 - 86400  # the edge clock is a day behind; only the change of renewTime matters
    h = nl.decide_node(n, lease(skewed), None, T0, SETTINGS).health
    for step in range(1, 10):
        d = nl.decide_node(n, lease(skewed + 10 * step), h, T0 + 30 * step, SETTINGS)
        assert d.conditions is None and d.taints is None
        h = d.health
    assert h.probe == T0 + 270
    assert nl.decide_node(n, lease(skewed + 90), h, T0 + 311, SETTINGS).conditions is not None


def test_without_a_lease_the_ready_heartbeat_counts() -> None:
    h = nl.decide_node(node(heartbeat=T0), None, None, T0, SETTINGS).health
    h = nl.decide_node(node(heartbeat=T0 + 30), None, h, T0 + 30, SETTINGS).health
    assert nl.decide_node(node(heartbeat=T0 + 30), None, h, T0 + 70, SETTINGS).conditions is None
    d = nl.decide_node(node(heartbeat=T0 + 30), None, h, T0 + 71, SETTINGS)
    assert cond({"conditions": d.conditions}, "Ready")["status"] == "Unknown"


def test_pressure_conditions_go_unknown_too_but_network_unavailable_stays() -> None:
    n = node(pressure=True)
    h = nl.decide_node(n, None, None, T0, SETTINGS).health
    d = nl.decide_node(n, None, h, T0 + 41, SETTINGS)
    by_type = {c["type"]: c for c in d.conditions}
    for type_ in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready"):
        assert by_type[type_]["status"] == "Unknown" and by_type[type_]["reason"] == "NodeStatusUnknown"
    assert by_type["NetworkUnavailable"] == n["status"]["conditions"][3]


def test_a_node_that_never_posted_status_gets_the_startup_grace_and_never_updated_conditions() -> None:
    n = node(ready=None)
    n["metadata"]["creationTimestamp"] = ts(T0)
    h = nl.decide_node(n, None, None, T0 + 5, SETTINGS).health
    assert h.probe == T0  # counts from its creation
    assert nl.decide_node(n, None, h, T0 + 60, SETTINGS) == nl.NodeDecision(h, None, None)
    d = nl.decide_node(n, None, h, T0 + 61, SETTINGS)
    assert [c["type"] for c in d.conditions] == ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]
    assert all(
        c["status"] == "Unknown"
        and c["reason"] == "NodeStatusNeverUpdated"
        and c["message"] == "Kubelet never posted node status."
        and c["lastHeartbeatTime"] == ts(T0)
        for c in d.conditions
    )
    assert [t["key"] for t in d.taints] == [UNREACHABLE, UNREACHABLE]


def test_decisions_are_idempotent_once_written() -> None:
    h = nl.decide_node(node(), None, None, T0, SETTINGS).health
    d = nl.decide_node(node(), None, h, T0 + 50, SETTINGS)
    written = node()
    written["status"]["conditions"] = d.conditions
    written["spec"]["taints"] = d.taints
    again = nl.decide_node(written, None, d.health, T0 + 100, SETTINGS)
    assert again.conditions is None and again.taints is None


def test_taints_follow_the_ready_condition() -> None:
    other = {"key": "dedicated", "value": "gpu", "effect": "NoExecute", "timeAdded": ts(T0 - 99)}
    tainted = [taint(UNREACHABLE, "NoSchedule", None), taint(UNREACHABLE), other]
    # Ready=False: not-ready replaces unreachable; the user's taint stays where it was
    assert nl.lifecycle_taints(node(ready="False", taints=tainted), T0 + 5) == [
        other,
        {"key": NOT_READY, "effect": "NoSchedule"},
        {"key": NOT_READY, "effect": "NoExecute", "timeAdded": ts(T0 + 5)},
    ]
    # Ready=True with a fresh lease: both lifecycle taints go
    assert nl.lifecycle_taints(node(ready="True", taints=tainted), T0 + 5) == [other]
    h = nl.decide_node(node(taints=tainted), lease(T0), None, T0, SETTINGS).health
    assert nl.decide_node(node(taints=tainted), lease(T0 + 10), h, T0 + 10, SETTINGS).taints == [other]
    # Unknown and already tainted: the existing timeAdded is kept
    assert nl.lifecycle_taints(node(ready="Unknown", taints=tainted), T0 + 5) is None
    # no Ready condition: nothing is decided yet
    assert nl.lifecycle_taints(node(ready=None, taints=tainted), T0 + 5) is None
    assert nl.lifecycle_taints(node(ready="True"), T0) is None


def test_settings_are_checked() -> None:
    for bad in (0, -1, "5", True):
        with pytest.raises(ValueError, match="grace_period must be a positive number"):
            nl.NodeLifecycleSettings(grace_period=bad)
    assert nl.NodeLifecycleSettings() == nl.NodeLifecycleSettings(5.0, 40.0, 60.0)


def test_times_parse_as_kube_writes_them() -> None:
    assert nl.parse_time("2027-01-15T08:00:00Z") == T0
    assert nl.parse_time("2027-01-15T08:00:00.250000Z") == T0 + 0.25
    assert nl.parse_time("2027-01-15T09:00:00+01:00") == T0
    assert nl.parse_time("yesterday") is None and nl.parse_time(None) is None and nl.parse_time(5) is None
    assert nl.epoch(datetime.fromtimestamp(T0, UTC)) == T0 == nl.epoch(datetime(2027, 1, 15, 8))


# -- eviction -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toleration", "tolerated"),
    [
        ({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}, True),
        ({"key": UNREACHABLE, "operator": "Exists"}, True),  # empty effect: every effect
        ({"operator": "Exists"}, True),  # empty key with Exists: every taint
        ({"operator": "Exists", "effect": "NoSchedule"}, False),
        ({"key": NOT_READY, "operator": "Exists"}, False),
        ({"key": UNREACHABLE, "operator": "Equal", "value": ""}, True),
        ({"key": UNREACHABLE, "value": ""}, True),  # operator defaults to Equal
        ({"key": UNREACHABLE, "operator": "Equal", "value": "x"}, False),
    ],
)
def test_toleration_matching_decides_eviction(toleration: dict[str, Any], tolerated: bool) -> None:
    p = pod([toleration])
    assert nl.eviction_time(p, [taint()], default_start=0) == (None if tolerated else T0)


def test_tolerated_values_need_equal_values() -> None:
    t = taint("dedicated", value="gpu")
    assert nl.eviction_time(pod([{"key": "dedicated", "value": "gpu"}]), [t], default_start=0) is None
    assert nl.eviction_time(pod([{"key": "dedicated", "value": "cpu"}]), [t], default_start=0) == T0
    assert nl.eviction_time(pod([{"key": "dedicated", "operator": "Exists"}]), [t], default_start=0) is None


def test_toleration_seconds_count_from_the_taint() -> None:
    p = pod([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}])
    nodes = {"n1": node(ready="Unknown", taints=[taint(added=T0)])}
    assert nl.eviction_time(p, nodes["n1"]["spec"]["taints"], default_start=0) == T0 + 300
    assert nl.due_evictions([p], nodes, T0 + 299) == []
    assert nl.due_evictions([p], nodes, T0 + 300) == [p]


def test_the_first_matching_toleration_is_the_one_used_and_the_shortest_wins() -> None:
    forever = {"key": UNREACHABLE, "operator": "Exists"}
    short = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}
    assert nl.eviction_time(pod([short, forever]), [taint()], default_start=0) == T0 + 5
    assert nl.eviction_time(pod([forever, short]), [taint()], default_start=0) is None
    both = [taint(), taint("dedicated", added=T0 + 100)]
    tols = [forever, {"key": "dedicated", "operator": "Exists", "tolerationSeconds": 30}]
    assert nl.eviction_time(pod(tols), both, default_start=0) == T0 + 130
    assert nl.eviction_time(pod([{**short, "tolerationSeconds": -5}]), [taint()], default_start=0) == T0
    assert nl.eviction_time(pod(tols), [taint(effect="NoSchedule")], default_start=0) is None


def test_a_pod_created_after_the_taint_counts_from_its_creation() -> None:
    p = pod([{"operator": "Exists", "tolerationSeconds": 60}], created=T0 + 1000)
    assert nl.eviction_time(p, [taint(added=T0)], default_start=0) == T0 + 1060


def test_a_taint_without_time_added_counts_from_when_it_was_first_seen() -> None:
    p = pod([{"operator": "Exists", "tolerationSeconds": 60}], created=T0 - 9999)
    n = node(taints=[taint(added=None)])
    assert nl.eviction_time(p, n["spec"]["taints"], default_start=T0 + 7) == T0 + 67
    assert nl.due_evictions([p], {"n1": n}, T0 + 66, taint_seen={"n1": T0 + 7}) == []
    assert nl.due_evictions([p], {"n1": n}, T0 + 67, taint_seen={"n1": T0 + 7}) == [p]


def test_autonomy_pods_stay_on_an_unreachable_node_for_ever() -> None:
    p = pod(None)
    p["metadata"]["labels"] = {"app-offline.kubeedge.io": "autonomy"}
    nl.admit_pod_tolerations(p)
    unreachable = {"n1": node(ready="Unknown", taints=[taint(UNREACHABLE)])}
    assert nl.due_evictions([p], unreachable, T0 + 10**9) == []
    # the label buys nothing on a node that says it is not ready: the 300 s default applies there
    not_ready = {"n1": node(ready="False", taints=[taint(NOT_READY)])}
    assert nl.due_evictions([p], not_ready, T0 + 299) == [] and nl.due_evictions(
        [p], not_ready, T0 + 300
    ) == [p]


def test_only_bound_live_pods_on_tainted_nodes_are_evicted() -> None:
    nodes = {"n1": node(ready="Unknown", taints=[taint()]), "n2": node("n2")}
    untolerant = pod([])
    elsewhere, unbound, terminating = pod([], node_name="n2"), pod([], node_name=""), pod([])
    terminating["metadata"]["deletionTimestamp"] = ts(T0)
    gone_node = pod([], node_name="n9")
    assert nl.due_evictions([untolerant, elsewhere, unbound, terminating, gone_node], nodes, T0) == [
        untolerant
    ]


def test_pod_conditions_written_on_eviction_and_on_a_not_ready_node() -> None:
    p = pod([])
    p["status"] = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ts(T0 - 50)}]}
    marked = nl.not_ready_conditions(p, T0)
    assert marked == [{"type": "Ready", "status": "False", "lastTransitionTime": ts(T0)}]
    assert nl.not_ready_conditions({"status": {"conditions": marked}}, T0 + 5) is None
    assert nl.not_ready_conditions(pod([]), T0) is None  # no Ready condition: nothing to say
    d = nl.disruption_conditions(p, T0)
    assert d[1] == {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint",
        "lastTransitionTime": ts(T0),
    }
    assert nl.disruption_conditions({"status": {"conditions": d}}, T0 + 9) is None


# -- admission ------------------------------------------------------------------------------------

DEFAULTS = [
    {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


def admitted(tolerations: list[Any] | None, labels: dict[str, str] | None = None) -> list[Any]:
    p = pod(copy.deepcopy(tolerations))
    if labels is not None:
        p["metadata"]["labels"] = labels
    nl.admit_pod_tolerations(p)
    return p["spec"]["tolerations"]


def test_default_toleration_seconds() -> None:
    assert admitted(None) == DEFAULTS
    own = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 7}
    assert admitted([own]) == [own, DEFAULTS[0]]
    no_effect = {"key": NOT_READY, "operator": "Exists"}
    assert admitted([no_effect]) == [no_effect, DEFAULTS[1]]
    everything = {"operator": "Exists"}  # empty key and effect: tolerates both already
    assert admitted([everything]) == [everything]
    no_schedule = {"key": NOT_READY, "operator": "Exists", "effect": "NoSchedule"}
    assert admitted([no_schedule]) == [no_schedule, *DEFAULTS]


def test_offline_migration_for_autonomy_pods() -> None:
    autonomy = {"app-offline.kubeedge.io": "autonomy"}
    forever = {"key": UNREACHABLE, "operator": "Exists"}
    assert admitted(None, autonomy) == [DEFAULTS[0], forever]
    mine = {"key": "dedicated", "operator": "Exists"}
    own = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 7}
    assert admitted([mine, own], autonomy) == [mine, DEFAULTS[0], forever]
    assert admitted(admitted(None, autonomy), autonomy) == [DEFAULTS[0], forever]  # an update changes nothing
    assert admitted(None, {"app-offline.kubeedge.io": "other"}) == DEFAULTS


def test_malformed_pods_are_left_for_validation() -> None:
    for bad in ({"spec": "x"}, {"spec": {"tolerations": "x"}}, {}):
        before = copy.deepcopy(bad)
        nl.admit_pod_tolerations(bad)
        assert bad == before
    odd = {"metadata": {"labels": {"app-offline.kubeedge.io": "autonomy"}}, "spec": {"tolerations": [5]}}
    nl.admit_pod_tolerations(odd)
    assert odd["spec"]["tolerations"][0] == 5


_tolerations = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "key": st.sampled_from(["", NOT_READY, UNREACHABLE, "dedicated"]),
            "operator": st.sampled_from(["Exists", "Equal"]),
            "effect": st.sampled_from(["", "NoSchedule", "NoExecute"]),
            "tolerationSeconds": st.integers(0, 600),
        },
    ),
    max_size=4,
)


@given(_tolerations, st.booleans())
def test_admission_is_idempotent_and_every_pod_tolerates_both_taints(
    tols: list[dict], autonomy: bool
) -> None:
    labels = {"app-offline.kubeedge.io": "autonomy"} if autonomy else {}
    once = admitted(tols, labels)
    assert admitted(once, labels) == once
    for key in (NOT_READY, UNREACHABLE):
        t = {"key": key, "effect": "NoExecute"}
        assert any(tolerates(x, t) for x in once)
    if autonomy:
        assert once[-1] == {"key": UNREACHABLE, "operator": "Exists"}
        assert not any(x.get("key") == UNREACHABLE for x in once[:-1])
        if all(x.get("key") for x in once[:-1]):  # a catch-all toleration before it would be used first
            assert nl.eviction_time(pod(once), [taint(UNREACHABLE)], default_start=0) is None


# -- the controller pass on a real store ----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path):
    st_ = Storage(str(tmp_path / "db"))
    reg = new_registry()
    rest = Rest(st_, reg, clock=Clock())
    controllers = Controllers(rest, node_lifecycle=SETTINGS)

    def on_commit(event):  # as the API server wires them
        rest.observe(event)
        controllers.notify(event)

    st_.listener = on_commit
    for ns in ("default", "kube-node-lease"):
        rest.create(Target(reg.get("", "v1", "namespaces")), {"metadata": {"name": ns}}, {}, "test")
    yield rest, controllers
    st_.close()


def _t(rest: Rest, plural: str, ns: str = "", name: str = "", sub: str = "", group: str = "") -> Target:
    return Target(rest.registry.get(group, "v1", plural), ns, name, sub)


def _get(rest: Rest, plural: str, ns: str, name: str, group: str = "") -> dict[str, Any] | None:
    key = plural + ("." + group if group else "")
    stored = rest.storage.get(key, ns, name)
    return None if stored is None else stored.obj


def _heartbeat(rest: Rest, ready: str = "True") -> None:
    now = rest.clock()
    rest.patch(
        _t(rest, "leases", "kube-node-lease", "n1", group="coordination.k8s.io"),
        {"spec": {"renewTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}},
        "application/merge-patch+json",
        {},
        "kubelet",
    )
    n = _get(rest, "nodes", "", "n1")
    status = {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": ts(now)}]}
    rest.update(_t(rest, "nodes", "", "n1", "status"), {**n, "status": status}, {}, "kubelet")


def test_controller_pass_marks_taints_evicts_and_clears(world) -> None:
    rest, controllers = world
    clock = rest.clock
    rest.create(_t(rest, "nodes"), node(heartbeat=T0), {}, "kubelet")
    rest.create(_t(rest, "leases", "kube-node-lease", group="coordination.k8s.io"), lease(T0), {}, "kubelet")
    quick = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1}
    specs = {
        "plain": ([], {}),
        "quick": ([quick], {}),
        "autonomy": ([], {"app-offline.kubeedge.io": "autonomy"}),
    }
    for name, (tols, labels) in specs.items():
        body = {"metadata": {"name": name, "labels": labels}, "spec": {**pod(tols)["spec"]}}
        body["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
        rest.create(_t(rest, "pods", "default"), body, {}, "kubectl")
    assert _get(rest, "pods", "default", "plain")["spec"]["tolerations"] == DEFAULTS

    controllers.monitor_nodes()  # first sight: the grace period starts
    clock.now = T0 + 30
    _heartbeat(rest)
    controllers.monitor_nodes()
    clock.now = T0 + 71  # 41 s of silence
    controllers.monitor_nodes()
    n1 = _get(rest, "nodes", "", "n1")
    ready = next(c for c in n1["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert n1["spec"]["taints"][1] == {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": ts(T0 + 71)}
    assert {m["manager"] for m in n1["metadata"]["managedFields"]} >= {"kube-controller-manager"}
    pods = {p: _get(rest, "pods", "default", p) for p in specs}
    assert all(cond(p["status"], "Ready")["status"] == "False" for p in pods.values())
    assert not any(p["metadata"].get("deletionTimestamp") for p in pods.values())

    clock.now = T0 + 72  # quick's second has passed
    controllers.monitor_nodes()
    quick_pod = _get(rest, "pods", "default", "quick")
    assert quick_pod["metadata"]["deletionTimestamp"] == ts(T0 + 72 + 30)  # graceful: the node confirms
    assert cond(quick_pod["status"], "DisruptionTarget")["reason"] == "DeletionByTaintManager"
    assert not _get(rest, "pods", "default", "plain")["metadata"].get("deletionTimestamp")

    clock.now = T0 + 71 + 300
    controllers.monitor_nodes()
    assert _get(rest, "pods", "default", "plain")["metadata"].get("deletionTimestamp")
    assert not _get(rest, "pods", "default", "autonomy")["metadata"].get("deletionTimestamp")

    clock.now = T0 + 10**6  # back after a long time: lease renewed, Ready again
    _heartbeat(rest)
    controllers.monitor_nodes()
    n1 = _get(rest, "nodes", "", "n1")
    assert "taints" not in n1["spec"]
    rev = rest.storage.revision
    controllers.monitor_nodes()
    assert rest.storage.revision == rev  # nothing left to do: nothing written
