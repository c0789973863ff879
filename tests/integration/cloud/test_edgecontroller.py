"""The EdgeController between the embedded API server (real kubernetes_asyncio clients) and real edges: a
CloudHub on loopback with mutual TLS, the EdgeController module and informers on beehive, and per edge
node an EdgeHub with a recording MetaManager stand-in that persists nothing but acks like MetaManager.

Downstream is observed where the edge sees it (deliveries in order, acked into the hub's cursor);
upstream requests go out of the edge through EdgeHub exactly as edged/metamanager send them (`send_sync`
to the `websocket` module), pass CloudHub's authorization, and come back as replies."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from kubernetes_asyncio import client

from kedge.aio.backoff import Backoff
from kedge.beehive import Context, Module, Runtime
from kedge.cloud.app import start_cloudcore
from kedge.cloud.cloudhub.hub import CloudHub, CloudHubModule, HubSettings
from kedge.cloud.cloudhub.listeners import Listeners, start_listeners
from kedge.cloud.edgecontroller.downstream import Downstream
from kedge.cloud.edgecontroller.module import EdgeControllerModule, object_key
from kedge.cloud.edgecontroller.upstream import Upstream
from kedge.config.cloudcore import CloudCoreConfig
from kedge.edge.edgehub.connect import WEBSOCKET, HubTarget, make_connector
from kedge.edge.edgehub.hub import EdgeHub, EdgeHubModule
from kedge.edge.edgehub.outbox import Outbox
from kedge.k8s.client import open_api
from kedge.k8s.ops import KubeOps
from kedge.model import constants as c
from kedge.model.codec import decode_content
from kedge.model.message import Message, new_message, new_response
from tests.hubpki import HubPKI
from tests.integration.apiserver.conftest import embedded  # noqa: F401
from tests.integration.hub.conftest import eventually

EDGE_LABEL = "node-role.kubernetes.io/edge"
WAIT = 20.0


def fast_backoff() -> Backoff:
    return Backoff(initial=0.05, cap=0.5, jitter=0.2)


def node_object(name: str, **labels: str) -> dict[str, Any]:
    """A Node as the edge builds it for registration (contract op 1)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                EDGE_LABEL: "",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                **labels,
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "addresses": [{"type": "InternalIP", "address": "10.0.0.7"}],
            "nodeInfo": {
                "machineID": "m-" + name,
                "systemUUID": "s-" + name,
                "bootID": "b-" + name,
                "kernelVersion": "6.8.0",
                "osImage": "Ubuntu 24.04",
                "containerRuntimeVersion": "containerd://2.0.0",
                "kubeletVersion": "v1.31.0-kedge",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "conditions": [{"type": "Ready", "status": "True", "reason": "EdgeReady"}],
        },
    }


def pod_object(name: str, node: str, *, ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx:1.27"}], **spec},
    }


def configmap(name: str, value: str = "v", ns: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": {"k": value},
    }


def secret(name: str, ns: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "data": {"k": "dg=="},
    }


def now_micro() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the edge ----------------------------------------------------------------------------------------


class Recorder(Module):
    """MetaManager's place on the edge (group `meta`): records each cloud message, then acks it."""

    name = c.METAMANAGER
    group = c.METAMANAGER_GROUP

    def __init__(self) -> None:
        self.hub: EdgeHub | None = None
        self.messages: list[Message] = []  # resource messages, in delivery order
        self.replies: list[Message] = []  # answers nobody waited for (requests injected in the cloud)

    async def start(self, ctx: Context) -> None:
        assert self.hub is not None
        while True:
            for msg in await ctx.receive_many(self.name, 256):
                if msg.route.group == c.EDGEHUB_GROUP:
                    continue  # cloud_connected / cloud_disconnected
                if msg.header.parent_msg_id:
                    self.replies.append(msg)
                    continue
                self.messages.append(msg)
                self.hub.send_up(new_response(msg, c.ACK_OK))

    def seen(self) -> list[tuple[str, str]]:
        return [(m.route.operation, m.route.resource) for m in self.messages]

    def last(self, operation: str, resource: str) -> Message | None:
        for m in reversed(self.messages):
            if m.route.operation == operation and m.route.resource == resource:
                return m
        return None

    def index(self, operation: str, resource: str) -> int:
        return self.seen().index((operation, resource))


class Edge:
    def __init__(self, node: str, target: HubTarget, outbox: Outbox) -> None:
        self.node = node
        self.ctx = Context()
        self.outbox = outbox
        self.hub = EdgeHub(
            node,
            make_connector(target),
            self.ctx,
            heartbeat=5.0,
            qps=10_000.0,
            burst=10_000.0,
            outbox=outbox,
            backoff=Backoff(initial=0.05, cap=0.5, jitter=0.5, rng=random.Random(node)),
        )
        self.recorder = Recorder()
        self.recorder.hub = self.hub
        self.runtime = Runtime(self.ctx)
        self.runtime.register(EdgeHubModule(self.hub))
        self.runtime.register(self.recorder)
        self.task = asyncio.create_task(self.runtime.run(handle_signals=False), name="edge-" + node)

    def message(self, operation: str, resource: str, content: Any, *, sync: bool = True) -> Message:
        return new_message(
            source=c.EDGED,
            group=c.GROUP_META,
            operation=operation,
            resource=resource,
            content=content,
            sync=sync,
        )

    async def request(self, operation: str, resource: str, content: Any) -> Message:
        """A SYNC request through EdgeHub; the cloud's reply."""
        msg = self.message(operation, resource, content)
        return await self.ctx.send_sync(c.EDGEHUB, msg, timeout=WAIT)

    def send(self, operation: str, resource: str, content: Any) -> None:
        """A durable (outbox) upstream message nobody waits for."""
        self.ctx.send_nowait(c.EDGEHUB, self.message(operation, resource, content, sync=False))

    async def stop(self) -> None:
        sess = self.hub.session
        link = sess.link if sess is not None else None
        self.runtime.stop()
        await self.task
        if link is not None:
            wait_closed = getattr(link, "wait_closed", None)
            if wait_closed is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wait_closed(), 5)
        self.outbox.close()


# -- the cloud ---------------------------------------------------------------------------------------


class Rig:
    """The embedded API server, a CloudHub with listeners, the EdgeController, and edges."""

    def __init__(self, tmp_path: Path, kubeconfig: str) -> None:
        self.tmp = tmp_path
        self.kubeconfig = kubeconfig
        self.pki = HubPKI(tmp_path / "pki")
        self.edges: dict[str, Edge] = {}
        self._informers: asyncio.Task | None = None

    async def start(self, *, informers: bool = True) -> None:
        self.api = await open_api(self.kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.coordination = client.CoordinationV1Api(self.api)
        self.ctx = Context()
        self.hub = CloudHub(self.ctx, HubSettings(tick=0.1, ack_timeout=2.0))
        kube = KubeOps(self.api)
        self.downstream = Downstream(kube, self.hub, backoff=fast_backoff)
        self.hub.sync_source = self.downstream.sync_source
        self.upstream = Upstream(kube, self.hub, self.downstream, retry_delays=(0.05,))
        self.module = EdgeControllerModule(self.upstream)
        self.runtime = Runtime(self.ctx)
        self.runtime.register(CloudHubModule(self.hub))
        self.runtime.register(self.module)
        self._runtime = asyncio.create_task(self.runtime.run(handle_signals=False), name="cloud")
        self.listeners: Listeners = await start_listeners(
            self.hub,
            ca_cert=self.pki.ca_cert,
            ca_path=str(self.pki.ca_path),
            cert_path=str(self.pki.server_cert_path),
            key_path=str(self.pki.server_key_path),
            ws=("127.0.0.1", 0),
            quic=None,
        )
        if informers:
            await self.start_informers()

    async def start_informers(self) -> None:
        self._informers = asyncio.create_task(self.downstream.run(), name="informers")
        await eventually(lambda: self.downstream.ready, "informers synced", WAIT)

    async def edge(self, node: str) -> Edge:
        cert, key = self.pki.node_cert(node)
        target = HubTarget(
            WEBSOCKET,
            "127.0.0.1:%d" % self.listeners.ports["websocket"],
            node,
            c.DEFAULT_PROJECT_ID,
            str(self.pki.ca_path),
            str(cert),
            str(key),
            native=True,
            timeout=10.0,
        )
        e = self.edges[node] = Edge(node, target, Outbox(self.tmp / ("%s.outbox.db" % node)))
        await eventually(lambda: node in self.hub.sessions, "node %s connected" % node, WAIT)
        await asyncio.wait_for(e.hub.connected.wait(), WAIT)  # EdgeHub drops sync requests until then
        return e

    async def register(self, node: str, **labels: str) -> Edge:
        """An edge connects and registers its Node (contract op 1); its Node comes back downstream."""
        e = await self.edge(node)
        reply = await e.request(c.INSERT, "default/node/" + node, node_object(node, **labels))
        assert reply.route.operation == c.RESPONSE, decode_content(reply)
        await eventually(
            lambda: e.recorder.last(c.UPDATE, "null/node/" + node) is not None, "node object sent"
        )
        return e

    def acked(self, node: str) -> dict[str, int]:
        st = self.hub.nodes.get(node)
        return {} if st is None else {k: v[0] for k, v in st.outbound.cursor.entries.items()}

    async def close(self) -> None:
        for e in self.edges.values():
            await e.stop()
        await self.listeners.close()
        self.runtime.stop()
        await self._runtime
        if self._informers is not None:
            self._informers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._informers
        await self.api.close()


@pytest.fixture
async def rig(tmp_path: Path, embedded) -> AsyncIterator[Rig]:  # noqa: F811
    r = Rig(tmp_path, str(embedded.kubeconfig))
    await r.start()
    yield r
    await r.close()
    await asyncio.sleep(0.05)  # let closed TLS transports finish on this loop


async def until(cond: Callable[[], Any], what: str) -> None:
    await eventually(lambda: bool(cond()), what, WAIT)


def content(msg: Message) -> Any:
    return decode_content(msg)


# -- downstream ----------------------------------------------------------------------------------------


async def test_pods_of_edge_nodes_go_to_their_node_with_rv_and_uid_key(rig: Rig) -> None:
    e = await rig.register("edge-a")
    await rig.core.create_node({"metadata": {"name": "plain"}})  # not labelled edge
    await rig.core.create_namespaced_pod("default", pod_object("elsewhere", "plain"))
    # never bound: the embedded scheduler finds no node for it
    await rig.core.create_namespaced_pod("default", pod_object("unbound", "", nodeSelector={"zone": "none"}))
    created = await rig.core.create_namespaced_pod(
        "default", pod_object("web", "edge-a"), _preload_content=False
    )
    web = json.loads(await created.read())
    uid, rv = web["metadata"]["uid"], web["metadata"]["resourceVersion"]

    await until(lambda: e.recorder.last(c.INSERT, "default/pod/web"), "pod insert delivered")
    msg = e.recorder.last(c.INSERT, "default/pod/web")
    assert msg is not None
    assert msg.route.source == c.EDGECONTROLLER and msg.route.group == c.GROUP_RESOURCE
    assert msg.header.resourceversion == rv
    assert content(msg)["metadata"]["uid"] == uid
    assert content(msg)["spec"]["nodeName"] == "edge-a"
    await until(lambda: rig.acked("edge-a").get(uid) == int(rv), "the edge's ack moved the cursor by uid")
    assert "plain" not in rig.hub.nodes  # nothing was ever published for the non-edge node
    assert [r for _, r in e.recorder.seen() if "/pod/" in r] == ["default/pod/web"]

    # an update follows as "update" with the new RV
    await rig.core.patch_namespaced_pod("web", "default", {"metadata": {"labels": {"v": "2"}}})
    await until(lambda: e.recorder.last(c.UPDATE, "default/pod/web"), "pod update delivered")
    upd = e.recorder.last(c.UPDATE, "default/pod/web")
    assert upd is not None and content(upd)["metadata"]["labels"] == {"v": "2"}
    assert int(upd.header.resourceversion) > int(rv)

    # a user's graceful delete: the pod stays (deletionTimestamp) until the edge confirms with grace 0
    await rig.core.delete_namespaced_pod("web", "default")
    await until(
        lambda: (
            (m := e.recorder.last(c.UPDATE, "default/pod/web"))
            and content(m)["metadata"].get("deletionTimestamp")
        ),
        "graceful deletion delivered as an update",
    )
    assert (await rig.core.read_namespaced_pod("web", "default")).metadata.deletion_timestamp is not None
    e.send(c.DELETE, "default/pod/web", {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})
    await until(lambda: e.recorder.last(c.DELETE, "default/pod/web"), "pod delete delivered")
    with pytest.raises(client.ApiException) as gone:
        await rig.core.read_namespaced_pod("web", "default")
    assert gone.value.status == 404
    assert content(e.recorder.last(c.DELETE, "default/pod/web"))["metadata"]["uid"] == uid
    await until(lambda: uid not in rig.acked("edge-a"), "the acked delete left the cursor")
    await until(lambda: e.hub.outbox is not None and len(e.hub.outbox) == 0, "the edge's outbox emptied")


async def test_pod_delete_from_the_edge_respects_the_uid_precondition(rig: Rig) -> None:
    e = await rig.register("edge-d")
    pod = await rig.core.create_namespaced_pod("default", pod_object("db", "edge-d"))
    await until(lambda: e.recorder.last(c.INSERT, "default/pod/db"), "pod delivered")
    # an old incarnation's uid: the API server refuses (409), the cloud takes it as done, the pod stays
    e.send(c.DELETE, "default/pod/db", {"gracePeriodSeconds": 0, "preconditions": {"uid": "old-uid"}})
    await until(lambda: len(e.hub.outbox) == 0, "the edge's outbox emptied")
    await until(lambda: rig.upstream.stats["handled"] >= 2, "the delete was handled")
    assert (await rig.core.read_namespaced_pod("db", "default")).metadata.uid == pod.metadata.uid
    # bad options: an error for the log, no exception, the pod stays
    errors = rig.upstream.stats["errors"]
    e.send(c.DELETE, "default/pod/db", {"gracePeriodSeconds": "soon"})
    await until(lambda: rig.upstream.stats["errors"] > errors, "the bad delete was refused")
    assert (await rig.core.read_namespaced_pod("db", "default")).metadata.uid == pod.metadata.uid


async def test_configmaps_and_secrets_follow_the_pods_that_reference_them(rig: Rig) -> None:
    a = await rig.register("edge-a")
    await rig.register("edge-b")
    cfg = await rig.core.create_namespaced_config_map("default", configmap("cfg"))
    await rig.core.create_namespaced_config_map("default", configmap("unused"))
    pw = await rig.core.create_namespaced_secret("default", secret("pass"))
    spec = {
        "volumes": [{"name": "c", "configMap": {"name": "cfg"}}],
        "imagePullSecrets": [{"name": "pass"}],
    }
    await rig.core.create_namespaced_pod("default", pod_object("app", "edge-a", **spec))
    await until(lambda: a.recorder.last(c.INSERT, "default/pod/app"), "pod delivered")
    # the references came first, in the same turn
    assert a.recorder.index(c.INSERT, "default/configmap/cfg") < a.recorder.index(c.INSERT, "default/pod/app")
    assert a.recorder.index(c.UPDATE, "default/secret/pass") < a.recorder.index(c.INSERT, "default/pod/app")
    cm_msg = a.recorder.last(c.INSERT, "default/configmap/cfg")
    assert cm_msg is not None and cm_msg.header.resourceversion == cfg.metadata.resource_version
    assert content(cm_msg)["data"] == {"k": "v"}

    # the configmap changes: it follows to edge-a only
    await rig.core.patch_namespaced_config_map("cfg", "default", {"data": {"k": "v2"}})
    await until(
        lambda: (
            (m := a.recorder.last(c.UPDATE, "default/configmap/cfg")) and content(m)["data"] == {"k": "v2"}
        ),
        "configmap update delivered",
    )
    await rig.core.patch_namespaced_secret("pass", "default", {"data": {"k": "dzI="}})
    await until(
        lambda: (
            (m := a.recorder.last(c.UPDATE, "default/secret/pass")) and content(m)["data"] == {"k": "dzI="}
        ),
        "secret update delivered",
    )
    b = rig.edges["edge-b"]
    assert {r for _, r in b.recorder.seen()} == {"null/node/edge-b"}
    assert not any("unused" in r for _, r in a.recorder.seen())

    # the pod goes (grace 0 from a user): the pod delete, then the references nobody uses any more
    await rig.core.delete_namespaced_pod("app", "default", grace_period_seconds=0)
    await until(lambda: a.recorder.last(c.DELETE, "default/secret/pass"), "secret delete delivered")
    await until(lambda: a.recorder.last(c.DELETE, "default/configmap/cfg"), "configmap delete delivered")
    assert a.recorder.index(c.DELETE, "default/pod/app") < a.recorder.index(c.DELETE, "default/configmap/cfg")
    await until(
        lambda: cfg.metadata.uid not in rig.acked("edge-a") and pw.metadata.uid not in rig.acked("edge-a"),
        "the references left the cursor",
    )
    # no longer referenced: changes stay in the cloud
    n = len(a.recorder.messages)
    await rig.core.patch_namespaced_config_map("cfg", "default", {"data": {"k": "v3"}})
    await rig.core.create_namespaced_pod("default", pod_object("marker", "edge-a"))
    await until(lambda: a.recorder.last(c.INSERT, "default/pod/marker"), "marker pod delivered")
    assert a.recorder.seen()[n:] == [(c.INSERT, "default/pod/marker")]


async def test_a_referenced_configmap_deleted_and_created_again(rig: Rig) -> None:
    a = await rig.register("edge-a")
    spec = {"containers": [{"name": "app", "image": "x", "envFrom": [{"configMapRef": {"name": "late"}}]}]}
    await rig.core.create_namespaced_pod("default", pod_object("app", "edge-a", **spec))
    await until(lambda: a.recorder.last(c.INSERT, "default/pod/app"), "pod delivered")
    assert not any("late" in r for _, r in a.recorder.seen())  # referenced, but it does not exist yet
    await rig.core.create_namespaced_config_map("default", configmap("late"))
    await until(
        lambda: a.recorder.last(c.INSERT, "default/configmap/late"), "configmap delivered when created"
    )
    await rig.core.delete_namespaced_config_map("late", "default")
    await until(lambda: a.recorder.last(c.DELETE, "default/configmap/late"), "configmap delete delivered")


async def test_node_object_updates_and_losing_the_edge_label(rig: Rig) -> None:
    e = await rig.register("edge-n")
    await rig.core.create_namespaced_pod("default", pod_object("p", "edge-n"))
    await until(lambda: e.recorder.last(c.INSERT, "default/pod/p"), "pod delivered")
    await rig.core.patch_node("edge-n", {"metadata": {"labels": {"zone": "north"}}})
    await until(
        lambda: (
            (m := e.recorder.last(c.UPDATE, "null/node/edge-n"))
            and content(m)["metadata"]["labels"].get("zone") == "north"
        ),
        "node update delivered",
    )
    # no longer an edge node: its Node and its pods are deleted on the edge
    await rig.core.patch_node("edge-n", {"metadata": {"labels": {EDGE_LABEL: None}}})
    await until(lambda: e.recorder.last(c.DELETE, "default/pod/p"), "pod delete delivered")
    await until(lambda: e.recorder.last(c.DELETE, "null/node/edge-n"), "node delete delivered")
    # labelled again: everything comes back
    await rig.core.patch_node("edge-n", {"metadata": {"labels": {EDGE_LABEL: ""}}})
    await until(
        lambda: e.recorder.seen()[-1] == (c.INSERT, "default/pod/p"), "pod delivered again after its node"
    )


async def test_sync_source_is_none_until_synced_then_complete(tmp_path: Path, embedded) -> None:  # noqa: F811
    api = await open_api(str(embedded.kubeconfig))
    core = client.CoreV1Api(api)
    try:
        await core.create_node({"metadata": {"name": "s1", "labels": {EDGE_LABEL: ""}}})
        await core.create_node({"metadata": {"name": "s2", "labels": {EDGE_LABEL: ""}}})
        await core.create_node({"metadata": {"name": "plain"}})
        cm = await core.create_namespaced_config_map("default", configmap("cfg"))
        sec = await core.create_namespaced_secret("default", secret("token"))
        spec = {
            "containers": [
                {
                    "name": "app",
                    "image": "x",
                    "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "token", "key": "k"}}}],
                }
            ],
            "volumes": [{"name": "v", "projected": {"sources": [{"configMap": {"name": "cfg"}}]}}],
        }
        p1 = await core.create_namespaced_pod("default", pod_object("p1", "s1", **spec))
        p2 = await core.create_namespaced_pod("default", pod_object("p2", "s1"))
        await core.create_namespaced_pod("default", pod_object("other", "s2"))
        await core.create_namespaced_pod("default", pod_object("plain-pod", "plain"))

        hub = CloudHub()  # no sessions: this is about what the source answers
        down = Downstream(KubeOps(api), hub, backoff=fast_backoff)
        hub.sync_source = down.sync_source
        assert down.sync_source("s1") is None  # never from a cold cache
        task = asyncio.create_task(down.run())
        try:
            await eventually(lambda: down.ready, "synced", WAIT)
            s1 = await core.read_node("s1")
            got = down.sync_source("s1")
            assert got is not None
            # the Node, then the references, then the pods (their order among themselves is free)
            assert [(k, m.route.resource) for k, m in got[:3]] == [
                (s1.metadata.uid, "null/node/s1"),
                (cm.metadata.uid, "default/configmap/cfg"),
                (sec.metadata.uid, "default/secret/token"),
            ]
            assert sorted((k, m.route.resource) for k, m in got[3:]) == sorted(
                [(p1.metadata.uid, "default/pod/p1"), (p2.metadata.uid, "default/pod/p2")]
            )
            for _, m in got:
                obj = decode_content(m)
                assert m.header.resourceversion == obj["metadata"]["resourceVersion"]
                assert m.route.operation == c.UPDATE
            assert [m.route.resource for _, m in down.sync_source("s2") or []] == [
                "null/node/s2",
                "default/pod/other",
            ]
            assert down.sync_source("plain") == []  # not an edge node: it should have nothing
            assert down.sync_source("unknown") == []
            # a pod created now shows up in the next answer
            await core.create_namespaced_pod("default", pod_object("p3", "s2"))
            await eventually(
                lambda: "default/pod/p3" in [m.route.resource for _, m in down.sync_source("s2") or []],
                "new pod in the source",
                WAIT,
            )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await api.close()


async def test_a_node_connected_before_the_sync_is_resynced_when_it_completes(
    tmp_path: Path,
    embedded,  # noqa: F811
) -> None:
    """A cloudcore restart: the edge is back before the informers listed; once they did, the edge gets what
    it should have and deletes of what vanished meanwhile (an object its cursor remembers)."""
    rig = Rig(tmp_path, str(embedded.kubeconfig))
    await rig.start(informers=False)
    try:
        await rig.core.create_node({"metadata": {"name": "edge-r", "labels": {EDGE_LABEL: ""}}})
        await rig.core.create_namespaced_pod("default", pod_object("kept", "edge-r"))
        # what the cursor store would hold after a restart: a pod acked before, deleted while away
        rig.hub.state("edge-r").outbound.cursor.record("uid-vanished", 3, "default/pod/vanished", False)
        e = await rig.edge("edge-r")
        await asyncio.sleep(0.3)
        assert e.recorder.messages == []  # no resync from a cold cache: nothing deleted, nothing sent
        await rig.start_informers()
        await until(lambda: e.recorder.last(c.DELETE, "default/pod/vanished"), "vanished pod deleted")
        await until(lambda: e.recorder.last(c.UPDATE, "default/pod/kept"), "kept pod sent")
        assert e.recorder.last(c.UPDATE, "null/node/edge-r") is not None
        deleted = e.recorder.last(c.DELETE, "default/pod/vanished")
        assert deleted is not None and content(deleted)["metadata"]["uid"] == "uid-vanished"
        await until(lambda: "uid-vanished" not in rig.acked("edge-r"), "cursor forgot the vanished pod")
    finally:
        await rig.close()
        await asyncio.sleep(0.05)


# -- upstream ----------------------------------------------------------------------------------------


async def test_registration_creates_the_node_with_labels_and_status(rig: Rig) -> None:
    e = await rig.edge("edge-reg")
    reply = await e.request(c.INSERT, "default/node/edge-reg", node_object("edge-reg", rack="r1"))
    assert reply.route.operation == c.RESPONSE
    assert reply.route.resource == "default/node/edge-reg"
    assert reply.route.group == c.GROUP_META
    body = content(reply)
    assert body["metadata"]["labels"][EDGE_LABEL] == ""
    assert body["status"]["capacity"]["cpu"] == "4"
    node = await rig.core.read_node("edge-reg")
    assert node.metadata.labels["kubernetes.io/hostname"] == "edge-reg"
    assert node.metadata.labels["rack"] == "r1"
    assert node.metadata.annotations["node.alpha.kubernetes.io/ttl"] == "0"
    assert node.status.node_info.kubelet_version == "v1.31.0-kedge"
    assert [(cd.type, cd.status) for cd in node.status.conditions] == [("Ready", "True")]
    assert node.status.addresses[0].address == "10.0.0.7"
    # registering again (an edge reinstalled): labels merge in, the Node keeps its uid
    again = node_object("edge-reg", rack="r2")
    again["status"]["capacity"]["cpu"] = "8"
    reply = await e.request(c.INSERT, "default/node/edge-reg", again)
    assert reply.route.operation == c.RESPONSE, content(reply)
    node2 = await rig.core.read_node("edge-reg")
    assert node2.metadata.uid == node.metadata.uid
    assert node2.metadata.labels["rack"] == "r2"
    assert node2.status.capacity["cpu"] == "8"
    assert content(reply)["status"]["capacity"]["cpu"] == "8"


async def test_node_status_patch(rig: Rig) -> None:
    e = await rig.register("edge-s")
    patch = {
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "Testing",
                    "lastHeartbeatTime": "2026-11-22T09:00:00Z",
                }
            ]
        }
    }
    reply = await e.request(c.PATCH, "default/nodepatch/edge-s", json.dumps(patch))
    assert reply.route.operation == c.RESPONSE, content(reply)
    assert reply.route.resource == "default/nodepatch/edge-s"
    assert content(reply)["status"]["conditions"][0]["reason"] == "Testing"
    node = await rig.core.read_node("edge-s")
    assert node.status.conditions[0].status == "False"
    assert node.status.capacity["cpu"] == "4"  # a patch, not a replacement


async def test_statuses_of_one_node_apply_in_order_while_other_nodes_proceed(rig: Rig) -> None:
    edges = [await rig.register("edge-%d" % i) for i in range(3)]

    def status(n: int) -> str:
        return json.dumps(
            {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "r%d" % n}]}}
        )

    # 20 patches per node sent at once; each node's last one must be what the API server ends with
    replies = await asyncio.gather(
        *(e.request(c.PATCH, "default/nodepatch/" + e.node, status(n)) for n in range(20) for e in edges)
    )
    assert all(r.route.operation == c.RESPONSE for r in replies)
    for e in edges:
        node = await rig.core.read_node(e.node)
        assert node.status.conditions[0].reason == "r19"
    await until(lambda: rig.module.pending == 0, "module idle")


async def test_lease_is_created_then_renewed(rig: Rig) -> None:
    e = await rig.register("edge-l")
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "edge-l", "namespace": "kube-node-lease"},
        "spec": {
            "holderIdentity": "edge-l",
            "leaseDurationSeconds": 40,
            "renewTime": "2026-11-22T09:00:00.000000Z",
        },
    }
    reply = await e.request(c.UPDATE, "kube-node-lease/lease/edge-l", lease)
    assert reply.route.operation == c.RESPONSE, content(reply)
    created = content(reply)
    assert created["spec"]["holderIdentity"] == "edge-l"
    node = await rig.core.read_node("edge-l")
    got = await rig.coordination.read_namespaced_lease("edge-l", "kube-node-lease")
    assert [(o.kind, o.name, o.uid) for o in got.metadata.owner_references] == [
        ("Node", "edge-l", node.metadata.uid)
    ]
    assert got.spec.lease_duration_seconds == 40

    renewed = now_micro()
    lease["spec"]["renewTime"] = renewed
    reply = await e.request(c.UPDATE, "kube-node-lease/lease/edge-l", lease)
    assert reply.route.operation == c.RESPONSE, content(reply)
    assert content(reply)["spec"]["renewTime"] == renewed
    assert content(reply)["metadata"]["uid"] == created["metadata"]["uid"]
    assert int(content(reply)["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])

    bad = await e.request(c.UPDATE, "kube-node-lease/lease/edge-l", {"spec": "soon"})
    assert bad.route.operation == c.ERROR
    assert content(bad) == "lease of edge-l: spec must be an object, got string"


async def test_pod_status_patch_and_unknown_pods(rig: Rig) -> None:
    e = await rig.register("edge-p")
    pod = await rig.core.create_namespaced_pod("default", pod_object("web", "edge-p"))
    uid = pod.metadata.uid
    await until(lambda: e.recorder.last(c.INSERT, "default/pod/web"), "pod delivered")
    patch = {"metadata": {"uid": uid}, "status": {"phase": "Running", "podIP": "10.1.0.5"}}
    reply = await e.request(c.PATCH, "default/podpatch/web", json.dumps(patch))
    assert reply.route.operation == c.RESPONSE, content(reply)
    assert content(reply)["status"]["phase"] == "Running"
    live = await rig.core.read_namespaced_pod("web", "default")
    assert live.status.phase == "Running" and live.status.pod_ip == "10.1.0.5"

    # the status of an incarnation the cloud no longer has: an error, and the edge is told to delete it
    stale = {"metadata": {"uid": "old-uid"}, "status": {"phase": "Failed"}}
    reply = await e.request(c.PATCH, "default/podpatch/web", json.dumps(stale))
    assert reply.route.operation == c.ERROR
    assert content(reply) == "pod default/web (uid old-uid) not found"
    await until(
        lambda: (
            (m := e.recorder.last(c.DELETE, "default/pod/web")) and content(m)["metadata"]["uid"] == "old-uid"
        ),
        "delete of the unknown pod delivered",
    )
    assert (await rig.core.read_namespaced_pod("web", "default")).status.phase == "Running"
    # the current pod of that name is still the node's: its status still goes through
    reply = await e.request(c.PATCH, "default/podpatch/web", json.dumps(patch))
    assert reply.route.operation == c.RESPONSE, content(reply)

    # a pod that is gone entirely
    await rig.core.delete_namespaced_pod("web", "default", grace_period_seconds=0)
    await until(
        lambda: (m := e.recorder.last(c.DELETE, "default/pod/web")) and content(m)["metadata"]["uid"] == uid,
        "pod delete",
    )


async def test_mirror_pods_of_static_pods(rig: Rig) -> None:
    e = await rig.register("edge-m")
    mirror = pod_object("etcd-edge-m", "edge-m")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc123"}
    reply = await e.request(c.INSERT, "default/pod/etcd-edge-m", mirror)
    assert reply.route.operation == c.RESPONSE, content(reply)
    uid = content(reply)["metadata"]["uid"]
    assert (await rig.core.read_namespaced_pod("etcd-edge-m", "default")).metadata.uid == uid
    await until(lambda: e.recorder.last(c.INSERT, "default/pod/etcd-edge-m"), "mirror pod delivered back")
    # again (an edge restart): it exists, that is fine
    reply = await e.request(c.INSERT, "default/pod/etcd-edge-m", mirror)
    assert reply.route.operation == c.RESPONSE and content(reply)["metadata"]["uid"] == uid

    elsewhere = pod_object("proxy-edge-m", "edge-x")
    elsewhere["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    reply = await e.request(c.INSERT, "default/pod/proxy-edge-m", elsewhere)
    assert reply.route.operation == c.ERROR
    assert content(reply) == "mirror pod default/proxy-edge-m: spec.nodeName must be edge-m, got 'edge-x'"
    plain = pod_object("proxy-edge-m", "edge-m")
    reply = await e.request(c.INSERT, "default/pod/proxy-edge-m", plain)
    assert (
        content(reply)
        == "mirror pod default/proxy-edge-m: a mirror pod carries the annotation kubernetes.io/config.mirror"
    )


async def test_queries_for_configmaps_and_secrets(rig: Rig) -> None:
    e = await rig.register("edge-q")
    await rig.core.create_namespaced_config_map("default", configmap("cfg", "hello"))
    await rig.core.create_namespaced_secret("default", secret("pw"))
    spec = {
        "volumes": [
            {"name": "a", "configMap": {"name": "cfg"}},
            {"name": "b", "secret": {"secretName": "pw"}},
        ]
    }
    await rig.core.create_namespaced_pod("default", pod_object("app", "edge-q", **spec))
    await until(lambda: e.recorder.last(c.INSERT, "default/pod/app"), "pod delivered")
    reply = await e.request(c.QUERY, "default/configmap/cfg", None)
    assert reply.route.operation == c.RESPONSE
    assert content(reply)["data"] == {"k": "hello"}
    reply = await e.request(c.QUERY, "default/secret/pw", None)
    assert content(reply)["data"] == {"k": "dg=="}

    # absent: CloudHub lets a node ask only for what it was sent, so this request enters the cloud where
    # CloudHub hands authorized messages to the edgecontroller; the answer still travels to the edge
    req = new_message(
        source=c.METAMANAGER,
        group=c.GROUP_META,
        operation=c.QUERY,
        resource="node/edge-q/default/configmap/nope",
        sync=True,
    )
    rig.ctx.send_nowait(c.EDGECONTROLLER, req)
    await until(
        lambda: any(r.header.parent_msg_id == req.header.msg_id for r in e.recorder.replies), "answer"
    )
    answer = next(r for r in e.recorder.replies if r.header.parent_msg_id == req.header.msg_id)
    assert answer.route.operation == c.ERROR
    assert answer.route.resource == "default/configmap/nope"
    assert content(answer) == "configmap default/nope not found"


@pytest.mark.parametrize(
    ("operation", "resource", "body", "error"),
    [
        (c.PATCH, "default/nodepatch/edge-x", {"status": {}},
         "nodepatch of edge-x: content must be a JSON string holding the patch, got object"),
        (c.PATCH, "default/nodepatch/edge-x", "{not json",
         "nodepatch of edge-x: the patch is not JSON: "),
        (c.PATCH, "default/nodepatch/edge-x", "[1, 2]",
         "nodepatch of edge-x: the patch must be a JSON object, got array"),
        (c.PATCH, "default/nodepatch/edge-x", 42,
         "nodepatch of edge-x: content must be a JSON string holding the patch, got number"),
        (c.INSERT, "default/node/edge-x", "a node",
         "node registration of edge-x: content must be a JSON object, got string"),
        (c.INSERT, "default/node/edge-x", {"metadata": {"name": "edge-y"}},
         "node registration of edge-x: the Node is named 'edge-y', not 'edge-x'"),
        (c.INSERT, "default/node/edge-x", {"metadata": {"labels": ["a"]}},
         "node registration of edge-x: metadata: labels must be an object, got array"),
        (c.UPDATE, "default/lease/edge-x", {"spec": {}},
         "lease of edge-x: node leases live in kube-node-lease, not default"),
        (c.PATCH, "default/podpatch/app", json.dumps({"status": {"phase": "Running"}}),
         "podpatch of default/app: the patch must carry the pod's metadata.uid"),
        (c.DELETE, "null/node/edge-x", None, "edgecontroller does not handle delete of node"),
        (c.PATCH, "default/nodepatch/edge-x", json.dumps({"status": {"$patch": "bogus"}}),
         "unknown patch type: bogus"),
    ],
)  # fmt: skip
async def test_bad_requests_are_answered_with_the_problem(
    rig: Rig, operation: str, resource: str, body: Any, error: str
) -> None:
    e = await rig.register("edge-x")
    await rig.core.create_namespaced_pod("default", pod_object("app", "edge-x"))
    await until(lambda: e.recorder.last(c.INSERT, "default/pod/app"), "pod delivered")
    reply = await e.request(operation, resource, body)
    assert reply.route.operation == c.ERROR
    assert reply.route.resource == resource
    assert content(reply).startswith(error), content(reply)  # the last case: the API server's own message
    # the module is none the worse
    ok = await e.request(c.PATCH, "default/nodepatch/edge-x", json.dumps({"status": {"phase": "Running"}}))
    assert ok.route.operation == c.RESPONSE, content(ok)


async def test_raw_json_content_from_the_kubeedge_lane_is_decoded(rig: Rig) -> None:
    """On the JSON lane content arrives as raw JSON bytes; a malformed body is an error, not a crash."""
    e = await rig.register("edge-j")
    req = e.message(
        c.PATCH, "default/nodepatch/edge-j", msgspec.Raw(b'"{\\"status\\":{\\"phase\\":\\"Running\\"}}"')
    )
    reply = await e.ctx.send_sync(c.EDGEHUB, req, timeout=WAIT)
    assert reply.route.operation == c.RESPONSE, content(reply)
    inject = new_message(
        source=c.EDGED, group=c.GROUP_META, operation=c.INSERT, resource="node/edge-j/default/node/edge-j",
        sync=True, content=msgspec.Raw(b"{broken"),
    )  # fmt: skip
    rig.ctx.send_nowait(c.EDGECONTROLLER, inject)
    await until(
        lambda: any(r.header.parent_msg_id == inject.header.msg_id for r in e.recorder.replies), "answer"
    )
    answer = next(r for r in e.recorder.replies if r.header.parent_msg_id == inject.header.msg_id)
    assert answer.route.operation == c.ERROR
    assert content(answer).startswith("node registration of edge-j: malformed JSON content: ")


# -- the module's scheduling ---------------------------------------------------------------------------


def test_object_keys_fold_status_types_into_their_object() -> None:
    assert object_key("node/n1/default/nodepatch/n1") == object_key("node/n1/default/node/n1")
    assert object_key("node/n1/default/podpatch/web") == "node/n1/default/pod/web"
    assert object_key("node/n1/kube-node-lease/lease/n1") == "node/n1/kube-node-lease/lease/n1"
    assert object_key("node/n1/default/pod/web") != object_key("node/n2/default/pod/web")
    assert object_key("odd") == "odd"


async def test_a_slow_call_holds_up_only_its_own_object(rig: Rig) -> None:
    """While one pod's delete waits out API server failures, other requests are answered; the next
    message about that pod waits for it."""
    e = await rig.register("edge-w")
    await rig.core.create_namespaced_pod("default", pod_object("slow", "edge-w"))
    await until(lambda: e.recorder.last(c.INSERT, "default/pod/slow"), "pod delivered")
    # a delete the API server refuses as too much (429 comes back as transient): give it long retries
    rig.upstream.retry_delays = (0.5, 0.5, 0.5, 0.5)
    hold = asyncio.Event()
    real_delete = rig.upstream.kube.delete_pod
    calls: list[str] = []

    async def delete_pod(ns: str, name: str, options: dict[str, Any]) -> dict[str, Any]:
        calls.append(name)
        await hold.wait()  # the API server is slow to answer this one
        return await real_delete(ns, name, options)

    rig.upstream.kube.delete_pod = delete_pod  # type: ignore[method-assign]
    try:
        pod = await rig.core.read_namespaced_pod("slow", "default")
        e.send(
            c.DELETE,
            "default/pod/slow",
            {"gracePeriodSeconds": 0, "preconditions": {"uid": pod.metadata.uid}},
        )
        await until(lambda: calls == ["slow"], "delete started")
        # other objects of the same node go through meanwhile, 64 at a time at most
        replies = await asyncio.gather(
            *(e.request(c.PATCH, "default/nodepatch/edge-w", json.dumps({"status": {"phase": "Running"}}))
              for _ in range(5)),
            e.request(c.UPDATE, "kube-node-lease/lease/edge-w", {"spec": {"holderIdentity": "edge-w"}}),
        )  # fmt: skip
        assert all(r.route.operation == c.RESPONSE for r in replies)
        # a status of the same pod waits behind its delete
        patch = json.dumps({"metadata": {"uid": pod.metadata.uid}, "status": {"phase": "Running"}})
        status = asyncio.create_task(e.request(c.PATCH, "default/podpatch/slow", patch))
        await asyncio.sleep(0.3)
        assert not status.done()
        hold.set()
        reply = await status
        assert reply.route.operation == c.ERROR  # the delete ran first: the pod is gone
        assert content(reply) == "pod default/slow (uid %s) not found" % pod.metadata.uid
    finally:
        hold.set()
        del rig.upstream.kube.delete_pod


# -- cloudcore wiring ------------------------------------------------------------------------------------


async def test_cloudcore_runs_the_edgecontroller(tmp_path: Path) -> None:
    cfg = CloudCoreConfig()
    cfg.embedded_api_server.port = 0
    cfg.common_config.monitor_server.bind_address = "127.0.0.1:0"
    hub = cfg.modules.cloud_hub
    hub.websocket.address = hub.https.address = "127.0.0.1"
    hub.websocket.port = hub.https.port = 0
    core = await start_cloudcore(cfg, tmp_path / "cloud")
    try:
        api = await open_api(core.kubeconfig)
        try:
            await client.CoreV1Api(api).create_node(
                {"metadata": {"name": "wired", "labels": {EDGE_LABEL: ""}}}
            )
            # the node is not connected; the EdgeController still queues its Node for it
            await eventually(
                lambda: "wired" in core.hub.nodes and core.hub.nodes["wired"].knows("null/node/wired"),
                "Node queued for its edge",
                WAIT,
            )
            assert core.hub.sync_source is not None and core.hub.sync_source("wired") is not None
        finally:
            await api.close()
    finally:
        core.hub.close_all("test over")
        await core.stop()
