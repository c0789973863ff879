"""Pods at the edge, end to end: `kubectl` against cloudcore's embedded API server, a real edgecore driving
real containerd, and the offline cases (cloud down, edgecore restarted without it, kill -9 mid-burst)."""

from __future__ import annotations

import asyncio
import signal
import time

import apsw

from kedge.edge.metamanager.store import MetaStore
from tests.e2e.pods.conftest import Cluster
from tests.e2e.procs import until

CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "web-config"},
    "data": {"color": "blue", "greeting": "hello"},
}
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "web-secret"},
    "stringData": {"password": "s3cret"},
}


def pod(
    name: str, script: str, *, restart: str = "Always", image: str = "localhost/busybox:1", **spec
) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "nodeName": "edge-pods",
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", script],
                }
            ],
            **spec,
        },
    }


def web_pod() -> dict:
    p = pod(
        "web",
        'echo "greeting=$GREETING"; echo "password=$(cat /etc/secret/password)"; '
        'while true; do echo "color=$(cat /etc/config/color)"; sleep 1; done',
        volumes=[
            {"name": "config", "configMap": {"name": "web-config"}},
            {"name": "secret", "secret": {"secretName": "web-secret"}},
        ],
    )
    ctr = p["spec"]["containers"][0]
    ctr["env"] = [
        {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "web-config", "key": "greeting"}}}
    ]
    ctr["volumeMounts"] = [
        {"name": "config", "mountPath": "/etc/config"},
        {"name": "secret", "mountPath": "/etc/secret", "readOnly": True},
    ]
    return p


def node_ready(c: Cluster) -> bool:
    node = c.get("node", c.node, namespace="")
    conds = {x["type"]: x["status"] for x in ((node or {}).get("status") or {}).get("conditions") or []}
    return conds.get("Ready") == "True"


def sandbox_of(c: Cluster, name: str) -> list:
    return [s for s in c.sandboxes() if s.metadata.name == name and s.state == 0]  # SANDBOX_READY


def test_pod_runs_sees_config_follows_updates_and_is_deleted(cluster: Cluster) -> None:
    c = cluster
    c.start_edge()
    until(lambda: node_ready(c), 60, "node Ready")
    node = c.get("node", c.node, namespace="")
    assert node["metadata"]["labels"]["node-role.kubernetes.io/edge"] == ""
    assert int(node["status"]["capacity"]["pods"]) == 110
    assert c.get("lease", c.node, namespace="kube-node-lease")["spec"]["holderIdentity"] == c.node

    c.apply(CM, SECRET, web_pod())
    st = c.wait_running("web")
    assert st["podIP"]
    web = c.get("pod", "web")
    log = until(lambda: "password=" in c.log_of(web, "main") and c.log_of(web, "main"), 30, "web output")
    assert "greeting=hello" in log and "password=s3cret" in log and "color=blue" in log

    c.kubectl("patch", "configmap", "web-config", "-p", '{"data":{"color":"green"}}')
    until(lambda: "color=green" in c.log_of(web, "main"), 60, "the mounted file to change")

    assert sandbox_of(c, "web")
    c.kubectl("delete", "pod", "web", "--timeout=60s")
    assert c.get("pod", "web") is None
    until(lambda: not [s for s in c.sandboxes() if s.metadata.name == "web"], 30, "the sandbox removed")
    assert c.edge is not None and c.edge.popen.poll() is None


def test_crash_loop_and_bad_input_get_reasons(cluster: Cluster) -> None:
    c = cluster
    c.start_edge()
    until(lambda: node_ready(c), 60, "node Ready")
    bad = pod("ghost2", "true", image="localhost/nope:1")
    bad["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    c.apply(pod("crasher", "echo dying; exit 3"), pod("ghost", "true", image="localhost/nope:1"), bad)

    def crashloop() -> dict | None:
        st = (c.pod_status("crasher").get("containerStatuses") or [{}])[0]
        waiting = st.get("state", {}).get("waiting", {})
        return st if st.get("restartCount", 0) >= 2 and waiting.get("reason") == "CrashLoopBackOff" else None

    st = until(crashloop, 90, "CrashLoopBackOff with restartCount >= 2")
    assert st["lastState"]["terminated"]["exitCode"] == 3
    assert st["lastState"]["terminated"]["reason"] == "Error"

    # the image is not there and no registry is reachable: a clear reason, never a crash
    def pull_failed() -> dict | None:
        st = (c.pod_status("ghost").get("containerStatuses") or [{}])[0]
        waiting = st.get("state", {}).get("waiting", {})
        return waiting if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff") else None

    assert "localhost/nope:1" in until(pull_failed, 60, "ErrImagePull")["message"]

    def never_pulled() -> dict | None:
        st = (c.pod_status("ghost2").get("containerStatuses") or [{}])[0]
        waiting = st.get("state", {}).get("waiting", {})
        return waiting if waiting.get("reason") == "ErrImageNeverPull" else None

    waiting = until(never_pulled, 60, "ErrImageNeverPull")
    assert "localhost/nope:1" in waiting["message"]

    # a configmap the pod needs is missing: CreateContainerConfigError, then it runs once the configmap exists
    needy = pod("needy", "echo v=$V; sleep 1000")
    needy["spec"]["containers"][0]["env"] = [
        {"name": "V", "valueFrom": {"configMapKeyRef": {"name": "late", "key": "v"}}}
    ]
    c.apply(needy)

    def waiting_reason(name: str) -> str:
        st = (c.pod_status(name).get("containerStatuses") or [{}])[0]
        return st.get("state", {}).get("waiting", {}).get("reason", "")

    until(lambda: waiting_reason("needy") == "CreateContainerConfigError", 60, "CreateContainerConfigError")
    c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}, "data": {"v": "42"}})
    c.wait_running("needy", 60)
    assert c.edge is not None and c.edge.popen.poll() is None


def test_offline_autonomy_restart_without_cloud_and_converge(cluster: Cluster) -> None:
    c = cluster
    c.start_edge()
    until(lambda: node_ready(c), 60, "node Ready")
    c.apply(pod("keep", "sleep 100000"), pod("graceful", "sleep 100000"), pod("forced", "sleep 100000"))
    for name in ("keep", "graceful", "forced"):
        c.wait_running(name)

    # the edge goes away; meanwhile one pod is deleted gracefully (it waits for the node), one by force
    c.stop_edge()
    c.kubectl("delete", "pod", "graceful", "--wait=false")
    c.kubectl("delete", "pod", "forced", "--grace-period=0", "--force")
    assert c.get("pod", "graceful")["metadata"].get("deletionTimestamp")
    assert c.get("pod", "forced") is None

    # the cloud goes away too; edgecore restarts from SQLite alone and its pods keep running
    c.stop_cloud()
    running = {x.id for x in c.containers() if x.state == 1}
    started = time.monotonic()
    edge = c.start_edge()
    edge.wait_for("pods restored from the local store", 30)
    restored = time.monotonic() - started
    assert restored < 30
    for name in ("keep", "graceful", "forced"):
        assert sandbox_of(c, name), "pod %s not restored offline" % name
    time.sleep(3)
    assert {x.id for x in c.containers() if x.state == 1} == running, "running containers were restarted"

    # the cloud comes back: statuses converge, deletions made meanwhile reach the edge
    c.start_cloud()
    until(lambda: not sandbox_of(c, "forced"), 90, "force-deleted pod removed at the edge")
    until(lambda: c.get("pod", "graceful") is None, 90, "graceful deletion confirmed by the node")
    until(lambda: not sandbox_of(c, "graceful"), 30, "gracefully deleted pod removed at the edge")
    c.wait_running("keep")
    until(lambda: node_ready(c), 90, "node Ready again")


def test_kill_during_burst_of_pod_updates_leaves_store_consistent(cluster: Cluster) -> None:
    from kubernetes_asyncio import client

    from kedge.k8s.client import open_api

    c = cluster
    edge = c.start_edge()
    until(lambda: node_ready(c), 60, "node Ready")
    names = ["burst-%d" % i for i in range(5)]
    c.apply(*(pod(n, "sleep 100000") for n in names))
    for n in names:
        c.wait_running(n)

    async def burst() -> int:
        api = await open_api(str(c.cloud_dir / "admin.kubeconfig"))
        core = client.CoreV1Api(api)
        done = 0
        try:
            for i in range(100):
                await asyncio.gather(
                    *(
                        core.patch_namespaced_pod(
                            n, "default", {"metadata": {"annotations": {"burst": str(i)}}}
                        )
                        for n in names
                    )
                )
                done += len(names)
                if done == 150:
                    edge.popen.send_signal(signal.SIGKILL)
        finally:
            await api.close()
        return done

    assert asyncio.run(burst()) == 500
    edge.popen.wait(10)
    db = c.edge_dir / "edgecore.db"
    conn = apsw.Connection(str(db))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    with MetaStore(db) as store:
        assert len(store.query_type("pod")) == 5

    c.start_edge().wait_for("pods restored from the local store", 30)

    def converged() -> bool:
        with _reader(db) as rows:
            return all(b'"burst":"99"' in v for v in rows)

    until(converged, 60, "the last update of every pod stored at the edge")
    for n in names:
        c.wait_running(n)


class _reader:
    """The pod rows of a live edge database, read without taking edgecore's lock."""

    def __init__(self, db) -> None:
        self.conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)

    def __enter__(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.conn.execute("SELECT value FROM meta WHERE type = 'pod'")]

    def __exit__(self, *exc) -> None:
        self.conn.close()
