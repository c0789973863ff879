"""CloudHub and EdgeHub on every lane over real mutual TLS on loopback: many edges at once, each getting
exactly its own messages; upstream routing and authorization; the node limit; and fuzzed frames that
must close only the session that sent them.

(Join and token refusals: test_join.py. Transport-level refusals, plain TCP, bad certificates:
tests/integration/transport.)"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kedge.cloud.cloudhub.hub import HubSettings
from kedge.model import constants as c
from kedge.model.codec import decode_content, encode_json
from kedge.model.frames import encode_frame
from kedge.model.message import Message, new_message
from kedge.proto import websocket as ws
from kedge.proto.framing import RefusedByPeer
from kedge.transport.link import LANE_JSON, LANE_NATIVE, Link
from kedge.transport.quic_client import connect_quic
from kedge.transport.ws_client import connect_ws
from tests.hubpki import HubPKI
from tests.integration.hub.conftest import (
    LANES,
    PROJECT,
    QUIC_LANE,
    WS_JSON,
    WS_NATIVE,
    Cloud,
    EdgeFactory,
    LogRecords,
    RawClient,
    eventually,
    node_status,
    pod,
    pod_patch,
)

HUB_LOG = "kedge.cloud.cloudhub.hub"
WS_LOG = "kedge.transport.websocket"
#: Edges per lane: QUIC handshakes cost ~5 ms of CPU each on both ends, and both ends are this process.
FLEET = {WS_NATIVE: 200, WS_JSON: 100, QUIC_LANE: 30}
PODS_PER_NODE = 4


# -- many edges ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lane", LANES)
async def test_every_edge_gets_exactly_its_own_messages_once_and_reports_upstream(
    cloud: Cloud, edges: EdgeFactory, lane: str, caplog: pytest.LogCaptureFixture
) -> None:
    n = FLEET[lane]
    nodes = ["%s-%03d" % (lane, i) for i in range(n)]
    await edges.certs(nodes)
    fleet = [edges(node, lane) for node in nodes]
    hub = cloud.hub
    assert hub is not None
    await eventually(lambda: len(hub.sessions) == n and all(e.connected for e in fleet), "all connected")
    want_lane = LANE_JSON if lane == WS_JSON else LANE_NATIVE
    assert {s.peer.lane for s in hub.sessions.values()} == {want_lane}

    # Two rounds: every node's pods are inserted, and once acked, all updated. Pod names are unique in
    # the fleet, so a node can be caught speaking about another node's pod.
    rv = 0
    sent: dict[str, list[Message]] = {node: [] for node in nodes}
    for round_ in range(2):
        for i, node in enumerate(nodes):
            for j in range(PODS_PER_NODE):
                rv += 1
                sent[node].append(cloud.put(node, "p-%d" % (i * PODS_PER_NODE + j), rv))
        await eventually(lambda: all(cloud.synced(node) for node in nodes), "round %d acked" % round_)

    for edge in fleet:
        got = edge.app.deliveries
        ids = [m.header.msg_id for m in got]
        assert len(ids) == len(set(ids)) == 2 * PODS_PER_NODE, edge.node
        assert set(ids) == {m.header.msg_id for m in sent[edge.node]}, edge.node
        assert {decode_content(m)["spec"]["nodeName"] for m in got} == {edge.node}
        per_object = collections.defaultdict(list)  # QUIC spreads objects over streams: order is per object
        for m in got:
            per_object[m.route.resource].append(m.route.operation)
        assert list(per_object.values()) == [[c.INSERT, c.UPDATE]] * PODS_PER_NODE
        assert edge.hub.inbound.duplicates == 0
        assert edge.app.events == ["cloud_connected"]
    for node in nodes:  # the cursors hold everything, nothing is left in flight or queued
        out = cloud.outbound(node)
        assert out.in_flight == 0 and out.pending() == 0 and out.resent == 0
    store = cloud.store
    assert store is not None

    def persisted(node: str) -> bool:  # the hub's timer writes cursors by itself, in batches
        want = {k: (int(m.header.resourceversion), m.route.resource) for k, m in cloud.objects[node].items()}
        return store.load(node) == want

    await eventually(lambda: all(persisted(node) for node in nodes[:: max(1, n // 10)]), "cursors persisted")
    assert hub.stats["delivered"] == 2 * n * PODS_PER_NODE

    # upstream: node status and a patch of one of its own pods; node 0 also patches node 1's pod
    caplog.set_level(logging.WARNING, HUB_LOG)
    controller = cloud.controller
    assert controller is not None
    for i, edge in enumerate(fleet):
        edge.hub.send_up(node_status(edge.node))
        edge.hub.send_up(pod_patch("p-%d" % (i * PODS_PER_NODE)))
    stranger = "p-%d" % PODS_PER_NODE  # node 1's first pod
    fleet[0].hub.send_up(pod_patch(stranger))
    await eventually(
        lambda: len(controller.upstream) >= 2 * n and hub.stats["denied"] == 1, "upstream routed"
    )
    await eventually(lambda: all(len(e.outbox) == 0 for e in fleet), "outboxes drained")
    want = collections.Counter()
    for i, node in enumerate(nodes):
        want["node/%s/null/nodestatus/%s" % (node, node)] += 1
        want["node/%s/default/podpatch/p-%d" % (node, i * PODS_PER_NODE)] += 1
    await asyncio.sleep(0.05)  # nothing else may follow
    assert collections.Counter(controller.resources()) == want
    assert hub.stats["routed"] == 2 * n and hub.stats["denied"] == 1
    status = next(m for m in controller.upstream if m.route.resource.startswith("node/%s/null" % nodes[3]))
    assert (status.route.operation, status.route.group) == (c.UPDATE, c.GROUP_RESOURCE)
    assert decode_content(status)["node"] == nodes[3]
    assert (
        "denied update default/podpatch/%s from node %s: pod default/%s is not bound to node %s"
        % (stranger, nodes[0], stranger, nodes[0])
    ) in caplog.text
    assert all(e.connected for e in fleet) and len(hub.sessions) == n


# -- node limit ----------------------------------------------------------------------------------------------


class Bare:
    """An edge-side LinkHandler without EdgeHub: records what arrives and why the link closed."""

    def __init__(self) -> None:
        self.link: Link | None = None
        self.messages: list[Message] = []
        self.reasons: list[str] = []
        self.closed = asyncio.Event()

    def bind(self, link: Link) -> None:
        self.link = link

    def on_batch(self, messages: list[Message], acks: list[str]) -> None:
        self.messages += messages

    def on_close(self, reason: str) -> None:
        self.reasons.append(reason)
        self.closed.set()


async def dial(edges: EdgeFactory, node: str, lane: str, handler: Bare) -> Link:
    t = edges.target(node, lane)
    host, port = t.server.rsplit(":", 1)
    if lane == QUIC_LANE:
        return await connect_quic(
            host,
            int(port),
            ca_path=t.ca_file,
            cert_path=t.cert_file,
            key_path=t.key_file,
            node_id=node,
            project_id=PROJECT,
            handler=handler,
            timeout=10,
        )
    return await connect_ws(
        host,
        int(port),
        ssl_context=edges.pki.node_context(node),
        node_id=node,
        project_id=PROJECT,
        handler=handler,
        native=lane == WS_NATIVE,
        timeout=10,
    )


async def hang_up(links: list[Link]) -> None:
    for link in links:
        link.close("test over")
    quic = False
    for link in links:
        wait_closed = getattr(link, "wait_closed", None)
        if wait_closed is not None:
            await asyncio.wait_for(wait_closed(), 5)
        else:
            quic = True
    if quic:
        await asyncio.sleep(0.02)  # the UDP sockets close on a later loop turn


@pytest.mark.parametrize("hub_settings", [HubSettings(node_limit=3, tick=0.1)])
@pytest.mark.parametrize("lane", [WS_NATIVE, QUIC_LANE])
async def test_node_limit_refuses_a_new_node_with_the_reason_but_not_a_reconnect(
    cloud: Cloud, edges: EdgeFactory, lane: str, caplog: pytest.LogCaptureFixture
) -> None:
    hub = cloud.hub
    assert hub is not None
    handlers = {n: Bare() for n in ("n1", "n2", "n3")}
    links = [await dial(edges, n, lane, h) for n, h in handlers.items()]
    await eventually(lambda: len(hub.sessions) == 3, "three sessions")
    reason = "node limit reached: cloudhub serves at most 3 nodes (cloudHub.nodeLimit)"
    if lane == QUIC_LANE:
        with pytest.raises(RefusedByPeer) as refused:
            await dial(edges, "n4", lane, Bare())
        assert refused.value.reason == reason
    else:
        with pytest.raises(ws.HandshakeError) as rejected:
            await dial(edges, "n4", lane, Bare())
        assert (rejected.value.status, rejected.value.reason) == (429, reason)
    assert "refused node n4 from 127.0.0.1:" in caplog.text and reason in caplog.text
    assert sorted(hub.sessions) == ["n1", "n2", "n3"] and "n4" not in hub.nodes

    # n2 comes back on a new connection while the old one is still up: it replaces it
    again = Bare()
    links.append(await dial(edges, "n2", lane, again))
    await asyncio.wait_for(handlers["n2"].closed.wait(), 10)
    assert "replaced by a new connection from 127.0.0.1:" in handlers["n2"].reasons[0]
    assert sorted(hub.sessions) == ["n1", "n2", "n3"]
    assert hub.sessions["n2"].link is not None and not hub.sessions["n2"].link.closed
    cloud.put("n2", "p", 1)
    await eventually(lambda: [m.route.resource for m in again.messages] == ["default/pod/p"], "delivered")
    assert handlers["n2"].messages == []
    assert not any(h.closed.is_set() for n, h in handlers.items() if n != "n2")
    await hang_up(links)


# -- fuzzed frames ----------------------------------------------------------------------------------------


def _valid_frames() -> dict[str, list[bytes]]:
    m = pod("p-0", 3, c.INSERT)
    status = node_status("fuzz")
    control = new_message(source="edge", group="", operation=c.PING, resource="")
    odd = new_message(source="x", group="nogroup", operation="frobnicate", resource="a/b/c/d/e", content=[1])
    return {
        WS_NATIVE: [
            encode_frame([m], ["ack-1"]),
            encode_frame([status, control, odd], []),
            encode_frame([], []),
        ],
        WS_JSON: [encode_json(m) + b"\n", encode_json(status), encode_json(control), encode_json(odd)],
    }


VALID = _valid_frames()


def mutated(lane: str) -> st.SearchStrategy[bytes]:
    """A valid frame of the lane with a few bytes changed, then maybe cut short or extended."""

    def apply(base: bytes, edits: list[tuple[int, int]], cut: int, tail: bytes) -> bytes:
        data = bytearray(base)
        for pos, value in edits:
            data[pos % len(data)] = value
        return bytes(data[: max(cut, 0)] if cut < len(data) else data) + tail

    return st.builds(
        apply,
        st.sampled_from(VALID[lane]),
        st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=4),
        st.integers(0, 1 << 12),
        st.binary(max_size=8),
    )


def payloads(lane: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=256),
        mutated(lane),
        st.text(max_size=64).map(str.encode),
        st.sampled_from(VALID[lane]),
    )


@dataclass
class FuzzKit:
    """What every example shares: the PKI and the clients' TLS contexts (the cloud is new each time)."""

    pki: HubPKI
    base: Path
    healthy: ssl.SSLContext
    fuzz: ssl.SSLContext


@pytest.fixture(scope="module")
def fuzz_kit(tmp_path_factory: pytest.TempPathFactory) -> FuzzKit:
    """Module-wide: hypothesis runs many examples in one test, and function-scoped fixtures would be
    shared by all of them."""
    base = tmp_path_factory.mktemp("fuzz")
    pki = HubPKI(base / "pki")
    return FuzzKit(pki, base, pki.node_context("healthy"), pki.node_context("fuzz"))


async def _fuzz_one(kit: FuzzKit, lane: str, payload: bytes) -> str:
    """Sends `payload` as one frame on a session of its own, next to a healthy one; returns "taken" or
    the logged reason the session was closed for."""
    # a cloud per example: nothing carries over from one to the next
    cloud = Cloud(kit.pki, kit.base, HubSettings(tick=0.1), quic=False, cursors=False)
    healthy_link: Link | None = None
    raw: RawClient | None = None
    with LogRecords() as logs:
        await cloud.start()
        hub = cloud.hub
        assert hub is not None
        try:
            healthy = Bare()
            healthy_link = await connect_ws(
                "127.0.0.1",
                cloud.ws_port,
                ssl_context=kit.healthy,
                node_id="healthy",
                project_id=PROJECT,
                handler=healthy,
                native=lane == WS_NATIVE,
                timeout=10,
            )
            raw = await RawClient.connect(cloud.ws_port, kit.fuzz, "fuzz", native=lane == WS_NATIVE)
            assert raw.head.startswith(b"HTTP/1.1 101 ")
            await eventually(lambda: len(hub.sessions) == 2, "both admitted", 10)
            # The fuzzed frame, then a ping: frames are handled in order, so a pong means the fuzzed
            # frame was taken; a close (or the connection going) means it closed the session.
            raw.send(ws.OP_BINARY if lane == WS_NATIVE else ws.OP_TEXT, payload)
            raw.send(ws.OP_PING, b"after")
            outcome: tuple[int, bytes] | None
            while True:
                outcome = await raw.frame()
                if outcome is None or outcome[0] in (ws.OP_PONG, ws.OP_CLOSE):
                    break
            internal = [r for r in logs.records if r.exc_info is not None]
            assert internal == [], "the hub failed on a frame: %s" % [r.getMessage() for r in internal]
            if outcome is not None and outcome[0] == ws.OP_PONG:
                assert outcome[1] == b"after"
                assert "fuzz" in hub.sessions  # taken: the session goes on
                result = "taken"
            else:
                assert outcome is not None, "closed without a close frame"
                code, _ = ws.parse_close(outcome[1])
                assert code in (ws.CLOSE_PROTOCOL_ERROR, ws.CLOSE_UNSUPPORTED_DATA, ws.CLOSE_BAD_PAYLOAD), (
                    code
                )
                await eventually(lambda: "fuzz" not in hub.sessions, "fuzz session dropped", 10)
                warned = [
                    r.getMessage() for r in logs.records if r.name == WS_LOG and r.levelno == logging.WARNING
                ]
                closing = [w for w in warned if "closing websocket session of node fuzz" in w]
                assert closing, warned
                assert any("node fuzz disconnected: " in r.getMessage() for r in logs.records)
                result = closing[0]
            # the other session is untouched and keeps receiving
            cloud.put("healthy", "h", 1)
            await eventually(
                lambda: [m.route.resource for m in healthy.messages] == ["default/pod/h"], "healthy", 10
            )
            assert healthy.reasons == [] and "healthy" in hub.sessions
            return result
        finally:
            if raw is not None:
                await raw.close()
            if healthy_link is not None:
                await hang_up([healthy_link])
            await cloud.stop()


@pytest.mark.parametrize("lane", [WS_NATIVE, WS_JSON])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_fuzzed_frame_closes_only_its_own_session(fuzz_kit: FuzzKit, lane: str, data) -> None:
    result = asyncio.run(_fuzz_one(fuzz_kit, lane, data.draw(payloads(lane), label="payload")))
    event("frame taken" if result == "taken" else "session closed")


@pytest.mark.parametrize(
    ("lane", "payload", "words"),
    [
        pytest.param(
            WS_NATIVE,
            encode_frame([], ["ack"]).replace(b"ack", b"a\x80k"),
            "malformed frame",
            id="native-utf8",
        ),
        pytest.param(
            WS_JSON,
            VALID[WS_JSON][0].replace(b"default", b"def\x80ult", 1),
            "malformed JSON message",
            id="json-utf8",
        ),
        pytest.param(WS_NATIVE, VALID[WS_NATIVE][0][:-3], "malformed frame", id="native-cut"),
        pytest.param(WS_NATIVE, b"\xc1", "malformed frame", id="native-never-used-byte"),
        pytest.param(WS_JSON, b"[1, 2]", "malformed JSON message", id="json-array"),
        pytest.param(WS_JSON, b'{"route": {"operation": 7}}', "malformed JSON message", id="json-type"),
    ],
)
def test_known_bad_frames_close_only_their_own_session(
    fuzz_kit: FuzzKit, lane: str, payload: bytes, words: str
) -> None:
    reason = asyncio.run(_fuzz_one(fuzz_kit, lane, payload))
    assert words in reason and "(close code 1007)" in reason
