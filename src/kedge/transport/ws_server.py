"""CloudHub's WebSocket listener: mutual TLS, the HTTP upgrade, then hub batches on a `Link`.

Not aiohttp: the cloud must hold >= 10,000 mTLS sessions at <= 42 KB each, and aiohttp's request,
response, reader and handler task per connection cost ~13 KB on top of TLS's ~36 KB
(reference/transport-measurements.md §1). Here a connection is one asyncio.Protocol object with
__slots__ (the Link itself), no task; the upgrade buffer and timer are dropped after the 101.

Both lanes share the port: an edge that offers the `kedge.msgpack.v1` subprotocol gets the native
lane; anything else (a KubeEdge edgecore offers none) gets KubeEdge's JSON lane.
"""

from __future__ import annotations

import asyncio
import ssl

from kedge.model.frames import MAX_FRAME
from kedge.proto import websocket as ws
from kedge.transport._wslink import HANDSHAKE, OPEN, WsLink, format_address, log
from kedge.transport.link import LANE_JSON, LANE_NATIVE, NATIVE_SUBPROTOCOL, Acceptor, Peer, Refused

__all__ = ["WsServer", "serve_ws"]

_MAX_ID = 253  # a DNS subdomain, the longest Kubernetes node name


class WsServer:
    """A listening WebSocket hub endpoint."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        acceptor: Acceptor,
        handshake_timeout: float,
        max_frame: int,
    ) -> None:
        self.loop = loop
        self.acceptor = acceptor
        self.handshake_timeout = handshake_timeout
        self.max_frame = max_frame
        self.port = 0
        self.established = 0
        self.conns: set[_ServerConn] = set()
        self._server: asyncio.Server | None = None
        self._drained: asyncio.Future[None] | None = None

    @property
    def connections(self) -> int:
        """Upgraded connections not yet gone (closing ones included)."""
        return self.established

    def close(self) -> None:
        """Stop accepting connections (established links stay; see `wait_closed`)."""
        if self._server is not None:
            self._server.close()

    async def wait_closed(self, grace: float = 5.0) -> None:
        """Stop listening, close every link ("server shutting down") and wait for the connections to
        go; those still open after `grace` seconds are aborted."""
        self.close()
        for conn in list(self.conns):
            conn.close("server shutting down", ws.CLOSE_GOING_AWAY)
        if not await self._wait_drained(grace):
            for conn in list(self.conns):
                conn.abort()
            await self._wait_drained(1.0)
        if self._server is not None:
            await self._server.wait_closed()

    async def _wait_drained(self, timeout: float) -> bool:
        if not self.conns:
            return True
        self._drained = self.loop.create_future()
        try:
            await asyncio.wait_for(self._drained, timeout)
        except TimeoutError:
            return False
        finally:
            self._drained = None
        return True

    def _forget(self, conn: _ServerConn) -> None:
        self.conns.discard(conn)
        if not self.conns and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)


class _ServerConn(WsLink):
    __slots__ = ("_hbuf", "_server", "_timer")

    def __init__(self, server: WsServer) -> None:
        super().__init__(server.loop, server.max_frame, mask=False)
        self._server = server
        self._hbuf: bytes | None = b""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._server.conns.add(self)
        self._timer = self._loop.call_later(self._server.handshake_timeout, self._upgrade_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:  # it was upgraded (open or closing)
            self._server.established -= 1
        self._cancel_timer()
        self._hbuf = None
        self._server._forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._state == OPEN:
            self._on_frames(data)
            return
        if self._state != HANDSHAKE or self._hbuf is None:
            return
        self._hbuf += data
        try:
            parsed = ws.parse_request(self._hbuf)
        except ws.HandshakeError as e:
            log.warning("bad websocket upgrade from %s: %s", self._address(), e.reason)
            self._reject(e.status, e.reason)
            return
        if parsed is None:
            return
        request, used = parsed
        rest = self._hbuf[used:]
        self._hbuf = None
        self._upgrade(request)
        if rest and self._state == OPEN:
            self._on_frames(rest)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _reject(self, status: int, reason: str) -> None:
        self._cancel_timer()
        self._hbuf = None
        self._state = HANDSHAKE  # never opened: no handler to tell
        t = self._transport
        if t is not None and not t.is_closing():
            t.write(ws.reject_response(status, reason))
            t.close()

    def _upgrade_timed_out(self) -> None:
        self._timer = None
        if self._state == HANDSHAKE:
            reason = "no websocket upgrade request within %g s" % self._server.handshake_timeout
            log.info("%s from %s", reason, self._address())
            self._reject(408, reason)

    def _upgrade(self, request: ws.Request) -> None:
        node_id, project_id, problem = _identity(request)
        address = self._address()
        if problem:
            log.warning("bad websocket upgrade from %s: %s", address, problem)
            self._reject(400, problem)
            return
        native = NATIVE_SUBPROTOCOL in request.subprotocols
        peer = Peer(
            node_id=node_id,
            project_id=project_id,
            lane=LANE_NATIVE if native else LANE_JSON,
            protocol="websocket",
            address=address,
            cert_cn=_cert_cn(self._transport),
        )
        try:
            handler = self._server.acceptor(peer)
        except Refused as e:
            log.info("refused websocket session of node %s (%s): %s", node_id, address, e.reason)
            self._reject(e.status, e.reason)
            return
        except Exception:
            log.exception("acceptor failed for node %s (%s)", node_id, address)
            self._reject(500, "internal error while admitting node %s" % node_id)
            return
        self._cancel_timer()
        assert self._transport is not None
        self._transport.write(ws.accept_response(request, NATIVE_SUBPROTOCOL if native else None))
        self._server.established += 1
        self._open(peer, handler, native, expect_masked=True)


def _identity(request: ws.Request) -> tuple[str, str, str]:
    """(node_id, project_id, problem): headers first (KubeEdge sends both), else the path
    `/<project>/<node>/events`."""
    node_id = request.headers.get("node_id") or ""
    project_id = request.headers.get("project_id") or ""
    parts = request.path.partition("?")[0].strip("/").split("/")
    if len(parts) == 3 and parts[2] == "events":
        project_id = project_id or parts[0]
        node_id = node_id or parts[1]
    if not node_id:
        return "", "", "no node id: send a node_id header or use the path /<project>/<node>/events"
    for what, value in (("node_id", node_id), ("project_id", project_id)):
        if len(value) > _MAX_ID or not value.isprintable() or not value.isascii() or " " in value:
            return (
                "",
                "",
                "invalid %s %r: printable ASCII without spaces, at most %d characters"
                % (
                    what,
                    value[:64],
                    _MAX_ID,
                ),
            )
    return node_id, project_id, ""


def _cert_cn(transport: asyncio.BaseTransport | None) -> str:
    """CN of the client certificate OpenSSL already verified ("" without TLS or a certificate)."""
    if transport is None:
        return ""
    sslobj = transport.get_extra_info("ssl_object")
    if sslobj is None:
        return ""
    cert = sslobj.getpeercert()
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return ""


async def serve_ws(
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    acceptor: Acceptor,
    *,
    backlog: int = 4096,
    handshake_timeout: float = 30.0,
    max_frame: int = MAX_FRAME,
) -> WsServer:
    """Listen on host:port (0 = a free port, see `.port`). `ssl_context` should require and verify
    client certificates; None serves plain WebSocket (tests, or TLS terminated in front)."""
    loop = asyncio.get_running_loop()
    server = WsServer(loop, acceptor, handshake_timeout, max_frame)
    tls: dict[str, object] = {}
    if ssl_context is not None:
        tls = {"ssl": ssl_context, "ssl_handshake_timeout": handshake_timeout}
    server._server = await loop.create_server(
        lambda: _ServerConn(server),
        host,
        port,
        backlog=backlog,
        **tls,  # type: ignore[arg-type]
    )
    server.port = server._server.sockets[0].getsockname()[1]
    log.info(
        "websocket hub listening on %s", format_address((host, server.port)) if host else "*:%d" % server.port
    )
    return server
