"""Pod status rules (kubelet's), CrashLoopBackOff delays, quantities and pod references."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.edge.edged import podstatus as ps
from kedge.edge.edged.env import QuantityError, bytes_of, millicores, parse_quantity
from kedge.edge.edged.runtime.base import CREATED, EXITED, RUNNING, ContainerInfo
from kedge.model.podrefs import pod_references

T0 = 1_800_000_000.0


def info(
    state: str, *, exit_code: int = 0, attempt: int = 0, reason: str = "", cid: str = "c1"
) -> ContainerInfo:
    return ContainerInfo(
        id=cid,
        sandbox_id="s",
        name="main",
        attempt=attempt,
        state=state,
        exit_code=exit_code,
        reason=reason,
        started_at=T0,
        finished_at=T0 + 5 if state == EXITED else 0.0,
        image_ref="sha256:abc",
    )


def view(current=None, previous=None, **kw) -> ps.ContainerView:
    return ps.ContainerView("main", "localhost/busybox:1", current=current, previous=previous, **kw)


def pod(policy: str = "Always", resources: dict | None = None) -> dict:
    ctr = {"name": "main", "image": "x"}
    if resources is not None:
        ctr["resources"] = resources
    return {"metadata": {"name": "p", "uid": "u"}, "spec": {"restartPolicy": policy, "containers": [ctr]}}


def test_crash_backoff_doubles_from_ten_seconds_to_five_minutes():
    assert [ps.crash_backoff(n) for n in range(1, 9)] == [0, 10, 20, 40, 80, 160, 300, 300]


def test_running_container_status():
    st_ = ps.container_status(view(info(RUNNING), ready=True))
    assert st_["state"] == {"running": {"startedAt": ps.rfc3339(T0)}}
    assert st_["ready"] and st_["started"] and st_["containerID"] == "containerd://c1"
    assert st_["lastState"] == {}


def test_crashloop_shows_waiting_with_last_termination():
    v = view(
        info(EXITED, exit_code=3, attempt=2),
        waiting_reason="CrashLoopBackOff",
        waiting_message="back-off 20s",
        restart_count=2,
    )
    st_ = ps.container_status(v)
    assert st_["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}}
    assert st_["lastState"]["terminated"]["exitCode"] == 3
    assert st_["lastState"]["terminated"]["reason"] == "Error"
    assert st_["restartCount"] == 2 and not st_["ready"]


def test_terminated_reasons_completed_error_oomkilled():
    assert ps.container_status(view(info(EXITED)))["state"]["terminated"]["reason"] == "Completed"
    assert ps.container_status(view(info(EXITED, exit_code=1)))["state"]["terminated"]["reason"] == "Error"
    oom = info(EXITED, exit_code=137, reason="OOMKilled")
    assert ps.container_status(view(oom))["state"]["terminated"]["reason"] == "OOMKilled"


def test_not_started_is_container_creating():
    assert ps.container_status(view())["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert ps.container_status(view(info(CREATED)))["state"] == {"waiting": {"reason": "ContainerCreating"}}


@pytest.mark.parametrize(
    ("policy", "exit_code", "phase"),
    [
        ("Never", 0, "Succeeded"),
        ("Never", 1, "Failed"),
        ("OnFailure", 0, "Succeeded"),
        ("OnFailure", 1, "Running"),
        ("Always", 0, "Running"),
        ("Always", 1, "Running"),
    ],
)
def test_phase_of_terminated_containers(policy, exit_code, phase):
    statuses = [ps.container_status(view(info(EXITED, exit_code=exit_code)))]
    assert ps.pod_phase(policy, statuses) == phase


def test_phase_pending_while_waiting_and_running_when_running():
    assert ps.pod_phase("Always", [ps.container_status(view())]) == "Pending"
    assert ps.pod_phase("Always", [ps.container_status(view(info(RUNNING)))]) == "Running"
    # waiting after having run (crash loop) counts as stopped, not pending
    looping = view(info(EXITED, exit_code=1), waiting_reason="CrashLoopBackOff")
    assert ps.pod_phase("Always", [ps.container_status(looping)]) == "Running"


def test_pod_status_conditions_keep_transition_times():
    p = pod()
    first = ps.pod_status(
        p,
        [view(info(RUNNING), ready=True)],
        sandbox_ready=True,
        pod_ip="10.88.0.5",
        host_ip="192.0.2.1",
        now=T0,
    )
    assert first["phase"] == "Running" and first["podIP"] == "10.88.0.5"
    ready = {c["type"]: c for c in first["conditions"]}["Ready"]
    assert ready["status"] == "True" and ready["lastTransitionTime"] == ps.rfc3339(T0)
    again = ps.pod_status(
        p,
        [view(info(RUNNING), ready=True)],
        sandbox_ready=True,
        pod_ip="10.88.0.5",
        host_ip="192.0.2.1",
        now=T0 + 60,
        previous=first,
    )
    assert again == first  # nothing changed: nothing to report
    down = ps.pod_status(
        p,
        [view(info(RUNNING), ready=False)],
        sandbox_ready=True,
        pod_ip="10.88.0.5",
        host_ip="192.0.2.1",
        now=T0 + 90,
        previous=first,
    )
    cond = {c["type"]: c for c in down["conditions"]}["Ready"]
    assert cond["status"] == "False" and cond["lastTransitionTime"] == ps.rfc3339(T0 + 90)
    assert cond["message"] == "containers with unready status: [main]"


def test_pod_level_failure_reason():
    st_ = ps.pod_status(
        pod(),
        [],
        sandbox_ready=False,
        pod_ip="",
        host_ip="h",
        now=T0,
        reason="InvalidPodSpec",
        message="spec.containers must be a non-empty list",
    )
    assert st_["phase"] == "Failed" and st_["reason"] == "InvalidPodSpec"


def test_qos_classes():
    assert ps.qos_class(pod()) == "BestEffort"
    same = {"cpu": "1", "memory": "64Mi"}
    assert ps.qos_class(pod(resources={"limits": same, "requests": same})) == "Guaranteed"
    assert ps.qos_class(pod(resources={"limits": same})) == "Guaranteed"  # requests default to limits
    assert ps.qos_class(pod(resources={"requests": {"memory": "64Mi"}})) == "Burstable"


def test_quantities():
    assert bytes_of("64Mi") == 64 << 20
    assert bytes_of("1G") == 10**9
    assert bytes_of(1024) == 1024
    assert millicores("500m") == 500
    assert millicores("1.5") == 1500
    assert millicores("0.0001") == 1  # rounded up, as Kubernetes does
    assert parse_quantity("1e3") == 1000
    for bad in ("", "abc", "1Qi", True, None, "inf"):
        with pytest.raises(QuantityError):
            parse_quantity(bad)
    for negative in ("-1", "-64Mi"):  # a limit cannot be negative
        with pytest.raises(QuantityError, match="must not be negative"):
            bytes_of(negative)


@given(st.integers(min_value=0, max_value=2**40))
def test_binary_suffixes_round_trip(n):
    assert bytes_of("%dKi" % n) == n * 1024


def test_pod_references_cover_volumes_env_and_pull_secrets():
    p = {
        "spec": {
            "volumes": [
                {"name": "a", "configMap": {"name": "cm-vol"}},
                {"name": "b", "secret": {"secretName": "sec-vol"}},
                {
                    "name": "c",
                    "projected": {
                        "sources": [{"configMap": {"name": "cm-proj"}}, {"secret": {"name": "sec-proj"}}]
                    },
                },
                {"name": "d", "emptyDir": {}},
                "garbage",
            ],
            "initContainers": [{"envFrom": [{"secretRef": {"name": "sec-init"}}]}],
            "containers": [
                {
                    "env": [
                        {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm-env", "key": "k"}}},
                        {"name": "Y", "valueFrom": {"secretKeyRef": {"name": "sec-env", "key": "k"}}},
                        {"name": "Z", "value": "plain"},
                    ],
                    "envFrom": [{"configMapRef": {"name": "cm-from"}}],
                },
            ],
            "imagePullSecrets": [{"name": "pull"}],
        }
    }
    assert pod_references(p) == {
        ("configmap", "cm-vol"),
        ("secret", "sec-vol"),
        ("configmap", "cm-proj"),
        ("secret", "sec-proj"),
        ("secret", "sec-init"),
        ("configmap", "cm-env"),
        ("secret", "sec-env"),
        ("configmap", "cm-from"),
        ("secret", "pull"),
    }
    assert pod_references({"spec": "nope"}) == set()
    assert pod_references({}) == set()


def test_init_containers_keep_the_pod_pending_until_done():
    p = pod()
    init = ps.ContainerView("setup", "x", current=info(RUNNING, cid="i1"))
    main = view(waiting_reason="PodInitializing")
    st_ = ps.pod_status(p, [main], sandbox_ready=True, pod_ip="", host_ip="h", now=T0, init_views=[init],
                        initialized=False)  # fmt: skip
    assert st_["phase"] == "Pending"
    cond = {c["type"]: c for c in st_["conditions"]}["Initialized"]
    assert cond["status"] == "False" and cond["reason"] == "ContainersNotInitialized"
    assert cond["message"] == "containers with incomplete status: [setup]"
    assert st_["initContainerStatuses"][0]["state"]["running"]
    assert st_["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}

    done = ps.ContainerView("setup", "x", current=info(EXITED, cid="i1"))
    st_ = ps.pod_status(p, [view(info(RUNNING), ready=True)], sandbox_ready=True, pod_ip="", host_ip="h",
                        now=T0, init_views=[done], initialized=True, previous=st_)  # fmt: skip
    assert st_["phase"] == "Running" and st_["initContainerStatuses"][0]["ready"]
    assert {c["type"]: c["status"] for c in st_["conditions"]}["Initialized"] == "True"


def test_a_failed_init_container_with_restart_never_fails_the_pod():
    failed = ps.ContainerView("setup", "x", current=info(EXITED, exit_code=2, cid="i1"))
    st_ = ps.pod_status(pod("Never"), [view()], sandbox_ready=True, pod_ip="", host_ip="h", now=T0,
                        init_views=[failed], initialized=False, init_failed=True)  # fmt: skip
    assert st_["phase"] == "Failed"
    assert st_["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    assert not st_["initContainerStatuses"][0]["ready"]


STARTED = {"running": {"startedAt": "2026-01-01T00:00:04Z"}}
RUNNING_STATUS = {
    "phase": "Running",
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": "2026-01-01T00:00:05Z",
        },
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"},
    ],
    "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0, "state": STARTED}],
    "podIP": "10.0.0.5",
}
INITIALIZED = {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-01-01T00:00:01Z"}


def test_a_status_the_cloud_holds_is_applied_whatever_the_cloud_added() -> None:
    cloud = {
        **RUNNING_STATUS,
        "qosClass": "BestEffort",  # the API server's own fields
        "conditions": [*reversed(RUNNING_STATUS["conditions"]), INITIALIZED],
    }
    assert ps.status_applied(RUNNING_STATUS, cloud)
    assert ps.status_applied({}, {})


@pytest.mark.parametrize(
    "cloud",
    [
        None,  # the cloud's copy has no status yet (the patch was lost)
        {**RUNNING_STATUS, "phase": "Pending"},
        {  # the node lifecycle marked it not Ready while the node was away
            **RUNNING_STATUS,
            "conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": "2026-01-01T00:01:00Z"},
                RUNNING_STATUS["conditions"][1],
            ],
        },
        {**RUNNING_STATUS, "containerStatuses": []},
        {k: v for k, v in RUNNING_STATUS.items() if k != "podIP"},
        {**RUNNING_STATUS, "podIP": ["10.0.0.5"]},
    ],
)
def test_a_status_the_cloud_lacks_or_changed_is_not_applied(cloud) -> None:
    assert not ps.status_applied(RUNNING_STATUS, cloud)


def test_a_null_is_an_absent_field() -> None:
    assert ps.status_applied({"lastProbeTime": None, "status": "True"}, {"status": "True"})
    assert ps.status_applied({"lastProbeTime": None}, {"lastProbeTime": None})
    assert not ps.status_applied({"lastProbeTime": None}, {"lastProbeTime": "2026-01-01T00:00:00Z"})


def test_numbers_and_booleans_are_not_confused() -> None:
    assert not ps.status_applied({"restartCount": 1}, {"restartCount": True})
    assert not ps.status_applied({"ready": True}, {"ready": 1})
