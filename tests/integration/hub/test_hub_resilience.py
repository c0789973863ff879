"""CloudHub and EdgeHub when things go wrong, over real sockets on loopback: a connection killed in the
middle of a stream, a cloud restart, silent peers and the keepalive."""

from __future__ import annotations

import asyncio
import collections
import logging

import pytest

from kedge.beehive import Context
from kedge.cloud.cloudhub.hub import HubSettings
from kedge.edge.edgehub.hub import EdgeHub, EdgeSession
from kedge.model import constants as c
from kedge.model.codec import decode_json, encode_json
from kedge.model.frames import decode_frame, encode_frame
from kedge.model.message import Message
from kedge.proto import websocket as ws
from kedge.transport.link import NATIVE_SUBPROTOCOL, Link
from kedge.transport.quic_client import connect_quic
from kedge.transport.ws_client import connect_ws
from tests.integration.hub.conftest import (
    LANES,
    PROJECT,
    QUIC_LANE,
    WS_JSON,
    WS_NATIVE,
    Cloud,
    Edge,
    EdgeApp,
    EdgeFactory,
    cancel,
    eventually,
    pod,
)

HUB_LOG = "kedge.cloud.cloudhub.hub"
EDGEHUB_LOG = "kedge.edge.edgehub.hub"


def kill(link: Link) -> None:
    """The connection dies under the edge. WebSocket: the TCP connection is reset. QUIC: the edge's UDP
    socket goes away before the connection is closed, so no CONNECTION_CLOSE reaches the cloud, which
    learns only when the node's next connection replaces the dead one (an edge process killed)."""
    abort = getattr(link, "abort", None)
    if abort is not None:
        abort()
        return
    link._proto._transport.close()  # type: ignore[attr-defined]
    link.close("killed by the test")


def delivered_versions(edge: Edge) -> collections.Counter:
    return collections.Counter((m.route.resource, m.header.resourceversion) for m in edge.app.deliveries)


# -- killed mid-stream ---------------------------------------------------------------------------------------

OBJECTS = 200
MESSAGES = 500
CHUNK = 10


@pytest.mark.parametrize("lane", [WS_NATIVE, QUIC_LANE])
async def test_a_connection_killed_mid_stream_loses_nothing_and_delivers_nothing_twice(
    cloud: Cloud, edges: EdgeFactory, lane: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, HUB_LOG)
    hub = cloud.hub
    assert hub is not None
    hub.sync_source = None  # what was in flight must come back from the hub's queue, not from a resync
    node = "edge-1"
    edge = edges(node, lane)
    await eventually(lambda: edge.connected and node in hub.sessions, "connected")
    kills_at = [120, 320]  # the connection dies as the application persists its 120th and 320th message
    unacked: list[Message] = []  # delivered, their acks lost with the connection
    in_flight: list[int] = []

    def maybe_kill(msg: Message) -> None:
        if kills_at and len(edge.app.deliveries) >= kills_at[0] and edge.connected:
            kills_at.pop(0)
            unacked.append(msg)
            in_flight.append(cloud.outbound(node).in_flight)
            link = edge.link
            assert link is not None
            kill(link)

    edge.app.before_ack = maybe_kill
    for start in range(0, MESSAGES, CHUNK):
        for k in range(start, start + CHUNK):  # object o-(k % 200), version k + 1: 2-3 versions each
            cloud.put(node, "o-%03d" % (k % OBJECTS), k + 1)
        await asyncio.sleep(0.002)
    await eventually(lambda: not kills_at, "both kills done")
    await eventually(lambda: cloud.synced(node) and edge.connected, "everything acked after the reconnects")

    assert edge.hub.connects == 3
    assert all(n > 1 for n in in_flight), in_flight  # the kills did cut a stream
    latest = {m.route.resource: int(m.header.resourceversion) for m in cloud.objects[node].values()}
    assert len(latest) == OBJECTS
    assert edge.app.store == latest  # nothing lost: the latest version of every object is there
    twice = [v for v, n in delivered_versions(edge).items() if n > 1]
    assert twice == []  # nothing delivered twice
    assert edge.hub.inbound.duplicates >= 1  # a message whose ack died with the connection came again
    per_object: dict[str, list[int]] = collections.defaultdict(list)
    for m in edge.app.deliveries:
        per_object[m.route.resource].append(int(m.header.resourceversion))
    assert all(v == sorted(v) for v in per_object.values())  # never an older version after a newer one
    assert edge.app.events.count("cloud_connected") == 3
    if lane == QUIC_LANE:  # the cloud heard nothing of the dead connections: the new ones replaced them
        assert caplog.text.count("node edge-1 reconnected from 127.0.0.1:") == 2


# -- cloud restart ----------------------------------------------------------------------------------------

PODS = 20


async def test_a_restarted_cloud_resends_only_what_changed_and_edges_come_back_by_themselves(
    cloud: Cloud, edges: EdgeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, EDGEHUB_LOG)
    nodes = {lane: "restart-%s" % lane for lane in LANES}
    rv = 0
    for node in nodes.values():  # the cluster before the edges come: sent by the resync on connect
        for i in range(PODS):
            rv += 1
            cloud.put(node, "%s-p%02d" % (node, i), rv, publish=False)
    fleet = {lane: edges(node, lane) for lane, node in nodes.items()}
    await eventually(lambda: all(cloud.synced(n) for n in nodes.values()), "initial sync acked")
    for node, edge in zip(nodes.values(), fleet.values(), strict=True):
        assert len(edge.app.deliveries) == PODS and edge.hub.connects == 1, node
    before = {lane: len(e.app.deliveries) for lane, e in fleet.items()}

    await cloud.stop()
    await eventually(lambda: all(not e.connected for e in fleet.values()), "edges saw the cloud go")
    assert cloud.store is not None
    # the cluster moves on while cloudcore is down: updates, deletes, new pods
    want: dict[str, list[tuple[str, str, str]]] = {}
    for node in nodes.values():
        exp = want[node] = []
        for i in range(5):
            rv += 1
            m = cloud.put(node, "%s-p%02d" % (node, i), rv, publish=False)
            exp.append((c.UPDATE, m.route.resource, str(rv)))
        for i in range(5, 8):
            cloud.remove(node, "%s-p%02d" % (node, i))
            exp.append((c.DELETE, "default/pod/%s-p%02d" % (node, i), ""))
        for i in range(PODS, PODS + 3):
            rv += 1
            m = cloud.put(node, "%s-p%02d" % (node, i), rv, publish=False)
            exp.append((c.INSERT, m.route.resource, str(rv)))
    await asyncio.sleep(0.3)  # the edges knock on a closed door meanwhile
    await cloud.start()  # same ports, same cursor file, a new hub
    hub = cloud.hub
    assert hub is not None
    await eventually(
        lambda: all(e.connected for e in fleet.values()) and all(cloud.synced(n) for n in nodes.values()),
        "edges back and resynced",
    )
    for lane, edge in fleet.items():
        node = nodes[lane]
        after = [(op, res, ver) for op, res, ver in edge.app.versions()[before[lane] :]]
        assert sorted(after) == sorted(want[node]), lane  # only what changed, once
        current = {m.route.resource: int(m.header.resourceversion) for m in cloud.objects[node].values()}
        assert edge.app.store == current, lane
        assert edge.hub.connects == 2 and cloud.outbound(node).resent == 0, lane
        assert edge.app.events == ["cloud_connected", "cloud_disconnected", "cloud_connected"], lane
    assert hub.stats["delivered"] == sum(len(w) for w in want.values())
    retries = [r.getMessage() for r in caplog.records if "cannot connect to the cloud" in r.getMessage()]
    assert retries and all("; retrying in " in r for r in retries)
    lost = [r.getMessage() for r in caplog.records if "cloud connection lost" in r.getMessage()]
    assert len(lost) == len(fleet)


# -- keepalive --------------------------------------------------------------------------------------------


class Silent:
    """A client that connects and never says a word."""

    def __init__(self) -> None:
        self.link: Link | None = None
        self.reasons: list[str] = []

    def bind(self, link: Link) -> None:
        self.link = link

    def on_batch(self, messages: list, acks: list[str]) -> None:
        pass

    def on_close(self, reason: str) -> None:
        self.reasons.append(reason)


@pytest.mark.parametrize("hub_settings", [HubSettings(keepalive_interval=1.0, tick=0.1)])
async def test_heartbeats_keep_a_session_and_silence_ends_it(
    cloud: Cloud, edges: EdgeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, HUB_LOG)
    hub = cloud.hub
    assert hub is not None
    talkers = [edges("talk-ws", WS_NATIVE, heartbeat=0.2), edges("talk-quic", QUIC_LANE, heartbeat=0.2)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    silent = {"quiet-ws": Silent(), "quiet-quic": Silent()}
    t = edges.target("quiet-quic", QUIC_LANE)
    links = [
        await connect_ws(
            "127.0.0.1",
            cloud.ws_port,
            ssl_context=edges.pki.node_context("quiet-ws"),
            node_id="quiet-ws",
            project_id=PROJECT,
            handler=silent["quiet-ws"],
            timeout=10,
        ),
        await connect_quic(
            "127.0.0.1",
            cloud.quic_port,
            ca_path=t.ca_file,
            cert_path=t.cert_file,
            key_path=t.key_file,
            node_id="quiet-quic",
            project_id=PROJECT,
            handler=silent["quiet-quic"],
            timeout=10,
        ),
    ]
    await eventually(lambda: len(hub.sessions) == 4, "four sessions")
    await eventually(lambda: all(s.reasons for s in silent.values()), "silent sessions dropped", 10)
    assert loop.time() - started >= 1.0
    for node, s in silent.items():
        assert len(s.reasons) == 1 and "keepalive timeout: nothing heard for 1 s" in s.reasons[0], node
        assert "node %s sent nothing for 1 s (keepaliveInterval); closing its session" % node in caplog.text
        assert "node %s disconnected: keepalive timeout: nothing heard for 1 s" % node in caplog.text
    await asyncio.sleep(max(0.0, started + 1.6 - loop.time()))  # well past the interval for the talkers
    assert sorted(hub.sessions) == ["talk-quic", "talk-ws"]
    assert all(e.connected and e.hub.connects == 1 for e in talkers)
    for link in links:
        link.close("test over")
    wait_closed = getattr(links[0], "wait_closed", None)
    if wait_closed is not None:
        await asyncio.wait_for(wait_closed(), 5)


# -- frames that come with the upgrade answer -------------------------------------------------------------


@pytest.mark.parametrize("lane", [WS_NATIVE, WS_JSON])
async def test_a_resend_that_arrives_with_the_upgrade_answer_is_acked_at_once(tmp_path, lane: str) -> None:
    """After a reconnect the cloud resends at once what was in flight; on a fast network those frames
    reach the edge in the same read as the 101. A message the edge already delivered must be acked on
    that connection right away, not left for the cloud to resend after its ack timeout."""
    native = lane == WS_NATIVE
    delivered = pod("p-0", 7, c.INSERT)
    fresh = pod("p-1", 8, c.INSERT)
    got: asyncio.Queue[tuple[list[Message], list[str]]] = asyncio.Queue()

    async def cloud(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request, _ = ws.parse_request(await reader.readuntil(b"\r\n\r\n"))
        frames = (
            [encode_frame([delivered, fresh])] if native else [encode_json(delivered), encode_json(fresh)]
        )
        opcode = ws.OP_BINARY if native else ws.OP_TEXT
        writer.write(  # the answer and the resends in one write: one read at the edge
            ws.accept_response(request, NATIVE_SUBPROTOCOL if native else None)
            + b"".join(ws.encode_frame(opcode, f) for f in frames)
        )
        parser = ws.FrameParser(expect_masked=True, max_message=1 << 20)
        while data := await reader.read(65536):
            for op, payload in parser.feed(data):
                if op == ws.OP_BINARY:
                    got.put_nowait(decode_frame(payload))
                elif op == ws.OP_TEXT:
                    got.put_nowait(([decode_json(payload)], []))
        writer.close()

    server = await asyncio.start_server(cloud, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def connect(sess: EdgeSession) -> Link:
        return await connect_ws(
            "127.0.0.1", port, ssl_context=None, node_id="n", project_id=PROJECT, handler=sess, native=native
        )

    ctx = Context()
    app = EdgeApp(ctx)
    hub = EdgeHub("n", connect, ctx, heartbeat=3600.0)
    app.hub = hub
    assert hub.inbound.accept(delivered)  # delivered and persisted before the connection was lost
    tasks = [asyncio.create_task(app.run()), asyncio.create_task(hub.run())]
    try:
        acked: set[str] = set()
        while len(acked) < 2:
            messages, acks = await asyncio.wait_for(got.get(), 2)  # well under any ack timeout
            acked.update(acks)
            acked.update(m.header.parent_msg_id for m in messages if m.route.operation == c.RESPONSE)
        assert acked == {delivered.header.msg_id, fresh.header.msg_id}
        assert [m.header.msg_id for m in app.deliveries] == [fresh.header.msg_id]  # the resend: not again
    finally:
        link = hub.session.link if hub.session is not None else None
        await cancel(*tasks)
        if link is not None:
            await asyncio.wait_for(link.wait_closed(), 5)  # type: ignore[attr-defined]
        server.close()
        await server.wait_closed()
