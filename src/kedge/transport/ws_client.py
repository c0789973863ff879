"""EdgeHub's WebSocket dialer: mutual TLS, the upgrade as a KubeEdge edge sends it, then hub batches.

Not aiohttp: the edge must stay lean and aiohttp costs +15.6 MB resident on import
(reference/edge-measurements.md). The connection is one asyncio.Protocol (the Link itself) over the
sans-IO codec in kedge.proto.websocket, the same link code the cloud side runs.

A kedge edge offers the `kedge.msgpack.v1` subprotocol; a server that does not select it (a KubeEdge
cloudcore) gets KubeEdge's JSON lane on the same connection.
"""

from __future__ import annotations

import asyncio
import os
import ssl

from kedge.model.frames import MAX_FRAME
from kedge.proto import websocket as ws
from kedge.transport._wslink import HANDSHAKE, OPEN, WsLink, log
from kedge.transport.link import LANE_JSON, LANE_NATIVE, NATIVE_SUBPROTOCOL, Link, LinkHandler, Peer

__all__ = ["connect_ws"]


class _ClientConn(WsLink):
    __slots__ = ("_hbuf", "_key", "_pending_handler", "_ready", "_request", "_subprotocols", "_want")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        handler: LinkHandler,
        want: Peer,
        request: bytes,
        key: str,
        subprotocols: list[str],
        max_frame: int,
    ) -> None:
        super().__init__(loop, max_frame, mask=True)
        self._want: Peer | None = want
        self._request: bytes | None = request
        self._key = key
        self._subprotocols = subprotocols
        self._hbuf: bytes | None = b""
        self._ready: asyncio.Future[None] | None = loop.create_future()
        self._pending_handler: LinkHandler | None = handler  # bound at the 101

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        assert self._request is not None
        transport.write(self._request)  # type: ignore[attr-defined]
        self._request = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state == HANDSHAKE:
            self._hbuf = None
            if exc is None:
                exc = ConnectionError("the server closed the connection during the websocket upgrade")
            self._settle(exc)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._state == OPEN:
            self._on_frames(data)
            return
        if self._state != HANDSHAKE or self._hbuf is None:
            return
        self._hbuf += data
        try:
            parsed = ws.parse_response(self._hbuf, self._key, self._subprotocols)
        except ws.HandshakeError as e:
            self._give_up(e)
            return
        if parsed is None:
            return
        response, used = parsed
        rest = self._hbuf[used:]
        self._hbuf = None
        if response.status != 101:
            text = response.body.decode("utf-8", "replace").strip() or response.reason
            self._give_up(ws.HandshakeError(response.status, text))
            return
        want = self._want
        assert want is not None
        native = response.subprotocol == NATIVE_SUBPROTOCOL
        if NATIVE_SUBPROTOCOL in self._subprotocols and not native:
            log.info(
                "server %s did not select %s: using the KubeEdge JSON lane", want.address, NATIVE_SUBPROTOCOL
            )
        peer = Peer(
            node_id=want.node_id,
            project_id=want.project_id,
            lane=LANE_NATIVE if native else LANE_JSON,
            protocol="websocket",
            address=want.address,
        )
        self._want = None
        handler, self._pending_handler = self._pending_handler, None
        assert handler is not None
        if self._open(peer, handler, native, expect_masked=False):
            self._settle(None)
            if rest:
                self._on_frames(rest)
        else:
            self._settle(ConnectionError("the link handler failed to bind"))

    def _give_up(self, exc: Exception) -> None:
        self._hbuf = None
        self._settle(exc)
        if self._transport is not None:
            self._transport.close()

    def _settle(self, exc: Exception | None) -> None:
        fut, self._ready = self._ready, None
        if fut is None or fut.done():
            return
        if exc is None:
            fut.set_result(None)
        else:
            fut.set_exception(exc)


async def connect_ws(
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None,
    node_id: str,
    project_id: str,
    handler: LinkHandler,
    native: bool = True,
    path: str | None = None,
    timeout: float = 30.0,
    server_hostname: str | None = None,
    max_frame: int = MAX_FRAME,
) -> Link:
    """Dial the hub at host:port and upgrade as a KubeEdge edge does (`GET /<project>/<node>/events`
    with `ConnectionUse`, `node_id`, `project_id`), offering the native subprotocol when `native`.
    Returns the Link, already bound to `handler`. Raises HandshakeError on a non-101 answer,
    TimeoutError when TCP, TLS and the upgrade together take longer than `timeout`, and lets
    ssl.SSLError / ConnectionError through."""
    loop = asyncio.get_running_loop()
    key = ws.make_key(os.urandom(16))
    subprotocols = [NATIVE_SUBPROTOCOL] if native else []
    host_header = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    request = ws.client_request(
        host_header,
        path or "/%s/%s/events" % (project_id, node_id),
        [("ConnectionUse", "msg"), ("node_id", node_id), ("project_id", project_id)],
        subprotocols,
        key,
    )
    want = Peer(node_id, project_id, LANE_JSON, "websocket", host_header)
    conn = _ClientConn(loop, handler, want, request, key, subprotocols, max_frame)
    ready = conn._ready
    assert ready is not None
    tls: dict[str, object] = {}
    if ssl_context is not None:
        tls = {"ssl": ssl_context, "ssl_handshake_timeout": timeout}
        if server_hostname is not None:
            tls["server_hostname"] = server_hostname
    try:
        async with asyncio.timeout(timeout):
            await loop.create_connection(lambda: conn, host, port, **tls)  # type: ignore[arg-type]
            await ready
    except TimeoutError:
        conn.abort()
        raise TimeoutError(
            "websocket connect to %s timed out after %g s (TCP, TLS or upgrade)" % (host_header, timeout)
        ) from None
    except BaseException:
        conn.abort()
        if ready.done() and not ready.cancelled():
            ready.exception()  # retrieved: no "exception never retrieved" noise
        raise
    return conn
