"""CloudHub and EdgeHub over real sockets on loopback: WebSocket (native and KubeEdge JSON lanes) and QUIC,
both with mutual TLS from a test CA.

- `Cloud`: a CloudHub with its SQLite cursor store, its listeners, a recording `edgecontroller` module
  (where upstream messages land) and a `sync_source` over `objects` (what an EdgeController would hand
  the hub). It can be stopped and started again on the same ports with the same cursor file.
- `Edge`: an EdgeHub with a durable outbox and an application module of group `meta` that persists each
  message (recording every delivery) and acks it, as MetaManager does.
- `RawClient`: TLS and a WebSocket upgrade, then raw frames: a client that says nothing, or anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from kedge.aio.backoff import Backoff
from kedge.beehive import Context
from kedge.cloud.cloudhub.cursors import CursorStore
from kedge.cloud.cloudhub.hub import CONNECTED, DISCONNECTED, CloudHub, HubSettings
from kedge.cloud.cloudhub.listeners import Listeners, start_listeners
from kedge.edge.edgehub.connect import QUIC, WEBSOCKET, HubTarget, make_connector
from kedge.edge.edgehub.hub import EdgeHub
from kedge.edge.edgehub.outbox import Outbox
from kedge.model import constants as c
from kedge.model.message import Message, new_message, new_response
from kedge.proto import websocket as ws
from kedge.transport.link import NATIVE_SUBPROTOCOL, Link
from tests.hubpki import HubPKI

PROJECT = c.DEFAULT_PROJECT_ID
WS_NATIVE = "ws-native"
WS_JSON = "ws-json"
QUIC_LANE = "quic"
LANES = (WS_NATIVE, WS_JSON, QUIC_LANE)
WAIT = 30.0  # seconds any awaited condition may take on a loaded machine


async def eventually(cond: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("not within %g s: %s" % (timeout, what))
        await asyncio.sleep(0.005)


async def cancel(*tasks: asyncio.Task | None) -> None:
    for t in tasks:
        if t is not None:
            t.cancel()
    for t in tasks:
        if t is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await t


# -- objects --------------------------------------------------------------------------------------------


def pod(
    name: str, rv: int, operation: str = c.UPDATE, *, node: str = "", namespace: str = "default"
) -> Message:
    """A pod as the EdgeController sends it; its uid (the cursor key) is `uid-<name>`."""
    return new_message(
        source=c.EDGECONTROLLER,
        group=c.GROUP_RESOURCE,
        operation=operation,
        resource="%s/pod/%s" % (namespace, name),
        resourceversion=str(rv),
        content={
            "metadata": {"name": name, "namespace": namespace, "uid": "uid-" + name},
            "spec": {"nodeName": node},
        },
    )


def node_status(node: str) -> Message:
    return new_message(
        source=c.EDGED,
        group=c.GROUP_RESOURCE,
        operation=c.UPDATE,
        resource="%s/%s/%s" % (c.NULL_NAMESPACE, c.NODESTATUS, node),
        content={"status": {"phase": "Running"}, "node": node},
    )


def pod_patch(name: str, namespace: str = "default") -> Message:
    return new_message(
        source=c.EDGED,
        group=c.GROUP_RESOURCE,
        operation=c.UPDATE,
        resource="%s/%s/%s" % (namespace, c.PODPATCH, name),
        content={"status": {"phase": "Running"}},
    )


# -- the cloud --------------------------------------------------------------------------------------------


class Controller:
    """The cloud's `edgecontroller` module: records what the hub routes to it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        ctx.add_module(c.EDGECONTROLLER, c.EDGECONTROLLER, 1 << 16)
        self.upstream: list[Message] = []
        self.events: list[tuple[str, str]] = []  # (operation, node)

    async def run(self) -> None:
        while True:
            for m in await self.ctx.receive_many(c.EDGECONTROLLER, 1024):
                if m.route.operation in (CONNECTED, DISCONNECTED):
                    self.events.append((m.route.operation, m.route.resource.rpartition("/")[2]))
                else:
                    self.upstream.append(m)

    def resources(self, node: str | None = None) -> list[str]:
        prefix = "node/%s/" % node if node else ""
        return [m.route.resource for m in self.upstream if m.route.resource.startswith(prefix)]


class Cloud:
    """A running CloudHub: listeners on loopback, SQLite cursors, a recording controller."""

    def __init__(
        self, pki: HubPKI, directory: Path, settings: HubSettings, *, quic: bool = True, cursors: bool = True
    ) -> None:
        self.pki = pki
        self.dir = directory
        self.settings = settings
        self.with_quic = quic
        self.with_cursors = cursors
        self.cursor_path = directory / "cursors.db"
        #: the cluster: node → object key → current object (handed to the hub when a node connects)
        self.objects: dict[str, dict[str, Message]] = {}
        self.ws_port = 0
        self.quic_port = 0
        self.starts = 0
        self.hub: CloudHub | None = None
        self.controller: Controller | None = None
        self.store: CursorStore | None = None
        self.listeners: Listeners | None = None
        self._tasks: list[asyncio.Task] = []

    def _sync_source(self, node: str) -> list[tuple[str, Message]]:
        return list(self.objects.get(node, {}).items())

    @property
    def running(self) -> bool:
        return self.listeners is not None

    async def start(self) -> None:
        assert not self.running
        self.store = CursorStore(self.cursor_path) if self.with_cursors else None
        ctx = Context()
        self.controller = Controller(ctx)
        self.hub = CloudHub(ctx, self.settings, self.store, sync_source=self._sync_source)
        self._tasks = [
            asyncio.create_task(self.hub.run(), name="cloudhub-timer"),
            asyncio.create_task(self.controller.run(), name="edgecontroller"),
        ]
        pki = self.pki
        try:
            self.listeners = await start_listeners(
                self.hub,
                ca_cert=pki.ca_cert,
                ca_path=str(pki.ca_path),
                cert_path=str(pki.server_cert_path),
                key_path=str(pki.server_key_path),
                ws=("127.0.0.1", self.ws_port),
                quic=("127.0.0.1", self.quic_port) if self.with_quic else None,
            )
        except BaseException:
            await cancel(*self._tasks)
            if self.store is not None:
                self.store.close()
            raise
        self.ws_port = self.listeners.ports["websocket"]
        self.quic_port = self.listeners.ports.get("quic", 0)
        self.starts += 1

    async def stop(self) -> None:
        """Stop as cloudcore stops: listeners (every session closed), the hub's timer (which writes the
        last cursor changes), the cursor store."""
        if not self.running:
            return
        assert self.listeners is not None and self.hub is not None
        listeners, self.listeners = self.listeners, None
        await listeners.close()
        await cancel(*self._tasks)
        await self.hub.flush_cursors()
        if self.store is not None:
            self.store.close()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    # objects

    def put(self, node: str, name: str, rv: int, *, publish: bool = True) -> Message:
        """Create or update pod `name` of `node` at resourceVersion `rv` (published unless told not)."""
        objs = self.objects.setdefault(node, {})
        key = "uid-" + name
        msg = pod(name, rv, c.UPDATE if key in objs else c.INSERT, node=node)
        objs[key] = msg
        if publish:
            assert self.hub is not None
            self.hub.publish(node, msg, key)
        return msg

    def remove(self, node: str, name: str) -> None:
        """Delete pod `name` while nobody publishes it (a restart's resync must send the delete)."""
        del self.objects[node]["uid-" + name]

    def outbound(self, node: str):
        assert self.hub is not None
        return self.hub.nodes[node].outbound

    def acked(self, node: str) -> dict[str, int]:
        """The node's cursor: object key → last acked resourceVersion."""
        assert self.hub is not None
        st = self.hub.nodes.get(node)
        return {} if st is None else {k: e[0] for k, e in st.outbound.cursor.entries.items()}

    def idle(self, node: str) -> bool:
        assert self.hub is not None
        st = self.hub.nodes.get(node)
        return st is not None and st.outbound.in_flight == 0 and st.outbound.pending() == 0

    def synced(self, node: str) -> bool:
        """Everything acked: the cursor equals the node's current objects and nothing is in flight."""
        want = {k: int(m.header.resourceversion) for k, m in self.objects.get(node, {}).items()}
        return self.idle(node) and self.acked(node) == want


# -- the edge ---------------------------------------------------------------------------------------------


class EdgeApp:
    """The edge application (MetaManager's place, group `meta`): persists each message, then acks it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        ctx.add_module(c.METAMANAGER, c.METAMANAGER_GROUP, 1 << 14)
        self.hub: EdgeHub | None = None
        self.store: dict[str, int] = {}  # resource → resourceVersion
        self.deliveries: list[Message] = []
        self.events: list[str] = []
        #: called with each message after it is persisted and before it is acked
        self.before_ack: Callable[[Message], None] | None = None

    async def run(self) -> None:
        assert self.hub is not None
        while True:
            for msg in await self.ctx.receive_many(c.METAMANAGER, 256):
                if msg.route.group == c.EDGEHUB_GROUP:
                    self.events.append(msg.content)
                    continue
                self.deliveries.append(msg)
                if msg.route.operation == c.DELETE:
                    self.store.pop(msg.route.resource, None)
                else:
                    self.store[msg.route.resource] = int(msg.header.resourceversion or 0)
                if self.before_ack is not None:
                    self.before_ack(msg)
                self.hub.send_up(new_response(msg, c.ACK_OK))

    def versions(self) -> list[tuple[str, str, str]]:
        """(operation, resource, resourceVersion) of every delivery, in order."""
        return [(m.route.operation, m.route.resource, m.header.resourceversion) for m in self.deliveries]


class Edge:
    def __init__(self, node: str, lane: str, hub: EdgeHub, app: EdgeApp, outbox: Outbox) -> None:
        self.node = node
        self.lane = lane
        self.hub = hub
        self.app = app
        self.outbox = outbox
        self._tasks = [
            asyncio.create_task(app.run(), name="app-%s" % node),
            asyncio.create_task(hub.run(), name="edgehub-%s" % node),
        ]

    @property
    def link(self) -> Link | None:
        sess = self.hub.session
        return None if sess is None else sess.link

    @property
    def connected(self) -> bool:
        link = self.link
        return link is not None and not link.closed

    async def stop(self) -> None:
        link = self.link
        await cancel(*self._tasks)  # EdgeHub.run closes its link on the way out
        if link is not None:
            wait_closed = getattr(link, "wait_closed", None)
            if wait_closed is not None:  # WebSocket: the TLS shutdown must finish before the loop ends
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wait_closed(), 5)
        self.outbox.close()


class EdgeFactory:
    """Makes edges for a cloud; `close()` stops them all."""

    def __init__(self, pki: HubPKI, cloud: Cloud, directory: Path) -> None:
        self.pki = pki
        self.cloud = cloud
        self.dir = directory
        self.edges: list[Edge] = []
        self._certs: dict[str, tuple[Path, Path]] = {}

    def cert(self, node: str) -> tuple[Path, Path]:
        if node not in self._certs:
            self._certs[node] = self.pki.node_cert(node)
        return self._certs[node]

    async def certs(self, nodes: list[str]) -> None:
        """Issue node certificates ahead, off the event loop (200 of them take a while)."""
        todo = [n for n in nodes if n not in self._certs]
        issued = await asyncio.gather(*(asyncio.to_thread(self.pki.node_cert, n) for n in todo))
        self._certs.update(zip(todo, issued, strict=True))

    def target(self, node: str, lane: str, *, cert: tuple[Path, Path] | None = None) -> HubTarget:
        cert_path, key_path = cert or self.cert(node)
        quic = lane == QUIC_LANE
        port = self.cloud.quic_port if quic else self.cloud.ws_port
        return HubTarget(
            QUIC if quic else WEBSOCKET,
            "127.0.0.1:%d" % port,
            node,
            PROJECT,
            str(self.pki.ca_path),
            str(cert_path),
            str(key_path),
            native=lane != WS_JSON,
            timeout=10.0,
        )

    def __call__(self, node: str, lane: str = WS_NATIVE, *, heartbeat: float = 5.0, **kw) -> Edge:
        ctx = Context()
        app = EdgeApp(ctx)
        outbox = Outbox(self.dir / ("%s.outbox.db" % node))
        hub = EdgeHub(
            node,
            make_connector(self.target(node, lane)),
            ctx,
            heartbeat=heartbeat,
            qps=kw.pop("qps", 10_000.0),
            burst=kw.pop("burst", 10_000.0),
            outbox=outbox,
            backoff=Backoff(initial=0.05, cap=0.5, jitter=0.5, rng=random.Random(node)),
            **kw,
        )
        app.hub = hub
        edge = Edge(node, lane, hub, app, outbox)
        self.edges.append(edge)
        return edge

    async def close(self) -> None:
        edges, self.edges = self.edges, []
        await asyncio.gather(*(e.stop() for e in edges))


# -- raw clients ------------------------------------------------------------------------------------------


class RawClient:
    """A WebSocket client that speaks raw frames: it upgrades as a KubeEdge edge does (offering the native
    subprotocol when asked), then sends and reads whatever the test says."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes) -> None:
        self.reader = reader
        self.writer = writer
        self.head = head
        self.parser = ws.FrameParser(expect_masked=False, max_message=1 << 24)
        self.ready: list[tuple[int, bytes]] = []

    @classmethod
    async def connect(cls, port: int, ctx: ssl.SSLContext, node: str, *, native: bool) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        key = ws.make_key(os.urandom(16))
        writer.write(
            ws.client_request(
                "127.0.0.1:%d" % port,
                "/%s/%s/events" % (PROJECT, node),
                [("node_id", node), ("project_id", PROJECT)],
                [NATIVE_SUBPROTOCOL] if native else [],
                key,
            )
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        return cls(reader, writer, head)

    def send(self, opcode: int, payload: bytes) -> None:
        self.writer.write(ws.encode_frame(opcode, payload, mask=os.urandom(4)))

    async def frame(self, timeout: float = 10.0) -> tuple[int, bytes] | None:
        """The next frame; None once the server closed the connection."""
        while not self.ready:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                return None
            self.ready += self.parser.feed(data)
        return self.ready.pop(0)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 5)


class LogRecords(logging.Handler):
    """Collects log records of `logger` (for places where pytest's caplog cannot go, e.g. hypothesis)."""

    def __init__(self, logger: str = "kedge") -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._logger = logging.getLogger(logger)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> LogRecords:
        self._old_level = self._logger.level
        self._logger.setLevel(logging.DEBUG)
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._old_level)

    def messages(self, level: int = logging.WARNING) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


# -- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def hub_pki(tmp_path: Path) -> HubPKI:
    return HubPKI(tmp_path / "pki")


@pytest.fixture
def hub_settings() -> HubSettings:
    """Settings of the `cloud` fixture; a test overrides it (a fixture of the same name) to change them."""
    return HubSettings(tick=0.1, flush_interval=0.2)


CloudMaker = Callable[..., Awaitable[Cloud]]


@pytest.fixture
async def make_cloud(hub_pki: HubPKI, tmp_path: Path) -> AsyncIterator[CloudMaker]:
    clouds: list[Cloud] = []

    async def make(settings: HubSettings | None = None, *, quic: bool = True) -> Cloud:
        cloud = Cloud(hub_pki, tmp_path / ("cloud%d" % len(clouds)), settings or HubSettings(), quic=quic)
        cloud.dir.mkdir()
        clouds.append(cloud)
        await cloud.start()
        return cloud

    yield make
    for cloud in clouds:
        await cloud.stop()


@pytest.fixture
async def cloud(make_cloud: CloudMaker, hub_settings: HubSettings) -> Cloud:
    return await make_cloud(hub_settings)


@pytest.fixture
async def edges(hub_pki: HubPKI, cloud: Cloud, tmp_path: Path) -> AsyncIterator[EdgeFactory]:
    factory = EdgeFactory(hub_pki, cloud, tmp_path / "edges")
    yield factory
    await factory.close()
    await asyncio.sleep(0.05)  # let closed QUIC sockets and TLS transports finish on this loop
