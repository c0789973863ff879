"""MetaManager behind a real EdgeHub: cloud objects sent over ws-native are on the edge's disk before the
cloud's cursor counts them acked, and they survive the edge stopping."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

import apsw
import msgspec

from kedge.aio.backoff import Backoff
from kedge.beehive import Context, Runtime
from kedge.edge.edgehub.connect import make_connector
from kedge.edge.edgehub.hub import EdgeHub, EdgeHubModule
from kedge.edge.edgehub.outbox import Outbox
from kedge.edge.metamanager.module import MetaManager
from kedge.edge.metamanager.store import MetaStore
from kedge.model import constants as c
from kedge.model.message import Message, new_message
from tests.integration.hub.conftest import WS_NATIVE, Cloud, EdgeFactory, eventually

NODE = "meta-node"
PODS = 50


def raw_pod(name: str, rv: int) -> Message:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": "uid-" + name, "resourceVersion": str(rv)},
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "nginx:1.27"}]},
    }
    return new_message(
        source=c.EDGECONTROLLER,
        group=c.GROUP_RESOURCE,
        operation=c.INSERT,
        resource="default/pod/" + name,
        resourceversion=str(rv),
        content=msgspec.Raw(msgspec.json.encode(body)),
    )


def disk_rows(db: Path) -> dict[str, tuple[str, bytes, int]]:
    conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return {
            k: (t, v, rv)
            for k, t, v, rv in conn.execute("SELECT key, type, value, resource_version FROM meta")
        }
    finally:
        conn.close()


class MetaEdge:
    """edgecore as app.py wires it: EdgeHub and MetaManager on a beehive Runtime, the outbox and the meta
    table in one database file."""

    def __init__(self, factory: EdgeFactory, db: Path) -> None:
        self.db = db
        self.store = MetaStore(db)
        self.outbox = Outbox(db)
        ctx = Context()
        self.hub = EdgeHub(
            NODE,
            make_connector(factory.target(NODE, WS_NATIVE)),
            ctx,
            heartbeat=5.0,
            qps=10_000.0,
            burst=10_000.0,
            outbox=self.outbox,
            backoff=Backoff(initial=0.05, cap=0.5, jitter=0.5, rng=random.Random(NODE)),
        )
        self.meta = MetaManager(self.store)
        self.runtime = Runtime(ctx, shutdown_timeout=5.0)
        self.runtime.register(EdgeHubModule(self.hub))
        self.runtime.register(self.meta)
        self.task = asyncio.create_task(self.runtime.run(handle_signals=False), name="edgecore")

    async def stop(self) -> None:
        sess = self.hub.session
        link = None if sess is None else sess.link
        self.runtime.stop()
        try:
            await self.task
        finally:
            if link is not None and hasattr(link, "wait_closed"):
                with contextlib.suppress(TimeoutError):  # the TLS shutdown must finish before the loop ends
                    await asyncio.wait_for(link.wait_closed(), 5)
            self.outbox.close()
            self.store.close()


async def test_cloud_objects_are_persisted_then_acked(cloud: Cloud, edges: EdgeFactory, tmp_path: Path):
    db = tmp_path / "edge" / "edgecore.db"
    edge = MetaEdge(edges, db)
    try:
        await eventually(lambda: edge.meta.cloud_connected, "the edge connected and MetaManager told")
        sent: dict[str, Message] = {}
        objs = cloud.objects.setdefault(NODE, {})
        for i in range(PODS):
            msg = raw_pod("p%02d" % i, 1000 + i)
            key = "uid-p%02d" % i
            objs[key] = msg
            sent[msg.route.resource] = msg
            cloud.hub.publish(NODE, msg, key)
        await eventually(lambda: cloud.synced(NODE), "all %d pods acked by the edge" % PODS)
        assert cloud.outbound(NODE).in_flight == 0
        # acked means committed: the rows are in the file, read through a connection of its own
        rows = disk_rows(db)
        assert len(rows) == PODS
        for resource, msg in sent.items():
            assert rows[resource] == ("pod", bytes(msg.content), int(msg.header.resourceversion))
        assert len(edge.store) == PODS
    finally:
        await edge.stop()

    with MetaStore(db) as reopened:
        assert sorted(reopened.keys()) == sorted(sent)
        for resource, msg in sent.items():
            assert reopened.get(resource) == ("pod", bytes(msg.content), int(msg.header.resourceversion))
        assert [r[0] for r in reopened.query_prefix("default/pod")] == sorted(sent)
    # the outbox's table shares the file and is intact
    with contextlib.closing(Outbox(db)) as outbox:
        assert len(outbox) == 0
