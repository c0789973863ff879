"""CloudHub and EdgeHub end to end, wired by an in-memory Link pair, with fake time on the cloud side.

The pair is a real implementation of `kedge.transport.link.Link`: batches go through the native frame
codec (or the JSON codec on KubeEdge's lane) and arrive at the other end's handler on a later event-loop
turn; `close()` reaches both ends, like a TCP connection going away. Nothing sleeps: the tests turn the
event loop with `asyncio.sleep(0)` and drive the cloud's timers with `CloudHub.tick(now)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest

from kedge.aio.backoff import Backoff
from kedge.beehive import Context
from kedge.cloud.cloudhub.cursors import CursorStore, decode_cursor
from kedge.cloud.cloudhub.hub import CONNECTED, DISCONNECTED, CloudHub, HubSettings
from kedge.edge.edgehub.hub import (
    CLOUD_CONNECTED,
    CLOUD_DISCONNECTED,
    EdgeHub,
    EdgeSession,
    keepalive_message,
)
from kedge.edge.edgehub.outbox import Outbox
from kedge.model import constants as c
from kedge.model.codec import decode_content, decode_json, encode_json
from kedge.model.frames import decode_frame, encode_frame
from kedge.model.message import Message, new_message, new_response
from kedge.transport.link import LANE_JSON, LANE_NATIVE, Link, LinkHandler, Peer, Refused

PROJECT = c.DEFAULT_PROJECT_ID
LANES = pytest.mark.parametrize("lane", [LANE_NATIVE, LANE_JSON])

# -- the in-memory link ------------------------------------------------------------------------------


class MemLink:
    """One end of an in-memory connection."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.other: MemLink | None = None
        self.handler: LinkHandler | None = None
        self._closed = False
        self.close_reason = ""
        self.sent: list[tuple[list[Message], list[str]]] = []  # what this end wrote, before any loss
        self.drop: Callable[[Message], bool] | None = None  # messages lost on the wire
        self.drop_acks = False
        self.on_send: Callable[[], None] | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def write_buffer_size(self) -> int:
        return 0

    def send(self, messages: Sequence[Message], acks: Sequence[str] = ()) -> None:
        if self._closed:
            return  # a closed socket takes no more writes
        messages, acks = list(messages), list(acks)
        self.sent.append((messages, acks))
        if self.on_send is not None:
            self.on_send()
        if self.drop is not None:
            messages = [m for m in messages if not self.drop(m)]
        loop = asyncio.get_running_loop()
        assert self.other is not None
        if self.peer.lane == LANE_NATIVE:
            if self.drop_acks:
                acks = []
            if messages or acks:
                loop.call_soon(self.other._arrive, encode_frame(messages, acks))
        else:  # KubeEdge's lane: one JSON text frame per message, no acks
            for m in messages:
                loop.call_soon(self.other._arrive_json, encode_json(m))

    def _arrive(self, frame: bytes) -> None:
        if not self._closed:
            assert self.handler is not None
            self.handler.on_batch(*decode_frame(frame))

    def _arrive_json(self, data: bytes) -> None:
        if not self._closed:
            assert self.handler is not None
            self.handler.on_batch([decode_json(data)], [])

    def _shut(self, reason: str) -> None:
        self._closed = True
        self.close_reason = reason
        assert self.handler is not None
        asyncio.get_running_loop().call_soon(self.handler.on_close, reason)

    def close(self, reason: str) -> None:
        if self._closed:
            return
        self._shut(reason)
        if self.other is not None and not self.other._closed:
            self.other._shut("peer closed: " + reason)

    def sent_messages(self) -> list[Message]:
        return [m for ms, _ in self.sent for m in ms]

    def sent_acks(self) -> list[str]:
        return [a for _, acks in self.sent for a in acks]


def cut(link: MemLink) -> None:
    """The network goes away under both ends."""
    link.close("network cut")


# -- the two sides -----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class EdgeApp:
    """The edge application: a module of group `meta` that persists each message, then acks it."""

    def __init__(self, ctx: Context, capacity: int = 1024) -> None:
        self.ctx = ctx
        ctx.add_module(c.METAMANAGER, c.METAMANAGER_GROUP, capacity)
        self.hub: EdgeHub | None = None
        self.store: dict[str, int] = {}  # resource → resourceVersion
        self.deliveries: list[Message] = []
        self.events: list[str] = []
        self.hold = False
        self.ack_first = -1  # ack this many deliveries, hold the rest (-1: no limit)
        self.held: list[Message] = []
        self.paused = asyncio.Event()

    async def run(self) -> None:
        while True:
            if self.paused.is_set():
                await asyncio.sleep(0)
                continue
            for msg in await self.ctx.receive_many(c.METAMANAGER, 1):
                if msg.route.group == c.EDGEHUB_GROUP:
                    self.events.append(msg.content)
                    continue
                self.deliveries.append(msg)
                if msg.route.operation == c.DELETE:
                    self.store.pop(msg.route.resource, None)
                else:
                    self.store[msg.route.resource] = int(msg.header.resourceversion or 0)
                reply = new_response(msg, c.ACK_OK)
                if self.hold or 0 <= self.ack_first < len(self.deliveries):
                    self.held.append(reply)
                else:
                    assert self.hub is not None
                    self.hub.send_up(reply)

    def release(self) -> None:
        held, self.held = self.held, []
        self.hold = False
        self.ack_first = -1
        assert self.hub is not None
        for r in held:
            self.hub.send_up(r)

    def delivered(self) -> list[tuple[str, str, str]]:
        return [(m.route.operation, m.route.resource, m.header.resourceversion) for m in self.deliveries]


class BareEdge:
    """A minimal edge-side LinkHandler (no EdgeHub) for admission tests."""

    def __init__(self) -> None:
        self.link: Link | None = None
        self.batches: list[tuple[list[Message], list[str]]] = []
        self.close_reason: str | None = None

    def bind(self, link: Link) -> None:
        self.link = link

    def on_batch(self, messages: list[Message], acks: list[str]) -> None:
        self.batches.append((messages, acks))

    def on_close(self, reason: str) -> None:
        assert self.close_reason is None, "on_close called twice"
        self.close_reason = reason

    def messages(self) -> list[Message]:
        return [m for ms, _ in self.batches for m in ms]


class Edge:
    def __init__(self, node: str, hub: EdgeHub, app: EdgeApp, ctx: Context) -> None:
        self.node = node
        self.hub = hub
        self.app = app
        self.ctx = ctx
        self.links: list[tuple[MemLink, MemLink]] = []  # (edge end, cloud end) per connection

    @property
    def link(self) -> MemLink:
        return self.links[-1][0]

    @property
    def cloud_link(self) -> MemLink:
        return self.links[-1][1]


class World:
    def __init__(self, settings: HubSettings | None = None, cursors: CursorStore | None = None) -> None:
        self.clock = Clock()
        self.settings = settings or HubSettings(window=8, ack_timeout=10.0, max_backoff=60.0)
        self.cursors = cursors
        self.sync = False
        #: the cluster: node → key → current object (what the EdgeController would hand the hub)
        self.api: dict[str, dict[str, Message]] = {}
        self.reachable = asyncio.Event()
        self.reachable.set()
        self.tasks: list[asyncio.Task] = []
        self.edges: dict[str, Edge] = {}
        self.cloud_ctx, self.hub = self._new_cloud()
        self._n = 0

    def _new_cloud(self) -> tuple[Context, CloudHub]:
        ctx = Context()
        ctx.add_module(c.EDGECONTROLLER, c.EDGECONTROLLER)
        hub = CloudHub(ctx, self.settings, self.cursors, clock=self.clock, sync_source=self._source)
        return ctx, hub

    def restart_cloud(self) -> None:
        self.cloud_ctx, self.hub = self._new_cloud()

    def _source(self, node: str) -> list[tuple[str, Message]]:
        return list(self.api.get(node, {}).items()) if self.sync else []

    # objects

    def put(self, node: str, name: str, rv: int, *, publish: bool = True) -> Message:
        op = c.UPDATE if name in self.api.get(node, {}) else c.INSERT
        msg = new_message(
            source=c.EDGECONTROLLER,
            group=c.GROUP_RESOURCE,
            operation=op,
            resource="default/pod/%s" % name,
            resourceversion=str(rv),
            content={"metadata": {"name": name, "namespace": "default", "uid": "uid-" + name}},
        )
        self.api.setdefault(node, {})[name] = msg
        if publish:
            self.hub.publish(node, msg, name)
        return msg

    def delete(self, node: str, name: str, rv: int) -> Message:
        del self.api[node][name]
        msg = new_message(
            source=c.EDGECONTROLLER,
            group=c.GROUP_RESOURCE,
            operation=c.DELETE,
            resource="default/pod/%s" % name,
            resourceversion=str(rv),
            content={"metadata": {"name": name, "namespace": "default", "uid": "uid-" + name}},
        )
        self.hub.publish(node, msg, name)
        return msg

    # connections

    def pair(
        self, node: str, lane: str, edge_handler: LinkHandler, cn: str | None = None
    ) -> tuple[MemLink, MemLink]:
        """Admit a connection of `node` and bind both ends (what the transports do)."""
        self._n += 1
        edge_end = MemLink(Peer(node, PROJECT, lane, "websocket", "cloud.test:10000"))
        cloud_end = MemLink(
            Peer(node, PROJECT, lane, "websocket", "192.0.2.1:%d" % (40000 + self._n),
                 cert_cn=cn if cn is not None else "system:node:" + node)
        )  # fmt: skip
        edge_end.other, cloud_end.other = cloud_end, edge_end
        handler = self.hub.acceptor(cloud_end.peer)  # Refused goes back to the caller
        edge_end.handler, cloud_end.handler = edge_handler, handler
        edge_handler.bind(edge_end)
        handler.bind(cloud_end)
        return edge_end, cloud_end

    def start_edge(
        self,
        node: str,
        lane: str = LANE_NATIVE,
        *,
        outbox: Outbox | None = None,
        app_capacity: int = 1024,
        qps: float = 0,
        **hub_kw,
    ) -> Edge:
        ctx = Context()
        app = EdgeApp(ctx, app_capacity)
        edge: Edge

        async def connect(sess: EdgeSession) -> Link:
            await self.reachable.wait()
            pair = self.pair(node, lane, sess)
            edge.links.append(pair)
            return pair[0]

        hub = EdgeHub(
            node,
            connect,
            ctx,
            heartbeat=3600.0,
            qps=qps,
            outbox=outbox,
            backoff=Backoff(initial=0, cap=0, jitter=0),
            **hub_kw,
        )
        app.hub = hub
        edge = self.edges[node] = Edge(node, hub, app, ctx)
        self.tasks.append(asyncio.create_task(app.run()))
        self.tasks.append(asyncio.create_task(hub.run()))
        return edge

    def upstream(self) -> list[Message]:
        """What reached the cloud's edgecontroller, node events left out."""
        out = []
        while (m := self.cloud_ctx.receive_nowait(c.EDGECONTROLLER)) is not None:
            if m.route.operation not in (CONNECTED, DISCONNECTED):
                out.append(m)
        return out

    def outbound(self, node: str):
        return self.hub.nodes[node].outbound

    def cursor(self, node: str) -> dict[str, int]:
        return {k: e[0] for k, e in self.outbound(node).cursor.entries.items()}

    def idle(self, node: str) -> bool:
        out = self.outbound(node)
        return out.in_flight == 0 and out.pending() == 0

    def tick(self, seconds: float) -> None:
        self.hub.tick(self.clock.advance(seconds))

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            try:
                await t
            except asyncio.CancelledError:
                pass
        await turn(5)


async def turn(n: int = 50) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def until(cond: Callable[[], bool], what: str = "condition", turns: int = 3000) -> None:
    for _ in range(turns):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError("not reached after %d loop turns: %s" % (turns, what))


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    yield w
    await w.close()


async def connected(w: World, edge: Edge) -> None:
    await until(lambda: edge.hub.session is not None and edge.node in w.hub.sessions, "connected")


# -- admission ---------------------------------------------------------------------------------------


async def test_a_certificate_of_another_node_is_refused(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(Refused) as e:
        world.pair("edge-1", LANE_NATIVE, BareEdge(), cn="system:node:edge-2")
    assert e.value.status == 403
    assert "'system:node:edge-2' does not match node 'edge-1'" in e.value.reason
    assert world.hub.nodes == {} and world.hub.sessions == {}
    assert "refused websocket connection from 192.0.2.1" in caplog.text


async def test_node_limit_refuses_new_nodes_with_a_reason_but_not_a_reconnect() -> None:
    w = World(HubSettings(node_limit=1))
    try:
        w.pair("edge-1", LANE_NATIVE, BareEdge())
        with pytest.raises(Refused) as e:
            w.pair("edge-2", LANE_NATIVE, BareEdge())
        assert e.value.status == 429
        assert e.value.reason == "node limit reached: cloudhub serves at most 1 nodes (cloudHub.nodeLimit)"
        w.pair("edge-1", LANE_NATIVE, BareEdge())  # the same node coming back is not a new node
        assert list(w.hub.sessions) == ["edge-1"]
    finally:
        await w.close()


async def test_a_second_connection_replaces_the_first(world: World) -> None:
    first = BareEdge()
    e1, c1 = world.pair("edge-1", LANE_NATIVE, first)
    sent = [world.put("edge-1", "p%d" % i, i + 1) for i in range(3)]
    await until(lambda: len(first.messages()) == 3, "first delivery")
    second = BareEdge()
    _, c2 = world.pair("edge-1", LANE_NATIVE, second)
    await turn()
    assert c1.closed and e1.closed
    assert c1.close_reason.startswith("replaced by a new connection from 192.0.2.1:")
    assert first.close_reason == "peer closed: " + c1.close_reason
    # the old session's on_close ran, yet the new session stands
    assert world.hub.sessions["edge-1"].link is c2
    assert "edge-1" in world.hub.sessions
    # what was in flight on the old connection goes out again on the new one, same ids, same order
    assert [m.header.msg_id for m in second.messages()] == [m.header.msg_id for m in sent]
    assert world.outbound("edge-1").in_flight == 3


# -- downstream delivery -----------------------------------------------------------------------------


@LANES
async def test_ack_flow_moves_the_cursor(world: World, lane: str) -> None:
    edge = world.start_edge("edge-1", lane)
    await connected(world, edge)
    for i in range(5):
        world.put("edge-1", "p%d" % i, 10 + i)
    await until(lambda: world.idle("edge-1") and len(world.cursor("edge-1")) == 5, "all acked")
    assert edge.app.store == {"default/pod/p%d" % i: 10 + i for i in range(5)}
    assert world.cursor("edge-1") == {"p%d" % i: 10 + i for i in range(5)}
    assert world.outbound("edge-1").cursor.entries["p0"] == (10, "default/pod/p0")
    assert edge.app.events == [CLOUD_CONNECTED]
    rows = world.hub.cursor_rows()
    assert [(n, decode_cursor(d)) for n, d in rows] == [
        ("edge-1", {"p%d" % i: (10 + i, "default/pod/p%d" % i) for i in range(5)})
    ]
    assert world.hub.cursor_rows() == []  # taken once
    delivered_ids = {m.header.msg_id for m in edge.app.deliveries}
    up = edge.link.sent
    if lane == LANE_NATIVE:
        assert set(edge.link.sent_acks()) == delivered_ids
        assert all(m.route.operation == c.KEEPALIVE for m in edge.link.sent_messages())
    else:  # KubeEdge's lane acks with `response` messages carrying the parent id
        assert edge.link.sent_acks() == []
        replies = [m for ms, _ in up for m in ms if m.route.operation == c.RESPONSE]
        assert {m.header.parent_msg_id for m in replies} == delivered_ids
        assert all(m.content == c.ACK_OK for m in replies)
        assert world.upstream() == []  # acks are not routed to controllers


@LANES
async def test_a_lost_delivery_is_resent_after_the_ack_timeout_and_delivered_once(
    world: World, lane: str
) -> None:
    edge = world.start_edge("edge-1", lane)
    await connected(world, edge)
    lost: list[str] = []

    def lose_first(m: Message) -> bool:
        if m.route.resource == "default/pod/a" and not lost:
            lost.append(m.header.msg_id)
            return True
        return False

    edge.cloud_link.drop = lose_first
    msg = world.put("edge-1", "a", 7)
    await turn()
    assert lost == [msg.header.msg_id] and edge.app.deliveries == []
    world.tick(9.9)  # not yet due
    await turn()
    assert edge.app.deliveries == [] and world.outbound("edge-1").resent == 0
    world.tick(0.2)
    await until(lambda: world.cursor("edge-1") == {"a": 7}, "acked after the resend")
    assert [m.header.msg_id for m in edge.app.deliveries] == [msg.header.msg_id]
    assert world.outbound("edge-1").resent == 1


@LANES
async def test_a_lost_ack_makes_a_resend_that_the_edge_acks_without_delivering_again(
    world: World, lane: str
) -> None:
    edge = world.start_edge("edge-1", lane)
    await connected(world, edge)
    edge.link.drop_acks = True  # native acks lost
    if lane == LANE_JSON:
        edge.link.drop = lambda m: m.route.operation == c.RESPONSE
    msg = world.put("edge-1", "a", 3)
    await until(lambda: len(edge.app.deliveries) == 1, "delivered")
    await turn()
    assert world.cursor("edge-1") == {}
    edge.link.drop_acks = False
    edge.link.drop = None
    world.tick(10.0)
    await until(lambda: world.cursor("edge-1") == {"a": 3}, "acked after the resend")
    assert [m.header.msg_id for m in edge.app.deliveries] == [msg.header.msg_id]
    assert edge.hub.inbound.duplicates == 1


async def test_the_window_bounds_what_is_in_flight() -> None:
    w = World(HubSettings(window=4))
    try:
        edge = w.start_edge("edge-1")
        await connected(w, edge)
        seen: list[int] = []
        edge.cloud_link.on_send = lambda: seen.append(w.outbound("edge-1").in_flight)
        edge.app.hold = True
        for i in range(20):
            w.put("edge-1", "p%02d" % i, i + 1)
        await until(lambda: len(edge.app.deliveries) == 4, "a window's worth")
        await turn(100)
        assert len(edge.app.deliveries) == 4 and w.outbound("edge-1").pending() == 16
        while len(edge.app.deliveries) < 20:
            n = len(edge.app.deliveries)
            edge.app.release()
            edge.app.hold = True
            await until(lambda: len(edge.app.deliveries) > n, "the next window")  # noqa: B023
            await turn(20)
        edge.app.release()
        await until(lambda: w.idle("edge-1") and len(w.cursor("edge-1")) == 20, "all acked")
        assert max(seen) == 4
        assert [m.route.resource for m in edge.app.deliveries] == ["default/pod/p%02d" % i for i in range(20)]
    finally:
        await w.close()


@LANES
async def test_cut_mid_stream_then_reconnect_loses_nothing_and_delivers_nothing_twice(lane: str) -> None:
    w = World(HubSettings(window=4))
    w.sync = True
    try:
        for i in range(10):
            w.put("edge-1", "p%d" % i, i + 1)
        edge = w.start_edge("edge-1", lane)
        edge.app.ack_first = 6  # six acks get through, then the cut swallows the rest
        await until(lambda: len(edge.app.deliveries) == 10 and len(w.cursor("edge-1")) == 6, "mid-stream")
        await turn()
        first = edge.cloud_link
        in_flight = [
            m
            for m in first.sent_messages()
            if m.route.resource.rpartition("/")[2] in {"p6", "p7", "p8", "p9"}
        ]
        assert w.outbound("edge-1").in_flight == 4
        w.reachable.clear()
        cut(first)
        await until(lambda: edge.hub.session is None and not w.hub.sessions, "both sides saw the cut")
        edge.app.release()  # the application's acks find no connection
        # the cluster moves on while the node is away
        w.put("edge-1", "p1", 20)  # acked before: newer version
        w.put("edge-1", "p7", 21)  # in flight at the cut: newer version
        w.delete("edge-1", "p3", 22)  # acked before: deleted
        w.put("edge-1", "p10", 23)  # new
        w.reachable.set()
        await until(
            lambda: len(edge.links) == 2 and w.idle("edge-1") and edge.hub.session is not None, "resynced"
        )
        await until(lambda: len(w.cursor("edge-1")) == 10, "all acked")
        second = edge.cloud_link
        sent = [m for m in second.sent_messages() if m.route.group == c.GROUP_RESOURCE]
        # only what the cursor does not have: three unacked in-flight (p7's old version is superseded)
        # and the four changes
        assert sorted(
            (m.route.operation, m.route.resource, m.header.resourceversion) for m in sent
        ) == sorted(
            [
                (c.INSERT, "default/pod/p6", "7"),
                (c.INSERT, "default/pod/p8", "9"),
                (c.INSERT, "default/pod/p9", "10"),
                (c.UPDATE, "default/pod/p1", "20"),
                (c.UPDATE, "default/pod/p7", "21"),
                (c.DELETE, "default/pod/p3", ""),  # the resync's delete took the queued one's place
                (c.INSERT, "default/pod/p10", "23"),
            ]
        )
        resent_ids = {m.header.msg_id for m in sent}
        assert {m.header.msg_id for m in in_flight if m.route.resource != "default/pod/p7"} <= resent_ids
        delivered = edge.app.delivered()
        assert len(delivered) == len(set(delivered)) == 14  # each version once
        assert edge.app.store == {
            "default/pod/p%d" % i: rv
            for i, rv in [(0, 1), (1, 20), (2, 3), (4, 5), (5, 6), (6, 7), (7, 21), (8, 9), (9, 10), (10, 23)]
        }
        assert w.cursor("edge-1") == {k.rpartition("/")[2]: v for k, v in edge.app.store.items()}
        assert edge.app.events == [CLOUD_CONNECTED, CLOUD_DISCONNECTED, CLOUD_CONNECTED]
    finally:
        await w.close()


async def test_resync_sends_deletes_for_objects_that_vanished(world: World) -> None:
    edge = world.start_edge("edge-1")
    await connected(world, edge)
    objs = {n: world.put("edge-1", n, rv) for n, rv in [("a", 1), ("b", 2), ("c", 3)]}
    await until(lambda: len(world.cursor("edge-1")) == 3, "acked")
    del world.api["edge-1"]["b"]
    queued, deleted = world.hub.resync("edge-1", [("a", objs["a"]), ("c", objs["c"])])
    assert (queued, deleted) == (0, 1)
    await until(lambda: world.cursor("edge-1") == {"a": 1, "c": 3}, "delete acked")
    assert edge.app.store == {"default/pod/a": 1, "default/pod/c": 3}
    gone = edge.app.deliveries[-1]
    assert gone.route.operation == c.DELETE and gone.route.resource == "default/pod/b"
    assert decode_content(gone) == {"metadata": {"name": "b", "namespace": "default", "uid": "b"}}
    assert not world.hub.nodes["edge-1"].knows("default/pod/b")
    ((node, data),) = world.hub.cursor_rows()
    assert node == "edge-1" and "b" not in decode_cursor(data)


async def test_a_restarted_cloud_resends_only_what_is_newer_than_the_persisted_cursor(tmp_path: Path) -> None:
    store = CursorStore(tmp_path / "cursors.db")
    w = World(HubSettings(window=8), cursors=store)
    w.sync = True
    try:
        for i in range(5):
            w.put("edge-1", "p%d" % i, i + 1)
        edge = w.start_edge("edge-1")
        await until(lambda: len(w.cursor("edge-1")) == 5, "acked")
        assert store.save(w.hub.cursor_rows()) == 1
        w.put("edge-1", "p5", 6)  # acked, but the cloud dies before it writes that down
        await until(lambda: len(w.cursor("edge-1")) == 6, "acked")
        w.reachable.clear()
        cut(edge.cloud_link)
        await until(lambda: edge.hub.session is None, "edge saw the cut")
        w.restart_cloud()  # a new process: only the store survives
        assert store.load("edge-1") == {"p%d" % i: (i + 1, "default/pod/p%d" % i) for i in range(5)}
        w.put("edge-1", "p2", 30, publish=False)  # changed while the cloud was down
        w.reachable.set()
        await until(
            lambda: len(edge.links) == 2 and w.idle("edge-1") and len(w.cursor("edge-1")) == 6, "resynced"
        )
        await until(lambda: w.cursor("edge-1")["p2"] == 30, "acked")
        sent = [m for m in edge.cloud_link.sent_messages() if m.route.group == c.GROUP_RESOURCE]
        assert sorted((m.route.resource, m.header.resourceversion) for m in sent) == [
            ("default/pod/p2", "30"),
            ("default/pod/p5", "6"),  # its ack was not persisted: sent again, the edge drops it
        ]
        assert [
            m.header.resourceversion for m in edge.app.deliveries if m.route.resource == "default/pod/p5"
        ] == ["6"]
        assert edge.app.store["default/pod/p2"] == 30
        assert len(edge.app.deliveries) == 7
        assert w.cursor("edge-1") == {"p0": 1, "p1": 2, "p2": 30, "p3": 4, "p4": 5, "p5": 6}
    finally:
        await w.close()
        store.close()


async def test_no_ack_messages_are_each_delivered(world: World) -> None:
    """Twin messages (membership deltas) are fire-and-forget; two of them about the same resource are
    two different changes, and both must arrive."""
    edge = world.start_edge("edge-1")
    edge.ctx.add_module(c.TWIN, c.TWIN_GROUP)
    await connected(world, edge)
    for dev in ("dev1", "dev2"):
        m = new_message(
            source=c.DEVICECONTROLLER,
            group=c.GROUP_TWIN,
            operation=c.UPDATE,
            resource=c.MEMBERSHIP,
            content={"added_devices": [{"id": "default/" + dev, "name": dev}], "removed_devices": None},
        )
        world.hub.publish("edge-1", m)
    got: list[Message] = []
    for _ in range(200):
        got += [m for m in edge.ctx.router.receive_many(c.TWIN, 10) if m.route.group == c.GROUP_TWIN]
        await asyncio.sleep(0)
    assert [decode_content(m)["added_devices"][0]["name"] for m in got] == ["dev1", "dev2"]
    assert world.outbound("edge-1").in_flight == 0  # not waiting for acks


async def test_a_message_the_edge_could_not_deliver_is_delivered_when_resent(world: World) -> None:
    """The edge module's inbox is full: the message is not delivered and not acked; the cloud's resend
    (same msg_id) must then reach the module, not be taken for a duplicate."""
    edge = world.start_edge("edge-1", app_capacity=1)
    edge.app.paused.set()
    await connected(world, edge)
    await until(lambda: edge.ctx.router.pending(c.METAMANAGER) == 1, "connect event queued")
    world.put("edge-1", "a", 1)  # the inbox is full: not delivered
    await turn()
    assert edge.app.deliveries == []
    edge.app.paused.clear()
    await until(lambda: edge.app.events == [CLOUD_CONNECTED], "app runs again")
    await turn()
    assert world.cursor("edge-1") == {}
    world.tick(10.0)
    await until(lambda: world.cursor("edge-1") == {"a": 1}, "resent and acked")
    assert edge.app.store == {"default/pod/a": 1}
    assert len(edge.app.deliveries) == 1


async def test_a_message_for_no_edge_module_is_refused_and_retried_later(world: World) -> None:
    edge = world.start_edge("edge-1")
    await connected(world, edge)
    m = new_message(
        source=c.EDGECONTROLLER,
        group="taskmanager",
        operation=c.INSERT,
        resource="default/task/t",
        resourceversion="4",
    )
    world.hub.publish("edge-1", m, "t")
    await until(lambda: any(x.route.operation == c.ERROR for x in edge.link.sent_messages()), "error reply")
    err = next(x for x in edge.link.sent_messages() if x.route.operation == c.ERROR)
    assert err.header.parent_msg_id == m.header.msg_id
    assert "has no module for group 'taskmanager'" in decode_content(err)
    await turn()  # the cloud takes the error for a nack: the resend waits for the backoff
    world.tick(10.0)
    await turn()
    assert len(edge.cloud_link.sent_messages()) == 1  # not resent at the plain ack timeout
    edge.ctx.add_module("taskmanager", "taskmanager")
    world.tick(15.0)  # past the nack's backoff
    await until(lambda: edge.ctx.router.pending("taskmanager") == 1, "resent and delivered")
    assert world.cursor("edge-1") == {}  # delivered, still not acked by anyone


# -- upstream ----------------------------------------------------------------------------------------


def podpatch(name: str) -> Message:
    return new_message(
        source=c.EDGED,
        group=c.GROUP_RESOURCE,
        operation=c.UPDATE,
        resource="default/podpatch/%s" % name,
        content={"status": {"phase": "Running"}},
    )


async def test_a_node_may_patch_its_own_pods_only(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    boxes = [Outbox(tmp_path / "a.db"), Outbox(tmp_path / "b.db")]
    try:
        a = world.start_edge("node-a", outbox=boxes[0])
        b = world.start_edge("node-b", outbox=boxes[1])
        world.put("node-a", "pa", 1)
        world.put("node-b", "pb", 2)
        await until(
            lambda: len(world.cursor("node-a")) == 1 and len(world.cursor("node-b")) == 1, "pods acked"
        )
        world.upstream()
        caplog.set_level(logging.WARNING, "kedge.cloud.cloudhub.hub")
        a.hub.send_up(podpatch("pa"))
        a.hub.send_up(podpatch("pb"))  # node-b's pod
        await until(lambda: len(boxes[0]) == 0, "node-a's outbox drained")
        up = world.upstream()
        assert [(m.route.operation, m.route.resource) for m in up] == [
            (c.UPDATE, "node/node-a/default/podpatch/pa")
        ]
        assert decode_content(up[0]) == {"status": {"phase": "Running"}}
        assert world.hub.stats["denied"] == 1
        assert (
            "denied update default/podpatch/pb from node node-a: pod default/pb is not bound to node node-a"
            in caplog.text
        )
        b.hub.send_up(podpatch("pb"))
        await until(lambda: len(boxes[1]) == 0, "node-b's outbox drained")
        assert [m.route.resource for m in world.upstream()] == ["node/node-b/default/podpatch/pb"]
    finally:
        await world.close()
        for box in boxes:
            box.close()


async def test_outbox_rows_leave_on_ack_and_are_resent_after_a_reconnect(
    world: World, tmp_path: Path
) -> None:
    box = Outbox(tmp_path / "o.db")
    try:
        edge = world.start_edge("edge-1", outbox=box)
        await connected(world, edge)
        status = lambda n: new_message(  # noqa: E731
            source=c.EDGED,
            group=c.GROUP_RESOURCE,
            operation=c.UPDATE,
            resource="null/nodestatus/edge-1",
            content={"n": n},
        )
        edge.hub.send_up(status(1))
        await until(lambda: len(box) == 0, "acked and removed")
        assert [decode_content(m) for m in world.upstream()] == [{"n": 1}]
        edge.cloud_link.drop_acks = True  # the cloud's ack is lost
        s2 = status(2)
        edge.hub.send_up(s2)
        await until(lambda: len(world.hub.nodes["edge-1"].recent_up) == 2, "routed")
        await turn(100)
        assert len(box) == 1  # kept until acknowledged, not resent on the same connection
        assert [m.header.msg_id for m in edge.link.sent_messages()].count(s2.header.msg_id) == 1
        cut(edge.link)
        await until(lambda: len(edge.links) == 2 and len(box) == 0, "resent on the new connection and acked")
        assert [m.header.msg_id for m in edge.link.sent_messages()].count(s2.header.msg_id) == 1
        assert [decode_content(m) for m in world.upstream()] == [{"n": 2}]  # routed once
    finally:
        await world.close()
        box.close()


async def test_outbox_rows_the_cloud_could_not_take_are_resent_after_a_reconnect(
    world: World, tmp_path: Path
) -> None:
    box = Outbox(tmp_path / "o.db")
    try:
        world.cloud_ctx.remove_module(c.EDGECONTROLLER)
        world.cloud_ctx.add_module(c.EDGECONTROLLER, c.EDGECONTROLLER, 2)
        edge = world.start_edge("edge-1", outbox=box)
        await connected(world, edge)
        filler = new_message(source="test", group=c.GROUP_RESOURCE, operation=c.UPDATE, resource="x/y/z")
        world.cloud_ctx.send_nowait(c.EDGECONTROLLER, filler)  # with the connect event: full
        s = new_message(
            source=c.EDGED, group=c.GROUP_RESOURCE, operation=c.UPDATE, resource="null/nodestatus/edge-1"
        )
        edge.hub.send_up(s)
        await turn(200)
        assert len(box) == 1 and box.pending()[0][1].header.msg_id == s.header.msg_id
        world.reachable.clear()
        cut(edge.link)
        await until(lambda: not world.hub.sessions, "disconnected")
        assert world.upstream() == [filler]  # the controller catches up
        world.reachable.set()
        await until(lambda: len(edge.links) == 2 and len(box) == 0, "resent and acked")
        assert [m.header.msg_id for m in world.upstream()] == [s.header.msg_id]
    finally:
        await world.close()
        box.close()


async def test_json_lane_outbox_rows_leave_once_written(world: World, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    try:
        edge = world.start_edge("edge-1", LANE_JSON, outbox=box)
        await connected(world, edge)
        s = new_message(
            source=c.EDGED, group=c.GROUP_RESOURCE, operation=c.UPDATE, resource="null/nodestatus/edge-1"
        )
        edge.hub.send_up(s)
        await until(lambda: len(box) == 0, "written")
        await turn()
        assert [m.header.msg_id for m in world.upstream()] == [s.header.msg_id]
        assert edge.cloud_link.sent_acks() == []
    finally:
        await world.close()
        box.close()


async def test_a_late_duplicate_response_is_not_routed_to_controllers(world: World) -> None:
    edge = world.start_edge("edge-1", LANE_JSON)
    await connected(world, edge)
    m = world.put("edge-1", "a", 1)
    await until(lambda: world.cursor("edge-1") == {"a": 1}, "acked")
    world.upstream()
    edge.link.send([new_response(m, c.ACK_OK)])  # e.g. the ack of a resend that crossed the first ack
    await turn()
    assert world.upstream() == []
    assert world.hub.stats["denied"] == 0


async def test_cloud_answers_viaduct_control_messages(world: World) -> None:
    edge = BareEdge()
    e, _ = world.pair("edge-1", LANE_JSON, edge)
    ping = new_message(source="edge", group="", operation=c.PING, resource="")
    e.send([ping])
    await until(lambda: any(m.header.parent_msg_id == ping.header.msg_id for m in edge.messages()), "pong")
    reply = next(m for m in edge.messages() if m.header.parent_msg_id == ping.header.msg_id)
    assert reply.route.operation == c.RESPONSE and decode_content(reply) == "ack"
    assert world.upstream() == []


# -- keepalive ---------------------------------------------------------------------------------------


async def test_keepalive_expiry_closes_a_silent_session(world: World) -> None:
    edge = world.start_edge("edge-1")
    await connected(world, edge)
    world.reachable.clear()  # keep it down once closed
    world.tick(20.0)
    world.clock.advance(5.0)
    edge.link.send([keepalive_message()])  # heard at +25
    await turn()
    world.tick(10.0)  # +35: 10 s since last heard
    await turn()
    assert "edge-1" in world.hub.sessions and not edge.cloud_link.closed
    world.tick(30.1)
    await until(lambda: edge.hub.session is None and not world.hub.sessions, "closed")
    assert edge.cloud_link.close_reason == "keepalive timeout: nothing heard for 30 s"
    assert edge.hub.last_close_reason == "peer closed: keepalive timeout: nothing heard for 30 s"
    assert len(world.hub.liveness) == 0


async def test_edge_sends_a_keepalive_when_it_connects(world: World) -> None:
    edge = world.start_edge("edge-1", LANE_JSON)
    await connected(world, edge)
    await until(lambda: bool(edge.link.sent), "first frame")
    first = edge.link.sent[0][0][0]
    assert (first.route.operation, first.route.resource, first.content) == (c.KEEPALIVE, c.NODE, "ping")


async def test_outbox_sends_spend_only_the_tokens_they_use(world: World, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    try:
        frozen = Clock()  # the edge's time stands still: only the burst is there to spend
        edge = world.start_edge("edge-1", outbox=box, qps=1.0, burst=5.0, clock=frozen)
        await connected(world, edge)
        s = new_message(
            source=c.EDGED, group=c.GROUP_RESOURCE, operation=c.UPDATE, resource="null/nodestatus/edge-1"
        )
        edge.hub.send_up(s)
        await until(lambda: s in edge.link.sent_messages(), "status sent")
        queries = [
            new_message(
                source=c.EDGED,
                group=c.GROUP_RESOURCE,
                operation=c.QUERY,
                resource="default/configmap/c%d" % i,
            )
            for i in range(4)
        ]
        for q in queries:
            edge.hub.send_up(q)
        await until(lambda: sum(q in edge.link.sent_messages() for q in queries) == 4, "four tokens left")
        await turn()
        edge.hub.send_up(
            new_message(source=c.EDGED, group=c.GROUP_RESOURCE, operation=c.QUERY, resource="x/y/z")
        )
        await turn(100)
        assert len(edge.link.sent_messages()) == 1 + 1 + 4  # keepalive, status, queries: the burst is spent
    finally:
        await world.close()
        box.close()
