"""cloudcore's /metrics (parsed by prometheus_client's own text parser), /healthz and /readyz, on a real
cloudcore with the embedded API server, after some traffic: an edge connects over WebSocket with a
certificate from cloudcore's CA, gets its Node (acked), and renews its Lease through the hub."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client
from prometheus_client.parser import text_string_to_metric_families

from kedge.cloud.app import CloudCore, start_cloudcore
from kedge.config.cloudcore import CloudCoreConfig
from kedge.edge.edgehub.connect import WEBSOCKET, HubTarget
from kedge.edge.edgehub.outbox import Outbox
from kedge.k8s.client import open_api
from kedge.model import constants as c
from kedge.security import pki
from tests.hubpki import NODES_O, node_cn
from tests.integration.cloud.test_edgecontroller import EDGE_LABEL, Edge
from tests.integration.hub.conftest import eventually

NODE = "metrics-edge"
WAIT = 20.0


async def get(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (method.encode(), path.encode()))
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def families_of(text: bytes) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text.decode())}


def histogram(family: Any, **labels: str) -> tuple[float, float, list[tuple[str, float]]]:
    """(count, sum, cumulative buckets) of the series of `family` with `labels`."""
    count = total = None
    buckets: list[tuple[str, float]] = []
    for s in family.samples:
        own = {k: v for k, v in s.labels.items() if k != "le"}
        if own != labels:
            continue
        if s.name.endswith("_count"):
            count = s.value
        elif s.name.endswith("_sum"):
            total = s.value
        elif s.name.endswith("_bucket"):
            buckets.append((s.labels["le"], s.value))
    assert count is not None and total is not None, "no %s series with %s" % (family.name, labels)
    assert buckets[-1] == ("+Inf", count)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    return count, total, buckets


def edge_for(core: CloudCore, tmp_path: Path) -> Edge:
    """An EdgeHub (with a MetaManager stand-in that acks) holding a certificate from cloudcore's CA."""
    pki_dir = core.data_dir / "cloudhub" / "pki"
    ca_key = pki.load_key(pki_dir / "rootCA.key")
    ca_cert = pki.load_cert(pki_dir / "rootCA.crt")
    key, cert = pki.issue_client_cert(
        ca_key, ca_cert, common_name=node_cn(NODE), organizations=(NODES_O,), now=dt.datetime.now(dt.UTC)
    )
    edge_dir = tmp_path / "edge"
    edge_dir.mkdir()
    pki.write_pem(edge_dir / "node.crt", pki.cert_to_pem(cert))
    pki.write_pem(edge_dir / "node.key", pki.key_to_pem(key))
    target = HubTarget(
        protocol=WEBSOCKET,
        server="127.0.0.1:%d" % core.ports["websocket"],
        node_id=NODE,
        project_id=c.DEFAULT_PROJECT_ID,
        ca_file=str(pki_dir / "rootCA.crt"),
        cert_file=str(edge_dir / "node.crt"),
        key_file=str(edge_dir / "node.key"),
    )
    return Edge(NODE, target, Outbox(edge_dir / "edge.db"))


async def test_metrics_health_and_readiness(tmp_path: Path) -> None:
    cfg = CloudCoreConfig()
    cfg.embedded_api_server.port = 0
    cfg.common_config.monitor_server.bind_address = "127.0.0.1:0"
    hub = cfg.modules.cloud_hub
    hub.websocket.address = hub.https.address = "127.0.0.1"
    hub.websocket.port = hub.https.port = 0
    hub.quic.enable = False
    cfg.modules.router.enable = True
    cfg.modules.router.address = "127.0.0.1"
    cfg.modules.router.port = 0
    core = await start_cloudcore(cfg, tmp_path / "cloud")
    try:
        port = core.ports["metrics"]
        assert await get(port, "/healthz") == (200, b"ok\n")
        for _ in range(200):  # ready once every controller has listed
            status, body = await get(port, "/readyz")
            if status == 200:
                break
            assert status == 503 and b"waiting for" in body
            await asyncio.sleep(0.05)
        assert status == 200
        status, text = await get(port, "/metrics")
        assert status == 200
        families = families_of(text)
        assert families["kedge_cloudhub_connected_nodes"].samples[0].value == 0
        events = {s.labels["event"] for s in families["kedge_cloudhub_messages"].samples}
        assert {"delivered", "routed", "denied", "dropped_full"} <= events
        for name in (
            "kedge_cloudhub_queued_messages",
            "kedge_cloudhub_inflight_messages",
            "kedge_cloudhub_resends",
        ):
            assert name in families
        assert "kedge_devicecontroller_events" in families
        assert (await get(port, "/metrics", "HEAD"))[1] == b""
        assert (await get(port, "/nothing"))[0] == 404
        assert (await get(port, "/metrics", "POST"))[0] == 405
        # the informers listed and watch: cloudcore's Kubernetes client timed them
        count, _, _ = histogram(families["kedge_k8s_request_duration_seconds"], verb="GET")
        assert count > 0
        assert histogram(families["kedge_cloudhub_ack_latency_seconds"])[0] == 0

        # -- traffic: a Node for an edge (acked by it), and a Lease renewal from it
        api = await open_api(core.kubeconfig)
        try:
            await client.CoreV1Api(api).create_node({"metadata": {"name": NODE, "labels": {EDGE_LABEL: ""}}})
        finally:
            await api.close()
        edge = edge_for(core, tmp_path)
        try:
            node = "null/node/" + NODE
            await eventually(lambda: node in [r for _, r in edge.recorder.seen()], "Node delivered", WAIT)
            await eventually(lambda: core.hub.ack_latency.count > 0, "the edge acked its Node", WAIT)
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": NODE, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": NODE, "leaseDurationSeconds": 40},
            }
            await edge.request(c.UPDATE, "kube-node-lease/lease/" + NODE, lease)
            status, text = await get(port, "/metrics")
        finally:
            await edge.stop()
        assert status == 200
        families = families_of(text)
        count, total, buckets = histogram(families["kedge_cloudhub_ack_latency_seconds"])
        assert count >= 1 and total >= 0
        assert buckets[0][0] == "0.0005" and buckets[-2][0] == "10.0"
        by_type = {
            (s.labels["direction"], s.labels["type"]): s.value
            for s in families["kedge_cloudhub_messages_by_type"].samples
        }
        assert by_type[("out", c.NODE)] >= 1
        assert by_type[("in", c.LEASE)] == 1
        assert by_type[("in", c.KEEPALIVE)] >= 1
        assert by_type[("out", c.RESPONSE)] >= 1  # the Lease request's answer
        # the Lease went to the API server: a write verb was timed, and the embedded store committed
        verbs = {s.labels["verb"] for s in families["kedge_k8s_request_duration_seconds"].samples}
        assert verbs & {"POST", "PATCH", "PUT"}
        assert histogram(families["kedge_apiserver_sqlite_commit_seconds"])[0] > 0
    finally:
        core.hub.close_all("test done")
        await core.stop()
