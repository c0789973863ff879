"""Node lifecycle on a served API server (TLS on loopback) with a short grace period, seen through
kubernetes_asyncio as any client would: a node that stops renewing its lease goes Unknown and gets the
unreachable taint, pods are evicted after their toleration, autonomy pods stay, and a node that comes
back loses the taint."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client as aclient
from kubernetes_asyncio import config as aconfig
from kubernetes_asyncio import watch as awatch

from kedge.apiserver.nodelifecycle import NodeLifecycleSettings
from kedge.apiserver.server import ApiServer
from kedge.cloud.embedded import write_kubeconfig
from tests.hubpki import HubPKI

TOKEN = "node-lifecycle-test-token"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
GRACE = 1.0


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[aclient.ApiClient]:
    pki = HubPKI(tmp_path / "pki")
    server = ApiServer(
        tmp_path / "data",
        port=0,
        ssl_context=pki.server_context(require_client_cert=False),
        tokens=[TOKEN],
        node_lifecycle=NodeLifecycleSettings(
            monitor_period=0.1, grace_period=GRACE, startup_grace_period=GRACE
        ),
    )
    await server.start()
    try:
        kubeconfig = tmp_path / "admin.kubeconfig"
        write_kubeconfig(kubeconfig, server_url=server.url, ca_pem=pki.ca_path.read_bytes(), token=TOKEN)
        cfg = aclient.Configuration()
        await aconfig.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
        async with aclient.ApiClient(configuration=cfg) as client:
            yield client
    finally:
        await server.stop()


async def eventually(check: Callable[[], Any], *, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in %.0f s: %s" % (timeout, check.__name__))
        await asyncio.sleep(0.05)


def ready_of(obj: Any) -> Any:
    return next((c for c in obj.status.conditions or () if c.type == "Ready"), None)


async def heartbeat(core: aclient.CoreV1Api, leases: aclient.CoordinationV1Api) -> str:
    """What a kubelet does: renew the lease, post Ready=True. Returns the node's resourceVersion."""
    now = datetime.now(UTC)
    await leases.patch_namespaced_lease("n1", "kube-node-lease", {"spec": {"renewTime": now}})
    status = {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ]
    }
    node = await core.patch_node_status("n1", {"status": status})
    return node.metadata.resource_version


def pod_body(name: str, tolerations: list[dict] | None = None, labels: dict | None = None) -> dict:
    spec: dict[str, Any] = {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1.36"}]}
    if tolerations:
        spec["tolerations"] = tolerations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
    }


async def test_an_offline_node_is_tainted_its_pods_evicted_and_a_returning_node_cleared(api) -> None:
    core, leases = aclient.CoreV1Api(api), aclient.CoordinationV1Api(api)
    await core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "n1"},
        "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": datetime.now(UTC)},
    }
    await leases.create_namespaced_lease("kube-node-lease", lease)
    since = await heartbeat(core, leases)

    quick = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1}
    plain = await core.create_namespaced_pod("default", pod_body("plain"))
    await core.create_namespaced_pod("default", pod_body("quick", [quick]))
    autonomy = await core.create_namespaced_pod(
        "default", pod_body("autonomy", labels={"app-offline.kubeedge.io": "autonomy"})
    )
    # DefaultTolerationSeconds, and KubeEdge's offline migration for the autonomy pod
    assert [(t.key, t.operator, t.effect, t.toleration_seconds) for t in plain.spec.tolerations] == [
        (NOT_READY, "Exists", "NoExecute", 300),
        (UNREACHABLE, "Exists", "NoExecute", 300),
    ]
    assert [(t.key, t.operator, t.effect, t.toleration_seconds) for t in autonomy.spec.tolerations] == [
        (NOT_READY, "Exists", "NoExecute", 300),
        (UNREACHABLE, "Exists", None, None),
    ]

    # the kubelet goes quiet: a watch on the node (from its last heartbeat) sees it go Unknown and tainted
    seen = None
    async with awatch.Watch().stream(core.list_node, resource_version=since, timeout_seconds=10) as stream:
        async for event in stream:
            n = event["object"]
            if ready_of(n) is not None and ready_of(n).status == "Unknown" and n.spec and n.spec.taints:
                seen = n
                break
    assert seen is not None, "no watch event showed the node Unknown and tainted"
    ready = ready_of(seen)
    assert (ready.reason, ready.message) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
    node = await eventually(lambda: _tainted(core))
    by_effect = {t.effect: t for t in node.spec.taints}
    assert by_effect["NoExecute"].key == UNREACHABLE and by_effect["NoExecute"].time_added is not None
    assert by_effect["NoSchedule"].key == UNREACHABLE

    # the pod tolerating 1 s is evicted (graceful: it waits for its node), the others stay
    async def quick_evicted() -> Any:
        p = await core.read_namespaced_pod("quick", "default")
        return p if p.metadata.deletion_timestamp else None

    evicted = await eventually(quick_evicted)
    target = next(c for c in evicted.status.conditions if c.type == "DisruptionTarget")
    assert (target.status, target.reason) == ("True", "DeletionByTaintManager")
    for name in ("plain", "autonomy"):
        assert (await core.read_namespaced_pod(name, "default")).metadata.deletion_timestamp is None

    # the kubelet is back: lease renewed, Ready=True; the taints go
    await heartbeat(core, leases)

    async def cleared() -> Any:
        n = await core.read_node("n1")
        return n if not (n.spec and n.spec.taints) and ready_of(n).status == "True" else None

    await eventually(cleared)
    await asyncio.sleep(GRACE / 2)  # a few more passes: it stays cleared while the lease is fresh
    assert not (await core.read_node("n1")).spec.taints  # the taints went, the (empty) spec stays


async def _tainted(core: aclient.CoreV1Api) -> Any:
    n = await core.read_node("n1")
    return n if n.spec and n.spec.taints and len(n.spec.taints) == 2 else None


async def test_a_node_that_never_posts_status_goes_unknown_after_the_startup_grace(api) -> None:
    core = aclient.CoreV1Api(api)
    await core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "silent"}})

    async def never_updated() -> Any:
        n = await core.read_node("silent")
        r = ready_of(n) if n.status and n.status.conditions else None
        return n if r is not None and n.spec and n.spec.taints else None

    n = await eventually(never_updated)
    assert ready_of(n).reason == "NodeStatusNeverUpdated"
    assert sorted(c.type for c in n.status.conditions) == [
        "DiskPressure",
        "MemoryPressure",
        "PIDPressure",
        "Ready",
    ]
    assert {(t.key, t.effect) for t in n.spec.taints} == {
        (UNREACHABLE, "NoSchedule"),
        (UNREACHABLE, "NoExecute"),
    }
