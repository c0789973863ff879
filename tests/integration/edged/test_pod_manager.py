"""PodManager and PodWorker on the process runtime (real host processes): start, status, restarts with
back-off, probes, volumes from configmaps, graceful deletion, adoption by a restarted manager."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kedge.edge.edged import podstatus
from kedge.edge.edged.manager import PodManager
from kedge.edge.edged.podworker import PodWorker
from kedge.edge.edged.runtime.process import ProcessRuntime

NODE = "n1"


class Harness:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.statuses: dict[str, dict] = {}
        self.terminated: list[PodWorker] = []
        self.runtime = ProcessRuntime(tmp / "rt", NODE)
        self.mgr = self.manager()

    def manager(self) -> PodManager:
        return PodManager(
            self.runtime,
            NODE,
            root_dir=self.tmp / "kubelet",
            log_dir=self.tmp / "logs",
            lookup=lambda kind, ns, name: self.objects.get((kind, ns, name)),
            report=lambda w, st: self.statuses.__setitem__(w.name, st),
            on_terminated=self.terminated.append,
            host_ip="192.0.2.10",
        )

    def status(self, name: str) -> dict:
        return self.statuses.get(name) or {}

    def container(self, name: str) -> dict:
        return (self.status(name).get("containerStatuses") or [{}])[0]

    async def until(self, cond: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
        async with asyncio.timeout(timeout):
            while not (v := cond()):
                await asyncio.sleep(0.05)
        return v


def pod(name: str, script: str, *, restart: str = "Always", **extra: Any) -> dict:
    ctr = {"name": "main", "image": "busybox", "command": ["/bin/sh", "-c", script]}
    ctr.update(extra.pop("container", {}))
    return {
        "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4())},
        "spec": {
            "nodeName": NODE,
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "containers": [ctr],
            **extra,
        },
    }


@pytest.fixture
async def h(tmp_path: Path):
    harness = Harness(tmp_path)
    await harness.runtime.start()
    yield harness
    await harness.mgr.close()
    for sb in await harness.runtime.list_sandboxes():
        await harness.runtime.stop_sandbox(sb.id)
        await harness.runtime.remove_sandbox(sb.id)
    await harness.runtime.close()


async def test_pod_runs_with_env_and_configmap_volume_that_follows_updates(h: Harness):
    if os.geteuid() != 0:
        pytest.skip("volume mounts on the process runtime need root")
    h.objects[("configmap", "default", "cfg")] = {"metadata": {"name": "cfg"}, "data": {"color": "blue"}}
    h.objects[("secret", "default", "sec")] = {
        "metadata": {"name": "sec"},
        "data": {"pw": base64.b64encode(b"s3cret").decode()},
    }
    out = h.tmp / "out.txt"
    p = pod(
        "web",
        'echo "pw=$PW" > %s; while true; do cat /etc/cfg/color > %s.color; sleep 0.1; done' % (out, out),
        volumes=[{"name": "cfg", "configMap": {"name": "cfg"}}],
        container={
            "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/kedge-test-cfg-%s" % uuid.uuid4().hex[:6]}],
        },
    )
    mount = p["spec"]["containers"][0]["volumeMounts"][0]["mountPath"]
    p["spec"]["containers"][0]["command"][2] = p["spec"]["containers"][0]["command"][2].replace(
        "/etc/cfg", mount
    )
    h.mgr.apply("insert", p)
    h.mgr.start_polling()
    await h.until(lambda: h.status("web").get("phase") == "Running" and h.container("web").get("ready"))
    assert h.status("web")["conditions"][2]["type"] == "Ready"
    await h.until(lambda: out.exists() and out.read_text() == "pw=s3cret\n")
    color = Path(str(out) + ".color")
    await h.until(lambda: color.exists() and color.read_text() == "blue")
    h.objects[("configmap", "default", "cfg")] = {"metadata": {"name": "cfg"}, "data": {"color": "green"}}
    assert h.mgr.config_changed("configmap", "default", "cfg") == 1
    await h.until(lambda: color.read_text() == "green", what="the mounted file to change")
    os.rmdir(mount) if os.path.isdir(mount) and not os.listdir(mount) else None


async def test_crash_loop_backs_off_and_counts_restarts(h: Harness, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(podstatus, "BACKOFF_INITIAL", 0.3)
    h.mgr.apply("insert", pod("crash", "exit 3"))
    h.mgr.start_polling()
    st = await h.until(lambda: h.container("crash").get("restartCount", 0) >= 3 and h.container("crash"))
    assert st["lastState"]["terminated"]["exitCode"] == 3
    seen = await h.until(
        lambda: (
            h.container("crash").get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
            and h.container("crash")
        )
    )
    assert "back-off" in seen["state"]["waiting"]["message"]
    assert h.status("crash")["phase"] == "Running"  # restartPolicy Always: a crash loop is still Running


async def test_never_policy_ends_failed_and_onfailure_completes(h: Harness):
    h.mgr.apply("insert", pod("once", "exit 1", restart="Never"))
    h.mgr.apply("insert", pod("fine", "exit 0", restart="OnFailure"))
    h.mgr.start_polling()
    await h.until(lambda: h.status("once").get("phase") == "Failed")
    await h.until(lambda: h.status("fine").get("phase") == "Succeeded")
    assert h.container("once")["state"]["terminated"]["reason"] == "Error"
    assert h.container("fine")["state"]["terminated"]["reason"] == "Completed"
    assert h.container("once")["restartCount"] == 0


async def test_liveness_probe_failure_restarts_and_readiness_gates_ready(h: Harness):
    flag = h.tmp / "ready"
    probe = {
        "exec": {"command": ["/bin/sh", "-c", "test -e %s" % flag]},
        "periodSeconds": 1,
        "failureThreshold": 1,
    }
    live = {"exec": {"command": ["/bin/false"]}, "periodSeconds": 1, "failureThreshold": 2}
    h.mgr.apply("insert", pod("probed", "sleep 1000", container={"readinessProbe": probe}))
    h.mgr.apply("insert", pod("dying", "sleep 1000", container={"livenessProbe": live}))
    h.mgr.start_polling()
    await h.until(lambda: h.status("probed").get("phase") == "Running")
    await asyncio.sleep(1.5)
    assert not h.container("probed")["ready"]
    flag.touch()
    await h.until(lambda: h.container("probed").get("ready"), what="readiness")
    await h.until(lambda: h.container("dying").get("restartCount", 0) >= 1, 30, "liveness restart")


async def test_bad_spec_and_missing_config_get_reasons(h: Harness):
    bad = pod("bad", "true")
    bad["spec"]["containers"] = []
    h.mgr.apply("insert", bad)
    needy = pod(
        "needy",
        "echo $X",
        container={"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]},
    )
    h.mgr.apply("insert", needy)
    nocmd = pod("nocmd", "")
    del nocmd["spec"]["containers"][0]["command"]
    h.mgr.apply("insert", nocmd)
    h.mgr.start_polling()
    await h.until(lambda: h.status("bad").get("reason") == "InvalidPodSpec")
    assert h.status("bad")["phase"] == "Failed"
    assert "spec.containers" in h.status("bad")["message"]
    await h.until(
        lambda: (
            h.container("needy").get("state", {}).get("waiting", {}).get("reason")
            == "CreateContainerConfigError"
        )
    )
    assert h.container("needy")["state"]["waiting"]["message"] == 'configmap "nope" not found'
    await h.until(
        lambda: (
            h.container("nocmd").get("state", {}).get("waiting", {}).get("reason") == "CreateContainerError"
        )
    )
    h.objects[("configmap", "default", "nope")] = {"metadata": {"name": "nope"}, "data": {"k": "v"}}
    h.mgr.config_changed("configmap", "default", "nope")
    await h.until(lambda: h.status("needy").get("phase") in ("Running", "Succeeded"), what="needy runs")


async def test_graceful_delete_stops_and_reports_termination(h: Harness):
    p = pod("victim", "trap 'exit 0' TERM; while true; do sleep 0.1; done")
    h.mgr.apply("insert", p)
    h.mgr.start_polling()
    await h.until(lambda: h.status("victim").get("phase") == "Running")
    gone = dict(
        p,
        metadata=dict(p["metadata"], deletionTimestamp="2026-11-22T00:00:00Z", deletionGracePeriodSeconds=5),
    )
    h.mgr.apply("update", gone)
    w = await h.until(lambda: h.terminated and h.terminated[-1])
    assert w.name == "victim" and not w.deleted  # a graceful deletion: the cloud waits for a confirmation
    assert not [s for s in await h.runtime.list_sandboxes() if s.uid == p["metadata"]["uid"]]
    assert "victim" not in [x.name for x in h.mgr.workers.values()]


async def test_a_restarted_manager_adopts_running_containers(h: Harness):
    p = pod("steady", "sleep 1000")
    h.mgr.apply("insert", p)
    h.mgr.start_polling()
    await h.until(lambda: h.status("steady").get("phase") == "Running")
    before = h.container("steady")["containerID"]
    await h.mgr.close()  # edgecore stops; its containers keep running

    gone = pod("gone", "sleep 1000")  # a sandbox nobody wants any more is removed at restore
    h.mgr = h.manager()
    h.mgr.apply("insert", gone)
    await h.until(lambda: h.status("gone").get("phase") == "Running")
    await h.mgr.close()

    h.statuses.clear()
    h.mgr = h.manager()
    await h.mgr.restore([p])
    h.mgr.start_polling()
    await h.until(lambda: h.status("steady").get("phase") == "Running")
    assert h.container("steady")["containerID"] == before
    assert h.container("steady")["restartCount"] == 0
    assert not [s for s in await h.runtime.list_sandboxes() if s.uid == gone["metadata"]["uid"]]


async def test_init_containers_run_in_order_before_the_main_container(h: Harness):
    mark = h.tmp / "init-order"
    p = pod("inited", "cat %s > %s.main; sleep 1000" % (mark, mark))
    p["spec"]["initContainers"] = [
        {"name": "one", "image": "busybox", "command": ["/bin/sh", "-c", "echo one >> %s" % mark]},
        {"name": "two", "image": "busybox", "command": ["/bin/sh", "-c", "sleep 0.3; echo two >> %s" % mark]},
    ]
    h.mgr.apply("insert", p)
    h.mgr.start_polling()
    await h.until(lambda: h.status("inited").get("phase") == "Running" and h.container("inited").get("ready"))
    st = h.status("inited")
    assert [s["state"]["terminated"]["reason"] for s in st["initContainerStatuses"]] == ["Completed"] * 2
    assert {c["type"]: c["status"] for c in st["conditions"]}["Initialized"] == "True"
    main = Path(str(mark) + ".main")
    await h.until(lambda: main.exists() and main.read_text() == "one\ntwo\n")


async def test_failing_init_container_fails_a_never_pod_and_backs_off_otherwise(
    h: Harness, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(podstatus, "BACKOFF_INITIAL", 0.3)
    never = pod("init-never", "sleep 1000", restart="Never")
    never["spec"]["initContainers"] = [
        {"name": "bad", "image": "busybox", "command": ["/bin/sh", "-c", "exit 4"]}
    ]
    again = pod("init-again", "sleep 1000")
    again["spec"]["initContainers"] = [
        {"name": "bad", "image": "busybox", "command": ["/bin/sh", "-c", "exit 4"]}
    ]
    h.mgr.apply("insert", never)
    h.mgr.apply("insert", again)
    h.mgr.start_polling()
    await h.until(lambda: h.status("init-never").get("phase") == "Failed")
    assert h.container("init-never")["state"] == {"waiting": {"reason": "PodInitializing"}}
    init = lambda name: (h.status(name).get("initContainerStatuses") or [{}])[0]  # noqa: E731
    await h.until(lambda: init("init-again").get("restartCount", 0) >= 2, what="init restarts")
    assert h.status("init-again")["phase"] == "Pending"
    assert init("init-never")["state"]["terminated"]["exitCode"] == 4
