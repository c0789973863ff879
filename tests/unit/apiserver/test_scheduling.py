"""The minimal scheduler: each filter, kube-scheduler's message text, scoring, quantities."""

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.apiserver.scheduling import (
    NOT_OURS,
    Decision,
    QuantityError,
    binding,
    node_taints,
    parse_quantity,
    pod_requests,
    pod_scheduled_condition,
    resource_units,
    schedule,
    tolerates,
)

POST_ALL_UNHELPFUL = (
    "no new claims to deallocate, preemption: 0/%d nodes are available: "
    "%d Preemption is not helpful for scheduling."
)


def node(
    name: str,
    *,
    ready: str | None = "True",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, Any]] | None = None,
    unschedulable: bool = False,
    allocatable: dict[str, Any] | None = None,
    capacity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if ready is not None:
        status["conditions"] = [
            {"type": "MemoryPressure", "status": "False"},
            {"type": "Ready", "status": ready},
        ]
    status["allocatable"] = (
        {"cpu": "4", "memory": "8Gi", "pods": "110"} if allocatable is None else allocatable
    )
    if capacity is not None:
        status["capacity"] = capacity
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec, "status": status}


def pod(
    *,
    requests: dict[str, Any] | None = None,
    node_selector: dict[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
    terms: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "nginx"}
    if requests:
        container["resources"] = {"requests": requests}
    s: dict[str, Any] = {"containers": [container], **spec}
    if node_selector:
        s["nodeSelector"] = node_selector
    if tolerations:
        s["tolerations"] = tolerations
    if terms is not None:
        s["affinity"] = {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}
        }
    return {"metadata": {"name": "web", "namespace": "ns1", "uid": "u-1"}, "spec": s}


def message(*parts: str, total: int, post: str | None = None) -> str:
    return "0/%d nodes are available: %s. %s" % (
        total,
        ", ".join(parts),
        post or POST_ALL_UNHELPFUL % (total, total),
    )


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    e: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        e["values"] = list(values)
    return e


def placed(p: dict[str, Any], *nodes: dict[str, Any], counts: dict[str, int] | None = None) -> str | None:
    return schedule(p, list(nodes), counts or {}).node


# -- quantities --------------------------------------------------------------------------------------

QUANTITIES = [
    ("100m", Fraction(1, 10)),
    ("1", Fraction(1)),
    ("0", Fraction(0)),
    ("512Mi", Fraction(512 * 2**20)),
    ("1G", Fraction(10**9)),
    ("1e3", Fraction(1000)),
    ("1E3", Fraction(1000)),
    ("1e+3", Fraction(1000)),
    ("1e-3", Fraction(1, 1000)),
    ("1E", Fraction(10**18)),
    ("2k", Fraction(2000)),
    ("1M", Fraction(10**6)),
    ("1T", Fraction(10**12)),
    ("1P", Fraction(10**15)),
    ("100n", Fraction(1, 10**7)),
    ("5u", Fraction(5, 10**6)),
    ("1Ki", Fraction(1024)),
    ("1.5Gi", Fraction(3 * 2**29)),
    ("1Ti", Fraction(2**40)),
    ("1Pi", Fraction(2**50)),
    ("1Ei", Fraction(2**60)),
    ("1.5", Fraction(3, 2)),
    (".5", Fraction(1, 2)),
    ("1.", Fraction(1)),
    ("+1", Fraction(1)),
    ("-1", Fraction(-1)),
    ("0.1", Fraction(1, 10)),
    (2, Fraction(2)),
    (0.5, Fraction(1, 2)),
]

FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
NUMERIC = "unable to parse numeric part of quantity"
SUFFIX = "unable to parse quantity's suffix"

BAD_QUANTITIES = [
    ("", FORMAT),
    ("abc", FORMAT),
    ("1 Mi", FORMAT),
    (" 1", FORMAT),
    ("e3", FORMAT),
    ("--1", FORMAT),
    ("1e1.5", FORMAT),
    (True, FORMAT),
    (None, FORMAT),
    (".", NUMERIC),
    ("1.2.3", NUMERIC),
    ("1ki", SUFFIX),
    ("1e", SUFFIX),
    ("1mm", SUFFIX),
    ("1Mi5", SUFFIX),
    ("1i", SUFFIX),
]


@pytest.mark.parametrize(("text", "value"), QUANTITIES)
def test_parse_quantity(text: Any, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(("text", "error"), BAD_QUANTITIES)
def test_parse_quantity_rejects(text: Any, error: str) -> None:
    with pytest.raises(QuantityError) as e:
        parse_quantity(text)
    assert str(e.value) == error


@pytest.mark.parametrize(
    ("resource", "text", "units"),
    [
        ("cpu", "100m", 100),
        ("cpu", "1", 1000),
        ("cpu", "0.1m", 1),
        ("cpu", "1.5", 1500),
        ("memory", "1.5", 2),
        ("memory", "1Ki", 1024),
        ("pods", "110", 110),
    ],
)
def test_resource_units_round_up(resource: str, text: str, units: int) -> None:
    assert resource_units(resource, parse_quantity(text)) == units


SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "m": Fraction(1, 1000),
}


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(sorted(SUFFIXES)))
def test_parse_quantity_scales_integers(n: int, suffix: str) -> None:
    assert parse_quantity("%d%s" % (n, suffix)) == n * SUFFIXES[suffix]


@given(st.integers(min_value=0, max_value=10**9))
def test_millicores_round_trip(m: int) -> None:
    assert resource_units("cpu", parse_quantity("%dm" % m)) == m


# -- pod requests ------------------------------------------------------------------------------------


def test_pod_requests_sum_containers_and_default_requests_to_limits() -> None:
    p = {
        "spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {
                    "resources": {
                        "limits": {"cpu": "500m", "memory": "128Mi"},
                        "requests": {"memory": "100Mi"},
                    }
                },
                {},
            ]
        }
    }
    assert pod_requests(p) == {"cpu": 750, "memory": (64 + 100) * 2**20}


def test_pod_requests_take_the_init_container_peak_with_sidecars_running() -> None:
    p = {
        "spec": {
            "initContainers": [
                {"resources": {"requests": {"cpu": "2"}}},
                {"restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "10"}}},
                {"resources": {"requests": {"cpu": "1", "memory": "50"}}},
            ],
            "containers": [{"resources": {"requests": {"cpu": "300m", "memory": "20"}}}],
        }
    }
    # containers + sidecar = 400m / 30; first init alone 2000m; second init with sidecar 1100m / 60.
    assert pod_requests(p) == {"cpu": 2000, "memory": 60}


def test_pod_requests_use_pod_level_resources_and_add_overhead() -> None:
    p = {
        "spec": {
            "resources": {"requests": {"cpu": "2"}, "limits": {"memory": "1Gi"}},
            "containers": [
                {"resources": {"requests": {"cpu": "100m", "memory": "64Mi", "example.com/gpu": "1"}}}
            ],
            "overhead": {"cpu": "50m"},
        }
    }
    assert pod_requests(p) == {"cpu": 2050, "memory": 2**30, "example.com/gpu": 1}


def test_pod_requests_name_the_bad_field() -> None:
    p = {"spec": {"containers": [{}, {"resources": {"requests": {"cpu": "lots"}}}]}}
    with pytest.raises(QuantityError) as e:
        pod_requests(p)
    assert str(e.value) == "spec.containers[1].resources.requests[cpu]: " + FORMAT


def test_bad_node_quantity_names_the_node() -> None:
    with pytest.raises(QuantityError) as e:
        schedule(pod(requests={"cpu": "1"}), [node("n1", allocatable={"cpu": "x"})], {})
    assert str(e.value) == "node n1: status.allocatable[cpu]: " + FORMAT


# -- what is not ours --------------------------------------------------------------------------------


def test_pod_with_node_name_keeps_its_node() -> None:
    assert schedule(pod(nodeName="n9"), [node("n1")], {}) == Decision("n9", "", "")


def test_other_scheduler_is_not_ours() -> None:
    assert schedule(pod(schedulerName="volcano"), [node("n1")], {}) is NOT_OURS
    assert schedule(pod(schedulerName="default-scheduler"), [node("n1")], {}).node == "n1"


def test_terminating_pod_is_not_scheduled() -> None:
    p = pod()
    p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert schedule(p, [node("n1")], {}) is NOT_OURS


def test_gated_pod_waits() -> None:
    d = schedule(pod(schedulingGates=[{"name": "example.com/wait"}]), [node("n1")], {})
    assert d == Decision(None, "SchedulingGated", "Scheduling is blocked due to non-empty scheduling gates")


def test_no_nodes() -> None:
    assert schedule(pod(), [], {}) == Decision(None, "Unschedulable", "no nodes available to schedule pods")


# -- readiness and taints ----------------------------------------------------------------------------


def test_ready_node_is_feasible_and_success_says_so() -> None:
    assert schedule(pod(), [node("n1")], {}) == Decision(
        "n1", "Scheduled", "Successfully assigned ns1/web to n1"
    )


@pytest.mark.parametrize(
    ("ready", "key"),
    [
        ("False", "node.kubernetes.io/not-ready"),
        ("Unknown", "node.kubernetes.io/unreachable"),
        (None, "node.kubernetes.io/unreachable"),
    ],
)
def test_not_ready_node_carries_the_lifecycle_taint(ready: str | None, key: str) -> None:
    n = node("n1", ready=ready)
    assert node_taints(n) == [{"key": key, "effect": "NoSchedule"}]
    assert schedule(pod(), [n], {}) == Decision(
        None, "Unschedulable", message("1 node(s) had untolerated taint(s)", total=1)
    )
    assert placed(pod(tolerations=[{"key": key, "operator": "Exists", "effect": "NoSchedule"}]), n) == "n1"


def test_not_ready_toleration_does_not_cover_unreachable() -> None:
    tol = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}]
    assert placed(pod(tolerations=tol), node("n1", ready="Unknown")) is None
    assert placed(pod(tolerations=tol), node("n1", ready="False")) == "n1"


def test_lifecycle_taint_already_on_the_node_is_not_doubled() -> None:
    t = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": "2026-01-01T00:00:00Z"}
    assert node_taints(node("n1", ready="False", taints=[t])) == [t]
    assert node_taints(node("n1", taints=[t])) == [t]


@pytest.mark.parametrize(
    ("toleration", "taint", "ok"),
    [
        (
            {"key": "k", "value": "v", "effect": "NoSchedule"},
            {"key": "k", "value": "v", "effect": "NoSchedule"},
            True,
        ),
        (
            {"key": "k", "operator": "Equal", "value": "v"},
            {"key": "k", "value": "v", "effect": "NoExecute"},
            True,
        ),
        ({"key": "k", "value": "w"}, {"key": "k", "value": "v", "effect": "NoSchedule"}, False),
        ({"key": "k"}, {"key": "k", "value": "v", "effect": "NoSchedule"}, False),
        ({"key": "k"}, {"key": "k", "effect": "NoSchedule"}, True),
        ({"key": "k", "operator": "Exists"}, {"key": "k", "value": "v", "effect": "NoSchedule"}, True),
        ({"key": "other", "operator": "Exists"}, {"key": "k", "effect": "NoSchedule"}, False),
        ({"operator": "Exists"}, {"key": "anything", "value": "x", "effect": "NoExecute"}, True),
        (
            {"key": "k", "operator": "Exists", "effect": "NoExecute"},
            {"key": "k", "effect": "NoSchedule"},
            False,
        ),
        ({"key": "k", "operator": "Exists", "effect": ""}, {"key": "k", "effect": "NoExecute"}, True),
        (
            {"key": "k", "operator": "Gt", "value": "1"},
            {"key": "k", "value": "2", "effect": "NoSchedule"},
            False,
        ),
    ],
)
def test_toleration_rules(toleration: dict[str, Any], taint: dict[str, Any], ok: bool) -> None:
    assert tolerates(toleration, taint) is ok


@pytest.mark.parametrize("effect", ["NoSchedule", "NoExecute"])
def test_blocking_taints_need_a_toleration(effect: str) -> None:
    n = node("n1", taints=[{"key": "dedicated", "value": "gpu", "effect": effect}])
    assert placed(pod(), n) is None
    assert placed(pod(tolerations=[{"key": "dedicated", "value": "gpu", "effect": effect}]), n) == "n1"
    assert placed(pod(tolerations=[{"key": "dedicated", "value": "cpu"}]), n) is None


def test_prefer_no_schedule_is_ignored() -> None:
    assert placed(pod(), node("n1", taints=[{"key": "spot", "effect": "PreferNoSchedule"}])) == "n1"


def test_every_blocking_taint_must_be_tolerated() -> None:
    n = node("n1", taints=[{"key": "a", "effect": "NoSchedule"}, {"key": "b", "effect": "NoExecute"}])
    assert placed(pod(tolerations=[{"key": "a", "operator": "Exists"}]), n) is None
    assert (
        placed(pod(tolerations=[{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]), n)
        == "n1"
    )


# -- unschedulable -----------------------------------------------------------------------------------


def test_cordoned_node() -> None:
    n = node("n1", unschedulable=True)
    assert schedule(pod(), [n], {}).message == message("1 node(s) were unschedulable", total=1)
    unsched = {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}
    assert placed(pod(tolerations=[unsched]), n) == "n1"
    assert placed(pod(tolerations=[{"operator": "Exists"}]), n) == "n1"


# -- node selector and affinity ----------------------------------------------------------------------


def test_node_selector() -> None:
    n = node("n1", labels={"zone": "a", "disk": ""})
    assert placed(pod(node_selector={"zone": "a"}), n) == "n1"
    assert placed(pod(node_selector={"zone": "a", "disk": ""}), n) == "n1"
    assert placed(pod(node_selector={"zone": "b"}), n) is None
    assert placed(pod(node_selector={"gpu": ""}), n) is None
    assert schedule(pod(node_selector={"zone": "b"}), [n], {}).message == message(
        "1 node(s) didn't match Pod's node affinity/selector", total=1
    )


LABELS = {"zone": "a", "cores": "8", "bad-int": "8.5"}


@pytest.mark.parametrize(
    ("requirement", "ok"),
    [
        (expr("zone", "In", "a", "b"), True),
        (expr("zone", "In", "b"), False),
        (expr("missing", "In", "a"), False),
        (expr("zone", "NotIn", "b"), True),
        (expr("zone", "NotIn", "a"), False),
        (expr("missing", "NotIn", "a"), True),
        (expr("zone", "Exists"), True),
        (expr("missing", "Exists"), False),
        (expr("missing", "DoesNotExist"), True),
        (expr("zone", "DoesNotExist"), False),
        (expr("cores", "Gt", "4"), True),
        (expr("cores", "Gt", "8"), False),
        (expr("cores", "Lt", "16"), True),
        (expr("cores", "Lt", "8"), False),
        (expr("cores", "Gt", "+7"), True),
        (expr("missing", "Gt", "1"), False),
        (expr("bad-int", "Gt", "1"), False),
        (expr("zone", "Gt", "1"), False),
        # invalid requirements select nothing
        (expr("cores", "Gt", "1", "2"), False),
        (expr("cores", "Gt", "x"), False),
        (expr("zone", "In"), False),
        (expr("missing", "NotIn"), False),
        (expr("zone", "Exists", "a"), False),
        (expr("zone", "Matches", "a"), False),
    ],
)
def test_match_expressions(requirement: dict[str, Any], ok: bool) -> None:
    p = pod(terms=[{"matchExpressions": [requirement]}])
    assert (placed(p, node("n1", labels=LABELS)) == "n1") is ok


def test_terms_are_ored_and_requirements_anded() -> None:
    n = node("n1", labels={"zone": "a", "disk": "ssd"})
    both = {"matchExpressions": [expr("zone", "In", "a"), expr("disk", "In", "hdd")]}
    assert placed(pod(terms=[both]), n) is None
    other = {"matchExpressions": [expr("disk", "Exists")]}
    assert placed(pod(terms=[both, other]), n) == "n1"


def test_empty_term_and_empty_terms_select_nothing() -> None:
    assert placed(pod(terms=[{}]), node("n1")) is None
    assert placed(pod(terms=[{"matchExpressions": []}]), node("n1")) is None
    assert schedule(pod(terms=[]), [node("n1")], {}).message == message(
        "1 node(s) didn't match Pod's node affinity/selector", total=1
    )


def test_selector_and_affinity_must_both_match() -> None:
    n = node("n1", labels={"zone": "a"})
    assert (
        placed(pod(node_selector={"zone": "a"}, terms=[{"matchExpressions": [expr("zone", "In", "b")]}]), n)
        is None
    )


def test_match_fields_not_in() -> None:
    p = pod(terms=[{"matchFields": [expr("metadata.name", "NotIn", "n1")]}])
    assert placed(p, node("n1"), node("n2")) == "n2"


@pytest.mark.parametrize(
    "field",
    [
        expr("metadata.name", "In", "n1", "n2"),
        expr("metadata.labels", "In", "n1"),
        expr("metadata.name", "Exists"),
    ],
)
def test_invalid_match_fields_select_nothing(field: dict[str, Any]) -> None:
    assert (
        placed(
            pod(terms=[{"matchFields": [field], "matchExpressions": [expr("x", "DoesNotExist")]}]), node("n1")
        )
        is None
    )


def test_match_fields_in_narrows_the_nodes_examined() -> None:
    p = pod(terms=[{"matchFields": [expr("metadata.name", "In", "n2")]}])
    assert placed(p, node("n1"), node("n2"), node("n3"), counts={"n2": 50}) == "n2"
    d = schedule(p, [node("n1"), node("n2", unschedulable=True), node("n3")], {})
    assert d.message == message(
        "1 node(s) were unschedulable", "2 node(s) didn't satisfy plugin(s) [NodeAffinity]", total=3
    )


def test_match_fields_in_every_term_that_cannot_meet() -> None:
    p = pod(terms=[{"matchFields": [expr("metadata.name", "In", "n1"), expr("metadata.name", "In", "n2")]}])
    d = schedule(p, [node("n1"), node("n2")], {})
    assert d == Decision(
        None,
        "Unschedulable",
        "0/2 nodes are available: pod affinity terms conflict. " + POST_ALL_UNHELPFUL % (2, 2),
    )


def test_a_term_without_a_name_keeps_all_nodes_in_play() -> None:
    p = pod(
        terms=[
            {"matchFields": [expr("metadata.name", "In", "n1")]},
            {"matchExpressions": [expr("zone", "In", "b")]},
        ]
    )
    assert placed(p, node("n1"), node("n2", labels={"zone": "b"}), counts={"n1": 3}) == "n2"


# -- resources ---------------------------------------------------------------------------------------


def test_too_many_pods_uses_allocatable_then_capacity_then_110() -> None:
    assert placed(pod(), node("n1", allocatable={"pods": "2"}), counts={"n1": 2}) is None
    assert placed(pod(), node("n1", allocatable={"pods": "3"}), counts={"n1": 2}) == "n1"
    assert placed(pod(), node("n1", allocatable={}, capacity={"pods": "2"}), counts={"n1": 2}) is None
    assert placed(pod(), node("n1", allocatable={}), counts={"n1": 109}) == "n1"
    d = schedule(pod(), [node("n1", allocatable={})], {"n1": 110})
    assert d.message == message(
        "1 Too many pods",
        total=1,
        post="no new claims to deallocate, preemption: 0/1 nodes are available: "
        "1 No preemption victims found for incoming pod.",
    )


def test_requests_fit_in_allocatable_minus_requested() -> None:
    p = pod(requests={"cpu": "500m", "memory": "1Gi"})
    n = node("n1", allocatable={"cpu": "2", "memory": "4Gi", "pods": "10"})
    assert placed(p, n) == "n1"
    assert schedule(p, [n], {"n1": 1}, {"n1": {"cpu": 1500, "memory": 3 * 2**30}}).node == "n1"  # exact fit
    d = schedule(p, [n], {"n1": 2}, {"n1": {"cpu": 1501, "memory": 3 * 2**30 + 1}})
    assert d.node is None
    assert d.message.startswith("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. ")


def test_capacity_stands_in_for_missing_allocatable() -> None:
    p = pod(requests={"cpu": "1"})
    assert placed(p, node("n1", allocatable={}, capacity={"cpu": "1"})) == "n1"
    assert placed(p, node("n1", allocatable={})) is None  # nothing reported: nothing to give


def test_a_node_reports_all_its_shortfalls() -> None:
    p = pod(requests={"cpu": "3", "memory": "1Gi", "example.com/gpu": "1"})
    n = node("n1", allocatable={"cpu": "4", "memory": "8Gi", "pods": "1", "example.com/gpu": "1"})
    d = schedule(p, [n], {"n1": 1}, {"n1": {"cpu": 2000, "example.com/gpu": 1}})
    assert d.message.startswith(
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient example.com/gpu, 1 Too many pods. "
    )


def test_unknown_plain_resource_names_are_not_checked() -> None:
    assert placed(pod(requests={"bananas": "5"}), node("n1")) == "n1"


def test_preemption_text_distinguishes_room_from_never_enough() -> None:
    p = pod(requests={"cpu": "2"})
    full = node("full", allocatable={"cpu": "4", "pods": "110"})
    small = node("small", allocatable={"cpu": "1", "pods": "110"})
    tainted = node("tainted", taints=[{"key": "x", "effect": "NoSchedule"}])
    d = schedule(p, [full, small, tainted], {"full": 3}, {"full": {"cpu": 3000}})
    assert d.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. "
        "no new claims to deallocate, preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
    )


def test_preemption_policy_never() -> None:
    p = pod(requests={"cpu": "8"}, preemptionPolicy="Never")
    d = schedule(p, [node("n1")], {})
    assert d.message == (
        "0/1 nodes are available: 1 Insufficient cpu. "
        "no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never."
    )


# -- combined messages and filter order -------------------------------------------------------------


def test_combined_failures_in_kube_scheduler_words() -> None:
    nodes = [node("a", labels={"zone": "b"}), node("b", ready="False"), node("c", ready="False")]
    d = schedule(pod(node_selector={"zone": "a"}), nodes, {})
    assert d == Decision(
        None,
        "Unschedulable",
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "2 node(s) had untolerated taint(s). no new claims to deallocate, "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    )


def test_histogram_sorts_as_strings_like_go() -> None:
    nodes = [node("u%02d" % i, unschedulable=True) for i in range(10)]
    nodes += [node("t1", ready="False"), node("t2", ready="False")]
    d = schedule(pod(), nodes, {})
    assert d.message == message(
        "10 node(s) were unschedulable", "2 node(s) had untolerated taint(s)", total=12
    )


def test_each_node_reports_only_its_first_failing_filter() -> None:
    everything_wrong = node(
        "n1", ready="False", unschedulable=True, labels={"zone": "b"}, allocatable={"cpu": "0", "pods": "0"}
    )
    assert schedule(
        pod(node_selector={"zone": "a"}, requests={"cpu": "1"}), [everything_wrong], {}
    ).message == (message("1 node(s) were unschedulable", total=1))
    tainted_elsewhere = node("n1", ready="False", labels={"zone": "b"})
    assert schedule(pod(node_selector={"zone": "a"}), [tainted_elsewhere], {}).message == (
        message("1 node(s) had untolerated taint(s)", total=1)
    )
    mismatched_and_full = node("n1", labels={"zone": "b"}, allocatable={"pods": "0"})
    assert schedule(pod(node_selector={"zone": "a"}), [mismatched_and_full], {}).message == (
        message("1 node(s) didn't match Pod's node affinity/selector", total=1)
    )


# -- scoring -----------------------------------------------------------------------------------------


def test_fewest_pods_then_name() -> None:
    nodes = [node("c"), node("b"), node("a")]
    assert placed(pod(), *nodes, counts={"a": 2, "b": 1, "c": 1}) == "b"
    assert placed(pod(), *nodes) == "a"
    assert placed(pod(), *nodes, counts={"a": 1}) == "b"


def test_infeasible_nodes_never_win() -> None:
    nodes = [node("a", ready="False"), node("b")]
    assert placed(pod(), *nodes, counts={"b": 100}) == "b"


@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(min_value=0, max_value=50)))
def test_choice_is_the_minimum_of_count_and_name(counts: dict[str, int]) -> None:
    nodes = [node(n) for n in "fedcba"]
    expected = min("abcdef", key=lambda n: (counts.get(n, 0), n))
    assert placed(pod(), *nodes, counts=counts) == expected


# -- condition and binding ---------------------------------------------------------------------------


def test_pod_scheduled_condition_for_failure() -> None:
    d = Decision(None, "Unschedulable", "0/1 nodes are available: ...")
    assert pod_scheduled_condition(d, "2026-05-01T10:00:00Z") == {
        "type": "PodScheduled",
        "status": "False",
        "lastProbeTime": None,
        "lastTransitionTime": "2026-05-01T10:00:00Z",
        "reason": "Unschedulable",
        "message": "0/1 nodes are available: ...",
    }


def test_pod_scheduled_condition_for_gate_and_success() -> None:
    gated = Decision(None, "SchedulingGated", "Scheduling is blocked due to non-empty scheduling gates")
    cond = pod_scheduled_condition(gated, "2026-05-01T10:00:00Z", observed_generation=3)
    assert list(cond) == [
        "type",
        "observedGeneration",
        "status",
        "lastProbeTime",
        "lastTransitionTime",
        "reason",
        "message",
    ]
    assert (cond["observedGeneration"], cond["status"], cond["reason"]) == (3, "False", "SchedulingGated")
    ok = pod_scheduled_condition(Decision("n1", "Scheduled", "..."), "2026-05-01T10:00:00Z")
    assert ok == {
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": "2026-05-01T10:00:00Z",
    }


def test_no_condition_for_pods_that_are_not_ours() -> None:
    with pytest.raises(ValueError, match="does not place"):
        pod_scheduled_condition(NOT_OURS, "2026-05-01T10:00:00Z")


def test_binding() -> None:
    assert binding(pod(), "n1") == {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "web", "namespace": "ns1", "uid": "u-1"},
        "target": {"kind": "Node", "name": "n1"},
    }
    assert binding({"metadata": {"name": "p"}}, "n2")["metadata"] == {"name": "p", "namespace": "default"}


def test_verdicts_remembered_per_node_version_keep_each_pod_shape_apart() -> None:
    from kedge.apiserver.scheduling import node_infos, schedule_sampled

    edge_taint = {"key": "node-role.kubernetes.io/edge", "effect": "NoSchedule"}
    infos = node_infos(
        [
            node("edge-1", labels={"zone": "a"}, taints=[edge_taint]),
            node("edge-2", labels={"zone": "b"}, taints=[edge_taint]),
        ]
    )
    tolerate = [{"key": "node-role.kubernetes.io/edge", "operator": "Exists"}]
    tolerant = pod(tolerations=tolerate)
    in_b = pod(tolerations=tolerate, node_selector={"zone": "b"})
    intolerant = pod()
    for _ in range(2):  # the second round reads the remembered verdicts: the same answers
        assert schedule_sampled(tolerant, infos, {"edge-1": 0, "edge-2": 1})[0].node == "edge-1"
        assert schedule_sampled(in_b, infos, {})[0].node == "edge-2"
        assert schedule_sampled(intolerant, infos, {})[0].node is None
    assert all(len(i.static) == 3 for i in infos)
    # a new version of a node (it lost its taint) is a new NodeInfo: nothing remembered carries over
    [fresh] = node_infos([node("edge-1", labels={"zone": "a"})])
    assert fresh.static == {} and schedule_sampled(intolerant, [fresh], {})[0].node == "edge-1"
