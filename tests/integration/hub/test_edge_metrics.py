"""edgecore's /metrics collector after real work: MetaManager batches committed behind a real EdgeHub
(commit histogram, messages by type in and out), and DeviceTwin updates stored in its tables (twin
commits, updates counter). Parsed with prometheus_client's own text parser."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kedge.edge.metrics import EdgeCollector
from kedge.model import constants as c
from tests.integration.edge.test_devicetwin import D
from tests.integration.edge.test_devicetwin import Edge as TwinEdge
from tests.integration.hub.conftest import Cloud, EdgeFactory, eventually
from tests.integration.hub.test_metamanager_over_hub import NODE, MetaEdge, raw_pod
from tests.unit.edge.test_devicetwin_engine import MODEL, device

PODS = 20


def scrape(collector: EdgeCollector) -> dict[str, Any]:
    registry = CollectorRegistry()
    registry.register(collector)
    return {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}


def series(family: Any, suffix: str, **labels: str) -> float:
    """The value of one sample: `suffix` is _count, _sum or _bucket (with its `le` among `labels`)."""
    for s in family.samples:
        if s.name == family.name + suffix and s.labels == labels:
            return s.value
    raise AssertionError("no %s%s with %s" % (family.name, suffix, labels))


async def test_metamanager_commits_and_hub_messages(cloud: Cloud, edges: EdgeFactory, tmp_path: Path) -> None:
    edge = MetaEdge(edges, tmp_path / "edge" / "edgecore.db")
    try:
        collector = EdgeCollector(edge.hub, meta=edge.store)
        before = scrape(collector)
        assert series(before["kedge_edge_sqlite_commit_seconds"], "_count", store="meta") == 0
        await eventually(lambda: edge.meta.cloud_connected, "the edge connected")
        objs = cloud.objects.setdefault(NODE, {})
        for i in range(PODS):
            msg = raw_pod("m%02d" % i, 2000 + i)
            objs["uid-m%02d" % i] = msg
            cloud.hub.publish(NODE, msg, "uid-m%02d" % i)
        await eventually(lambda: cloud.synced(NODE), "all pods acked")
        fams = scrape(collector)
    finally:
        await edge.stop()
    commits = fams["kedge_edge_sqlite_commit_seconds"]
    n = series(commits, "_count", store="meta")
    assert 1 <= n <= PODS  # batches: one commit per batch, not per object
    assert series(commits, "_bucket", store="meta", le="+Inf") == n
    assert series(commits, "_sum", store="meta") > 0
    by_type = {
        (s.labels["direction"], s.labels["type"]): s.value
        for s in fams["kedge_edgehub_messages_by_type"].samples
    }
    assert by_type[("in", c.POD)] >= PODS  # resends would add to it, never take away
    assert by_type[("out", c.KEEPALIVE)] >= 1
    # the cloud measured how long the acks took
    assert cloud.hub.ack_latency.count >= PODS


async def test_devicetwin_updates_and_commits(tmp_path: Path) -> None:
    edge = TwinEdge(tmp_path / "edge.db", {"devices": [], "models": []})
    try:
        edge.cloud(c.INSERT, c.DEVICEMODEL, MODEL)
        edge.cloud(c.INSERT, c.DEVICE, device())
        await edge.bus.wait_for(lambda m: m.route.resource.endswith("/membership/updated"), "membership")
        edge.mqtt(D + "twin/update", {"event_id": "e1", "twin": {"status": {"actual": {"value": "5"}}}})
        await edge.result(D + "twin/update/result", "e1")
        fams = scrape(EdgeCollector(_NoHub(), twin=edge.twin))
    finally:
        await edge.stop()
    assert fams["kedge_devicetwin_updates"].samples[0].value >= 2  # the device arrived, then its twin changed
    commits = fams["kedge_edge_sqlite_commit_seconds"]
    assert series(commits, "_count", store="twin") >= 2
    assert series(commits, "_bucket", store="twin", le="+Inf") == series(commits, "_count", store="twin")


class _NoHub:
    """An EdgeHub that never connected (the collector reads these fields only)."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.connects = self.expired = 0
        self.outbox = None
        self.messages_in: dict[str, int] = {}
        self.messages_out: dict[str, int] = {}
