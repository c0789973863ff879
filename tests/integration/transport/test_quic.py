"""kedge's QUIC lane on loopback with real mutual TLS: admission, routing, refusals inside the TLS
handshake, protocol errors, shutdown, concurrency."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cryptography import x509

from kedge.model import constants as c
from kedge.model.message import Message, new_message
from kedge.proto import framing
from kedge.proto.framing import FramingError, RefusedByPeer
from kedge.security import pki
from kedge.transport import quic_client
from kedge.transport.link import LANE_NATIVE, Link, Peer, Refused
from kedge.transport.quic_client import QuicConnectionClosed, connect_quic
from kedge.transport.quic_server import QuicServer, serve_quic
from tests.hubpki import HubPKI, node_cn

WAIT = 5.0


def verify_client_from(ca_path: Path, now: Callable[[], dt.datetime] | None = None):
    """The hub's `verify_client`: chain to the CA, validity now, EKU clientAuth -> the leaf's CN."""
    ca = pki.load_cert(ca_path)

    def verify(chain: list[bytes]) -> str:
        try:
            certs = [x509.load_der_x509_certificate(der) for der in chain]
            when = now() if now is not None else dt.datetime.now(dt.UTC)
            pki.verify_client_cert(certs[0], ca, now=when, intermediates=certs[1:])
        except (ValueError, pki.PKIError) as e:
            raise ValueError(str(e)) from None
        return pki.cert_common_name(certs[0])

    return verify


class Recorder:
    """A LinkHandler that records what the transport tells it."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.link: Link | None = None
        self.binds = 0
        self.batches: list[tuple[list[Message], list[str]]] = []
        self.closes: list[str] = []
        self._changed = asyncio.Event()

    def bind(self, link: Link) -> None:
        self.binds += 1
        self.link = link

    def on_batch(self, messages: list[Message], acks: list[str]) -> None:
        self.batches.append((messages, acks))
        self._changed.set()

    def on_close(self, reason: str) -> None:
        self.closes.append(reason)
        self._changed.set()

    @property
    def messages(self) -> list[Message]:
        return [m for batch, _ in self.batches for m in batch]

    @property
    def acks(self) -> list[str]:
        return [a for _, acks in self.batches for a in acks]

    async def until(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def closed(self) -> str:
        await self.until(lambda: bool(self.closes))
        return self.closes[0]


async def eventually(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """For state no handler callback announces."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def msg(resource: str, operation: str = c.UPDATE, content: object = None) -> Message:
    return new_message(
        source="edged", group=c.GROUP_RESOURCE, operation=operation, resource=resource, content=content
    )


class Hub:
    """A QUIC server on a free loopback port whose acceptor hands out Recorders (or refuses)."""

    def __init__(self, pki_: HubPKI) -> None:
        self.pki = pki_
        self.peers: list[Peer] = []
        self.handlers: dict[str, Recorder] = {}
        self.refuse: str | None = None
        self.server: QuicServer | None = None
        self.clients: list[Link] = []

    def accept(self, peer: Peer) -> Recorder:
        self.peers.append(peer)
        if self.refuse is not None:
            raise Refused(self.refuse)
        rec = self.handlers[peer.node_id] = Recorder("server:" + peer.node_id)
        return rec

    async def start(self, **kwargs) -> QuicServer:
        kwargs.setdefault("verify_client", verify_client_from(self.pki.ca_path))
        self.server = await serve_quic(
            "127.0.0.1",
            0,
            cert_path=self.pki.server_cert_path,
            key_path=self.pki.server_key_path,
            acceptor=self.accept,
            **kwargs,
        )
        return self.server

    async def connect(self, node: str, handler: Recorder | None = None, cert=..., **kwargs) -> Link:
        assert self.server is not None
        if cert is ...:
            cert = self.pki.node_cert(node)
        link = await connect_quic(
            "127.0.0.1",
            self.server.port,
            ca_path=self.pki.ca_path,
            cert_path=cert[0] if cert else None,
            key_path=cert[1] if cert else None,
            node_id=node,
            project_id="proj",
            handler=handler if handler is not None else Recorder("client:" + node),
            timeout=WAIT,
            **kwargs,
        )
        self.clients.append(link)
        return link

    async def stop(self) -> None:
        for link in self.clients:
            link.close("test over")
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
def hub_pki(tmp_path: Path) -> HubPKI:
    return HubPKI(tmp_path / "pki")


@pytest.fixture
async def hub(hub_pki: HubPKI) -> AsyncIterator[Hub]:
    h = Hub(hub_pki)
    await h.start()
    yield h
    await h.stop()


# -- admission and round trips ------------------------------------------------------------------------


async def test_round_trip_both_ways_with_acks(hub: Hub):
    client = Recorder()
    link = await hub.connect("edge-1", client)
    assert client.binds == 1 and client.link is link
    assert link.peer == Peer("edge-1", "proj", LANE_NATIVE, "quic", "127.0.0.1:%d" % hub.server.port)

    [peer] = hub.peers
    assert (peer.node_id, peer.project_id, peer.lane, peer.protocol) == (
        "edge-1",
        "proj",
        LANE_NATIVE,
        "quic",
    )
    assert peer.cert_cn == node_cn("edge-1")
    assert peer.address.startswith("127.0.0.1:")
    server = hub.handlers["edge-1"]
    assert server.binds == 1
    assert len(hub.server.connections) == 1

    up = [msg("default/pod/p%d" % i, content={"i": i}) for i in range(10)]
    link.send(up, ["ack-1", "ack-2"])
    assert link.write_buffer_size() > 300  # queued until the hub acknowledges it
    await server.until(lambda: len(server.messages) == 10 and len(server.acks) == 2)
    assert sorted(m.msg_id for m in server.messages) == sorted(m.msg_id for m in up)
    assert server.acks == ["ack-1", "ack-2"]
    got = {m.msg_id: m for m in server.messages}
    assert all(got[m.msg_id] == m for m in up)

    server.link.send([msg("default/configmap/cm", c.INSERT, {"data": {"k": "v"}})], [m.msg_id for m in up])
    await client.until(lambda: len(client.messages) == 1 and len(client.acks) == 10)
    assert client.acks == [m.msg_id for m in up]
    assert client.messages[0].content == {"data": {"k": "v"}}

    # Once the peer has acknowledged everything, nothing is left queued.
    await eventually(lambda: link.write_buffer_size() == 0)
    assert not client.closes and not server.closes


async def test_one_objects_messages_keep_their_order(hub: Hub):
    link = await hub.connect("edge-1", bulk_streams=4)
    server = hub.handlers["edge-1"]
    sent = []
    for i in range(50):
        batch = [msg("default/pod/p%d" % (j % 7), content=i) for j in range(i, i + 3)]
        sent += batch
        link.send(batch)
    await server.until(lambda: len(server.messages) == len(sent))
    for k in range(7):
        resource = "default/pod/p%d" % k
        assert [m.msg_id for m in server.messages if m.route.resource == resource] == [
            m.msg_id for m in sent if m.route.resource == resource
        ]


async def test_messages_take_the_priority_or_a_bulk_stream(hub: Hub):
    link = await hub.connect("edge-1", bulk_streams=3)
    bulk = framing.bulk_stream_ids(3)
    keepalive = msg("", c.KEEPALIVE)
    status = msg("default/nodestatus/edge-1")
    lease = msg("kube-node-lease/lease/edge-1")
    pods = [msg("default/pod/p%d" % i) for i in range(30)]
    assert link.stream_for(keepalive) == link.stream_for(status) == link.stream_for(lease) == 4
    assert {link.stream_for(p) for p in pods} == set(bulk)

    # On the wire: the bytes queued on each stream by one send (aioquic's send buffers, before transmit).
    streams = link._proto._quic._streams

    def queued() -> dict[int, int]:
        return {sid: streams[sid].sender._buffer_stop for sid in (4, *bulk)}

    before = queued()
    pod = pods[0]
    link.send([keepalive, status, pod], ["a1"])
    after = queued()
    grew = {sid for sid in after if after[sid] > before[sid]}
    assert grew == {4, link.stream_for(pod)}

    before = queued()
    link.send([], ["only-acks"])
    after = queued()
    assert {sid for sid in after if after[sid] > before[sid]} == {4}

    server = hub.handlers["edge-1"]
    await server.until(lambda: len(server.messages) == 3 and len(server.acks) == 2)
    # one frame per stream per send: the priority frame carries the acks with the priority messages
    assert [len(b[0]) for b in server.batches if b[1] == ["a1"]] == [2]

    # The server routes by the same rule, with the stream count the client announced.
    assert hub.handlers["edge-1"].link.stream_for(pod) == link.stream_for(pod)


async def test_link_close_reaches_both_handlers_once(hub: Hub):
    client = Recorder()
    link = await hub.connect("edge-1", client)
    server = hub.handlers["edge-1"]
    link.close("edge shutting down")
    link.close("again")
    assert link.closed
    assert client.closes == ["edge shutting down"]
    link.send([msg("default/pod/p")])  # after close: dropped, no error
    assert await server.closed() == "closed by peer: edge shutting down"
    await asyncio.sleep(0.05)
    assert len(server.closes) == 1 and len(client.closes) == 1
    assert hub.server.connections == []


# -- refusals ---------------------------------------------------------------------------------------


async def _refused_in_handshake(hub: Hub, caplog, cert) -> QuicConnectionClosed:
    client = Recorder()
    with caplog.at_level(logging.WARNING, logger="kedge.transport.quic"):
        with pytest.raises(QuicConnectionClosed) as e:
            await hub.connect("edge-1", client, cert=cert)
        # the hub notices the failed handshake once its closing period ends
        await eventually(lambda: "failed before admission" in caplog.text)
    assert hub.peers == [] and hub.handlers == {}  # acceptor never called: no hello was ever read
    assert client.binds == 0 and client.batches == [] and client.closes == []
    assert hub.server.connections == []
    return e.value


async def test_client_certificate_from_another_ca_is_refused_in_the_handshake(hub: Hub, tmp_path, caplog):
    other = HubPKI(tmp_path / "other", name="unrelated-ca")
    err = await _refused_in_handshake(hub, caplog, other.node_cert("edge-1"))
    assert err.tls_alert == "bad_certificate"
    assert err.error_code == 0x100 + 42  # CRYPTO_ERROR + alert: the TLS layer closed it
    assert "client certificate refused" in err.reason_phrase


async def test_client_without_certificate_is_refused_in_the_handshake(hub: Hub, caplog):
    err = await _refused_in_handshake(hub, caplog, None)
    assert err.tls_alert == "certificate_required"


async def test_expired_client_certificate_is_refused_in_the_handshake(hub: Hub, caplog):
    issued = hub.pki.now
    hub.pki.now = issued - dt.timedelta(days=3)  # valid for one day, two days ago
    cert = hub.pki.client_cert(node_cn("edge-1"), days=1)
    hub.pki.now = issued
    err = await _refused_in_handshake(hub, caplog, cert)
    assert err.tls_alert == "bad_certificate"
    assert "not valid" in err.reason_phrase


async def test_server_certificate_from_another_ca_is_refused_by_the_client(hub: Hub, tmp_path):
    other = HubPKI(tmp_path / "other", name="unrelated-ca")
    with pytest.raises(QuicConnectionClosed) as e:
        await connect_quic(
            "127.0.0.1",
            hub.server.port,
            ca_path=other.ca_path,
            cert_path=hub.pki.node_cert("edge-1")[0],
            key_path=hub.pki.node_cert("edge-1")[1],
            node_id="edge-1",
            project_id="proj",
            handler=Recorder(),
            timeout=WAIT,
        )
    assert e.value.tls_alert == "bad_certificate"
    assert hub.peers == []


async def test_acceptor_refusal_reaches_the_client(hub: Hub):
    hub.refuse = "node edge-1 is not registered"
    client = Recorder()
    with pytest.raises(RefusedByPeer) as e:
        await hub.connect("edge-1", client)
    assert e.value.reason == "node edge-1 is not registered"
    assert [p.node_id for p in hub.peers] == ["edge-1"]  # TLS passed; the acceptor said no
    assert client.binds == 0 and client.closes == []
    assert hub.server.connections == []


async def test_invalid_hello_fields_are_refused_before_dialing(hub: Hub):
    with pytest.raises(FramingError, match=r"\$\.node_id"):
        await hub.connect("Not_A_Node_Name")
    with pytest.raises(FramingError, match=r"\$\.bulk_streams"):
        await hub.connect("edge-1", bulk_streams=0)


async def test_invalid_hello_from_a_peer_closes_with_the_reason(hub: Hub, caplog, monkeypatch):
    # A peer that does not validate what it sends: its hello names an invalid node.
    monkeypatch.setattr(
        framing, "encode_hello", lambda *a, **kw: framing._encoder.encode({"node_id": "", "project_id": "p"})
    )
    with (
        caplog.at_level(logging.WARNING, logger="kedge.transport.quic"),
        pytest.raises(QuicConnectionClosed) as e,
    ):
        await hub.connect("edge-1")
    assert "peer reports a protocol error: invalid hello" in str(e.value)
    assert "$.node_id" in str(e.value)
    assert "invalid hello" in caplog.text and "127.0.0.1" in caplog.text
    assert hub.peers == []


async def test_a_client_that_never_says_hello_is_dropped(hub_pki: HubPKI, caplog, monkeypatch):
    h = Hub(hub_pki)
    await h.start(hello_timeout=0.3)
    # A peer that completes TLS and opens nothing: it never sends its hello.
    monkeypatch.setattr(quic_client._ClientProtocol, "open_streams", lambda self, hello: None)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="kedge.transport.quic"),
            pytest.raises(QuicConnectionClosed) as e,
        ):
            await h.connect("edge-1")
        assert "no hello within 0.3 s" in str(e.value)
        assert "no hello within 0.3 s" in caplog.text
        assert h.peers == []
    finally:
        await h.stop()


# -- protocol errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (framing.encode(b"\x93not a frame"), "malformed frame"),
        (b"\xff\xff\xff\xff", "exceeds the limit"),
    ],
)
async def test_a_malformed_frame_closes_only_that_connection(hub: Hub, caplog, raw, reason):
    bad_client, good_client = Recorder(), Recorder()
    bad = await hub.connect("edge-bad", bad_client)
    good = await hub.connect("edge-good", good_client)
    with caplog.at_level(logging.WARNING, logger="kedge.transport.quic"):
        # Bytes a broken peer would write, straight onto its first bulk stream.
        bad._proto._quic.send_stream_data(8, raw)
        bad._proto.transmit()
        server_reason = await hub.handlers["edge-bad"].closed()
    assert "stream 8" in server_reason and reason in server_reason
    assert "edge-bad" in caplog.text and reason in caplog.text
    client_reason = await bad_client.closed()
    assert client_reason.startswith("peer reports a protocol error: stream 8")
    assert len(hub.handlers["edge-bad"].closes) == 1

    good.send([msg("default/pod/still-here")])
    server_good = hub.handlers["edge-good"]
    await server_good.until(lambda: len(server_good.messages) == 1)
    server_good.link.send([], ["still-here"])
    await good_client.until(lambda: good_client.acks == ["still-here"])
    assert server_good.closes == [] and good_client.closes == []
    assert [link.peer.node_id for link in hub.server.connections] == ["edge-good"]


async def test_idle_connections_time_out_without_pings(hub_pki: HubPKI):
    h = Hub(hub_pki)
    await h.start(idle_timeout=0.3)
    try:
        client = Recorder()
        await h.connect("edge-1", client, idle_timeout=0.3)
        server = h.handlers["edge-1"]
        assert await server.closed() == "idle timeout"
        assert await client.closed() == "idle timeout"
    finally:
        await h.stop()


async def test_connect_times_out_when_nobody_answers(hub_pki: HubPKI):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(TimeoutError, match=r"no TLS handshake within 0\.3s"):
            await connect_quic(
                "127.0.0.1",
                silent.getsockname()[1],
                ca_path=hub_pki.ca_path,
                cert_path=hub_pki.node_cert("edge-1")[0],
                key_path=hub_pki.node_cert("edge-1")[1],
                node_id="edge-1",
                project_id="proj",
                handler=Recorder(),
                timeout=0.3,
            )
    finally:
        silent.close()


# -- shutdown and scale ------------------------------------------------------------------------------


async def test_server_close_closes_clients(hub: Hub):
    clients = [Recorder() for _ in range(3)]
    for i, rec in enumerate(clients):
        await hub.connect("edge-%d" % i, rec)
    hub.server.close()
    await hub.server.wait_closed()
    for i, rec in enumerate(clients):
        assert await rec.closed() == "closed by peer: server shutting down"
        assert hub.handlers["edge-%d" % i].closes == ["server shutting down"]
    assert hub.server.connections == []


async def test_30_concurrent_clients_each_get_their_own_messages(hub: Hub):
    nodes = ["edge-%02d" % i for i in range(30)]
    recorders = {n: Recorder() for n in nodes}
    links = await asyncio.gather(*(hub.connect(n, recorders[n]) for n in nodes))
    assert {link.peer.node_id for link in hub.server.connections} == set(nodes)
    for link in links:
        link.send([msg("default/nodestatus/" + link.peer.node_id, content=link.peer.node_id)])
    for n in nodes:
        server = hub.handlers[n]
        await server.until(lambda s=server: len(s.messages) == 1)
        assert server.messages[0].content == n
        assert [p.cert_cn for p in hub.peers if p.node_id == n] == [node_cn(n)]
        server.link.send([msg("default/pod/for-" + n, c.INSERT, n)], [server.messages[0].msg_id])
    for n in nodes:
        rec = recorders[n]
        await rec.until(lambda r=rec: len(r.messages) == 1 and len(r.acks) == 1)
        assert [m.content for m in rec.messages] == [n]
