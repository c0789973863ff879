"""kedge's WebSocket lane on loopback with real mutual TLS: kedge client ↔ kedge server, and a raw
client that sends what a real KubeEdge edgecore sends (reference/kubeedge-wire.md §3)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl

import msgspec
import pytest

from kedge.model.codec import decode_json, encode_json
from kedge.model.frames import encode_frame as encode_batch
from kedge.model.message import Message, new_message
from kedge.proto import websocket as ws
from kedge.security import tls
from kedge.transport.link import LANE_JSON, LANE_NATIVE, NATIVE_SUBPROTOCOL, Link, Peer, Refused
from kedge.transport.ws_client import connect_ws
from kedge.transport.ws_server import WsServer, serve_ws
from tests.hubpki import HubPKI, node_cn

LOGGER = "kedge.transport.websocket"
PROJECT = "e632aba927ea4ac2b575ec1603d56f10"
# kubeedge-wire.md §3.1, as sent on an edge's 3rd dial of a connect cycle.
KUBEEDGE_UPGRADE = (
    b"GET /e632aba927ea4ac2b575ec1603d56f10/edge-node-1/events HTTP/1.1\r\n"
    b"Host: 127.0.0.1:10000\r\n"
    b"User-Agent: Go-http-client/1.1\r\n"
    b"Connection: Upgrade\r\n"
    b"Connectionuse: msg\r\n"
    b"Connectionuse: msg\r\n"
    b"Connectionuse: msg\r\n"
    b"Node_id: edge-node-1\r\n"
    b"Project_id: e632aba927ea4ac2b575ec1603d56f10\r\n"
    b"Sec-WebSocket-Key: OtjqYsLsWJTme0AYaxtu8Q==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Upgrade: websocket\r\n"
    b"\r\n"
)
# kubeedge-wire.md §3.3: the keepalive an edge sends right after the 101 (then every 15 s).
KEEPALIVE = (
    b'{"header":{"msg_id":"ddc74705-298f-4886-91f5-a235e3f3b40b","timestamp":1795317305920},'
    b'"route":{"source":"websocket","group":"resource","operation":"keepalive","resource":"node"},'
    b'"content":"ping"}\n'
)


class Recorder:
    """A LinkHandler that records what the link delivers."""

    def __init__(self) -> None:
        self.link: Link | None = None
        self.batches: asyncio.Queue[tuple[list[Message], list[str]]] = asyncio.Queue()
        self.reasons: list[str] = []
        self.closed = asyncio.Event()

    def bind(self, link: Link) -> None:
        assert self.link is None, "bind called twice"
        self.link = link

    def on_batch(self, messages: list[Message], acks: list[str]) -> None:
        assert self.link is not None, "on_batch before bind"
        self.batches.put_nowait((messages, acks))

    def on_close(self, reason: str) -> None:
        self.reasons.append(reason)
        self.closed.set()

    async def next(self) -> tuple[list[Message], list[str]]:
        return await asyncio.wait_for(self.batches.get(), 2)

    async def wait_closed(self) -> str:
        await asyncio.wait_for(self.closed.wait(), 2)
        assert len(self.reasons) == 1, self.reasons
        return self.reasons[0]


class Hub:
    """An acceptor: a Recorder per admitted node, or `refuse` raised."""

    def __init__(self) -> None:
        self.peers: list[Peer] = []
        self.handlers: dict[str, Recorder] = {}
        self.refuse: Exception | None = None
        self.accepted: asyncio.Queue[Recorder] = asyncio.Queue()

    def __call__(self, peer: Peer) -> Recorder:
        self.peers.append(peer)
        if self.refuse is not None:
            raise self.refuse
        h = self.handlers[peer.node_id] = Recorder()
        self.accepted.put_nowait(h)
        return h

    async def handler(self, node: str) -> Recorder:
        for _ in range(200):
            if node in self.handlers:
                return self.handlers[node]
            await asyncio.sleep(0.01)
        raise AssertionError("node %s was never accepted" % node)


class RawEdge:
    """An edge speaking raw bytes over TLS, byte for byte what edgecore sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = ws.FrameParser(expect_masked=False, max_message=1 << 20)
        self.ready: list[tuple[int, bytes]] = []

    @classmethod
    async def upgrade(cls, port: int, ctx: ssl.SSLContext | None, request: bytes) -> tuple[RawEdge, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        edge = cls(reader, writer)
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        return edge, head

    def send(self, opcode: int, payload: bytes) -> None:
        self.writer.write(ws.encode_frame(opcode, payload, mask=os.urandom(4)))

    async def frame(self) -> tuple[int, bytes]:
        while not self.ready:
            data = await asyncio.wait_for(self.reader.read(65536), 2)
            assert data, "connection closed while waiting for a frame"
            self.ready += self.parser.feed(data)
        return self.ready.pop(0)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await self.writer.wait_closed()


def msg(i: int, content: object = None) -> Message:
    return new_message(
        source="edged",
        group="resource",
        operation="update",
        resource="default/pod/p%d" % i,
        content={"i": i} if content is None else content,
    )


def same(a: list[Message], b: list[Message]) -> bool:
    return [encode_json(m) for m in a] == [encode_json(m) for m in b]


@pytest.fixture
def pki(tmp_path) -> HubPKI:
    return HubPKI(tmp_path / "pki")


@pytest.fixture
async def served(pki: HubPKI):
    hub = Hub()
    server = await serve_ws("127.0.0.1", 0, pki.server_context(), hub)
    yield hub, server
    await server.wait_closed()


async def dial(
    pki: HubPKI, server: WsServer, node: str, *, native: bool = True, ctx: ssl.SSLContext | None = None
) -> tuple[Link, Recorder]:
    h = Recorder()
    link = await connect_ws(
        "127.0.0.1",
        server.port,
        ssl_context=ctx or pki.node_context(node),
        node_id=node,
        project_id="proj",
        handler=h,
        native=native,
        timeout=5,
    )
    assert h.link is link
    return link, h


async def hang_up(*links: Link) -> None:
    for link in links:
        link.close("test over")
    for link in links:
        await asyncio.wait_for(link.wait_closed(), 2)  # type: ignore[attr-defined]


# --- lanes -------------------------------------------------------------------------------------------


async def test_native_lane_round_trip_both_ways_with_acks(pki: HubPKI, served) -> None:
    hub, server = served
    link, edge = await dial(pki, server, "n1")
    assert link.peer.lane == LANE_NATIVE and not link.closed
    peer = hub.peers[0]
    assert (peer.node_id, peer.project_id, peer.lane, peer.protocol) == (
        "n1",
        "proj",
        LANE_NATIVE,
        "websocket",
    )
    assert peer.cert_cn == node_cn("n1") and peer.address.startswith("127.0.0.1:")
    cloud = await hub.handler("n1")
    assert server.connections == 1

    up = [msg(1), msg(2, msgspec.Raw(b'{"kind":"Pod"}')), msg(3, "OK")]
    link.send(up, ["ack-a"])
    link.send([], [])  # nothing to send: no frame
    link.send([], ["ack-b"])
    assert link.write_buffer_size() > 0  # queued until the end of this loop turn
    messages, acks = await cloud.next()
    assert same(messages, up) and acks == ["ack-a"]
    assert await cloud.next() == ([], ["ack-b"])

    down = [msg(i) for i in range(40)]
    cloud.link.send(down, ["x", "y"])
    messages, acks = await edge.next()
    assert same(messages, down) and acks == ["x", "y"]
    await hang_up(link)
    assert await cloud.wait_closed() == "closed by peer: 1000 test over"
    assert await edge.wait_closed() == "test over"


async def test_json_lane_one_text_frame_per_message(pki: HubPKI, served) -> None:
    hub, server = served
    link, edge = await dial(pki, server, "n1", native=False)
    assert link.peer.lane == LANE_JSON and hub.peers[0].lane == LANE_JSON
    cloud = await hub.handler("n1")
    up = [msg(1), msg(2)]
    link.send(up, ["acks are ignored on this lane"])
    first, second = await cloud.next(), await cloud.next()
    assert same(first[0], up[:1]) and same(second[0], up[1:]) and first[1] == second[1] == []
    down = [msg(7), msg(8)]
    cloud.link.send(down, ["ignored"])
    first, second = await edge.next(), await edge.next()
    assert same(first[0] + second[0], down) and first[1] == second[1] == []
    await hang_up(link)


async def test_kubeedge_edge_bytes_are_understood(pki: HubPKI, served) -> None:
    hub, server = served
    edge, head = await RawEdge.upgrade(server.port, pki.node_context("edge-node-1"), KUBEEDGE_UPGRADE)
    assert head.startswith(b"HTTP/1.1 101 ")
    assert b"Sec-WebSocket-Accept: %s\r\n" % ws.accept_key("OtjqYsLsWJTme0AYaxtu8Q==").encode() in head
    assert b"Sec-WebSocket-Protocol" not in head
    peer = hub.peers[0]
    assert (peer.node_id, peer.project_id, peer.lane) == ("edge-node-1", PROJECT, LANE_JSON)
    assert peer.cert_cn == "system:node:edge-node-1"
    cloud = await hub.handler("edge-node-1")

    edge.send(ws.OP_TEXT, KEEPALIVE)
    edge.send(ws.OP_BINARY, KEEPALIVE)  # the edge's decoder takes binary JSON too
    for _ in range(2):
        (keepalive,), acks = await cloud.next()
        assert keepalive.operation == "keepalive" and keepalive.route.source == "websocket"
        assert keepalive.msg_id == "ddc74705-298f-4886-91f5-a235e3f3b40b" and acks == []
        assert bytes(keepalive.content) == b'"ping"'

    down = msg(5, msgspec.Raw(b'{"apiVersion":"v1","kind":"Pod"}'))
    cloud.link.send([down], ["acks are not a KubeEdge thing"])
    opcode, payload = await edge.frame()
    assert opcode == ws.OP_TEXT and payload == encode_json(down)
    assert decode_json(payload).resource == down.resource

    edge.send(ws.OP_PING, b"hello")
    assert await edge.frame() == (ws.OP_PONG, b"hello")
    edge.send(ws.OP_CLOSE, ws.encode_close(1000, "bye"))
    assert await edge.frame() == (ws.OP_CLOSE, ws.encode_close(1000))
    assert await cloud.wait_closed() == "closed by peer: 1000 bye"
    await edge.close()


async def test_client_falls_back_to_json_when_the_server_ignores_the_subprotocol(caplog) -> None:
    """A KubeEdge cloudcore never selects kedge's subprotocol: the edge speaks JSON to it."""
    received: asyncio.Queue[bytes] = asyncio.Queue()
    finished = asyncio.Event()

    async def cloudcore(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req, _ = ws.parse_request(await reader.readuntil(b"\r\n\r\n"))
        assert req.subprotocols == [NATIVE_SUBPROTOCOL]
        assert req.headers.get("ConnectionUse") == "msg" and req.headers.get("node_id") == "n1"
        assert req.path == "/proj/n1/events"
        writer.write(ws.accept_response(req, None))
        parser = ws.FrameParser(expect_masked=True, max_message=1 << 20)
        while data := await reader.read(65536):
            for _, payload in parser.feed(data):
                received.put_nowait(payload)
        writer.close()
        finished.set()

    server = await asyncio.start_server(cloudcore, "127.0.0.1", 0)
    h = Recorder()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        link = await connect_ws(
            "127.0.0.1",
            server.sockets[0].getsockname()[1],
            ssl_context=None,
            node_id="n1",
            project_id="proj",
            handler=h,
        )
    assert link.peer.lane == LANE_JSON
    assert any("JSON lane" in r.getMessage() for r in caplog.records)
    up = msg(1)
    link.send([up])
    assert await asyncio.wait_for(received.get(), 2) == encode_json(up)
    link.close("done")
    await link.wait_closed()  # type: ignore[attr-defined]
    assert await asyncio.wait_for(received.get(), 2) == ws.encode_close(1000, "done")
    await asyncio.wait_for(finished.wait(), 2)
    server.close()
    await server.wait_closed()


# --- admission and TLS ------------------------------------------------------------------------------


async def test_refused_node_gets_the_status_and_reason(pki: HubPKI, served) -> None:
    hub, server = served
    hub.refuse = Refused("node n1 is not allowed here", status=403)
    with pytest.raises(ws.HandshakeError) as e:
        await dial(pki, server, "n1")
    assert (e.value.status, e.value.reason) == (403, "node n1 is not allowed here")
    assert hub.peers[0].cert_cn == node_cn("n1") and server.connections == 0


async def test_acceptor_crash_is_a_500_and_logged(pki: HubPKI, served, caplog) -> None:
    hub, server = served
    hub.refuse = RuntimeError("boom")
    with pytest.raises(ws.HandshakeError) as e:
        await dial(pki, server, "n1")
    assert e.value.status == 500 and "n1" in e.value.reason
    assert any(r.exc_info and "acceptor failed" in r.getMessage() for r in caplog.records)


async def test_upgrade_without_node_id_is_a_400(pki: HubPKI, served) -> None:
    hub, server = served
    request = KUBEEDGE_UPGRADE.replace(b"Node_id: edge-node-1\r\n", b"").replace(
        b"/edge-node-1/events", b"/x"
    )
    edge, head = await RawEdge.upgrade(server.port, pki.node_context("n1"), request)
    assert head.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in head
    assert b"node_id" in await asyncio.wait_for(edge.reader.read(), 2)
    assert hub.peers == []
    await edge.close()


async def test_node_id_from_the_path_alone(pki: HubPKI, served) -> None:
    hub, server = served
    request = KUBEEDGE_UPGRADE.replace(b"Node_id: edge-node-1\r\n", b"").replace(
        b"Project_id: ", b"X-Other: "
    )
    edge, head = await RawEdge.upgrade(server.port, pki.node_context("n1"), request)
    assert head.startswith(b"HTTP/1.1 101 ")
    assert (hub.peers[0].node_id, hub.peers[0].project_id) == ("edge-node-1", PROJECT)
    await edge.close()


async def test_plain_tcp_client_does_not_disturb_the_server(pki: HubPKI, served) -> None:
    hub, server = served
    link, edge = await dial(pki, server, "n1")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(KUBEEDGE_UPGRADE)
    with contextlib.suppress(ConnectionError):
        assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    assert [p.node_id for p in hub.peers] == ["n1"]
    cloud = await hub.handler("n1")
    down = [msg(1)]
    cloud.link.send(down)
    assert same((await edge.next())[0], down)
    link2, _ = await dial(pki, server, "n2")
    assert server.connections == 2
    await hang_up(link, link2)


@pytest.mark.parametrize("case", ["no certificate", "certificate from another CA"])
async def test_tls_without_a_valid_client_certificate_fails(pki: HubPKI, served, tmp_path, case: str) -> None:
    hub, server = served
    if case == "no certificate":
        ctx = pki.client_context()
    else:
        other = HubPKI(tmp_path / "other", name="unrelated-ca")
        ctx = tls.client_ssl_context(pki.ca_path, *other.node_cert("n1"))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await dial(pki, server, "n1", ctx=ctx)
    assert hub.peers == [] and server.connections == 0


async def test_upgrade_timeout_answers_408(pki: HubPKI) -> None:
    hub = Hub()
    server = await serve_ws("127.0.0.1", 0, pki.server_context(), hub, handshake_timeout=0.2)
    edge, head = await RawEdge.upgrade(server.port, pki.node_context("n1"), b"GET /p/n/events HTTP/1.1\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    await edge.close()
    await server.wait_closed()


async def test_connect_timeout_is_a_clear_timeout_error() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # accepts, never answers the upgrade

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with pytest.raises(TimeoutError, match=r"timed out after 0\.2 s"):
        await connect_ws(
            "127.0.0.1", port, ssl_context=None, node_id="n", project_id="p", handler=Recorder(), timeout=0.2
        )
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


# --- bad sessions close alone ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subprotocol", "opcode", "payload", "code", "words"),
    [
        ("", 0x40 | ws.OP_TEXT, KEEPALIVE, ws.CLOSE_PROTOCOL_ERROR, "reserved bits"),
        ("", ws.OP_TEXT, b"this is not json\n", ws.CLOSE_BAD_PAYLOAD, "malformed JSON message"),
        (
            NATIVE_SUBPROTOCOL,
            ws.OP_TEXT,
            KEEPALIVE,
            ws.CLOSE_UNSUPPORTED_DATA,
            "text frame on the native lane",
        ),
        (NATIVE_SUBPROTOCOL, ws.OP_BINARY, b"\x93\x01", ws.CLOSE_BAD_PAYLOAD, "malformed frame"),
    ],
)
async def test_a_bad_frame_closes_only_its_session(
    pki: HubPKI, served, caplog, subprotocol: str, opcode: int, payload: bytes, code: int, words: str
) -> None:
    hub, server = served
    good, good_edge = await dial(pki, server, "good")
    request = KUBEEDGE_UPGRADE
    if subprotocol:
        request = request.replace(
            b"Upgrade: websocket", b"Sec-WebSocket-Protocol: %s\r\nUpgrade: websocket" % subprotocol.encode()
        )
    bad, head = await RawEdge.upgrade(server.port, pki.node_context("edge-node-1"), request)
    assert head.startswith(b"HTTP/1.1 101 ")
    cloud_bad = await hub.handler("edge-node-1")

    if opcode & 0x40:  # a frame with RSV1 set, which no encoder makes
        frame = bytearray(ws.encode_frame(ws.OP_TEXT, payload, mask=os.urandom(4)))
        frame[0] |= 0x40
        bad.writer.write(bytes(frame))
    else:
        bad.send(opcode, payload)
    op, close_payload = await bad.frame()
    assert op == ws.OP_CLOSE and ws.parse_close(close_payload)[0] == code
    assert await asyncio.wait_for(bad.reader.read(), 2) == b""
    reason = await cloud_bad.wait_closed()
    assert words in reason
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == LOGGER]
    assert any("edge-node-1" in w and words in w and "127.0.0.1:" in w for w in warnings), warnings
    await bad.close()

    cloud_good = await hub.handler("good")
    up, down = [msg(1)], [msg(2)]
    good.send(up)
    assert same((await cloud_good.next())[0], up)
    cloud_good.link.send(down)
    assert same((await good_edge.next())[0], down)
    assert not good.closed and cloud_good.reasons == []
    await hang_up(good)


async def test_oversized_frame_closes_with_1009(pki: HubPKI) -> None:
    hub = Hub()
    server = await serve_ws("127.0.0.1", 0, pki.server_context(), hub, max_frame=1000)
    link, edge = await dial(pki, server, "n1")
    cloud = await hub.handler("n1")
    big = msg(1, "x" * 2000)
    link.send([big])
    expected = "protocol error: message of %d bytes, over 1000" % len(encode_batch([big]))
    assert await cloud.wait_closed() == expected
    assert await edge.wait_closed() == "closed by peer: 1009 " + expected
    link2, _ = await dial(pki, server, "n2")
    with pytest.raises(ValueError, match="exceeds the 1000-byte limit"):
        (await hub.handler("n2")).link.send([big])  # the sender refuses what its peer would refuse
    await hang_up(link2)
    await server.wait_closed()


async def test_lost_connection_is_reported_once(pki: HubPKI, served) -> None:
    hub, server = served
    link, edge = await dial(pki, server, "n1")
    cloud = await hub.handler("n1")
    link.abort()  # type: ignore[attr-defined]
    assert (await cloud.wait_closed()).startswith("connection lost: ")
    assert (await edge.wait_closed()).startswith("connection lost: ")
    link.close("again")  # idempotent, no second on_close
    cloud.link.close("again")
    await asyncio.sleep(0.01)
    assert len(edge.reasons) == len(cloud.reasons) == 1 and server.connections == 0


# --- shutdown and scale --------------------------------------------------------------------------------


async def test_server_shutdown_closes_every_link(pki: HubPKI) -> None:
    hub = Hub()
    server = await serve_ws("127.0.0.1", 0, pki.server_context(), hub)
    clients = [await dial(pki, server, n) for n in ("n1", "n2")]
    assert server.connections == 2
    await server.wait_closed()
    assert server.connections == 0
    for node in ("n1", "n2"):
        assert hub.handlers[node].reasons == ["server shutting down"]
    for link, edge in clients:
        assert await edge.wait_closed() == "closed by peer: 1001 server shutting down"
        assert link.closed
        await asyncio.wait_for(link.wait_closed(), 2)  # type: ignore[attr-defined]


async def test_fifty_concurrent_clients_each_get_their_own_messages(pki: HubPKI, served) -> None:
    hub, server = served
    ctx = pki.node_context("shared")
    nodes = ["node-%02d" % i for i in range(50)]
    clients = await asyncio.gather(
        *(dial(pki, server, n, ctx=ctx, native=i % 2 == 0) for i, n in enumerate(nodes))
    )
    assert server.connections == 50
    for n in nodes:
        (await hub.handler(n)).link.send([msg(0, n), msg(1, n)], [n])
    for n, (_, edge) in zip(nodes, clients, strict=True):
        got: list[Message] = []
        while len(got) < 2:
            got += (await edge.next())[0]
        assert [bytes(m.content) if isinstance(m.content, msgspec.Raw) else m.content for m in got] in (
            [n, n],
            [b'"%s"' % n.encode()] * 2,
        )
        assert edge.batches.empty()
    await hang_up(*(link for link, _ in clients))
