"""The edge side of kedge's QUIC lane: one mutual-TLS QUIC connection to the hub, returned as a `Link`.

The UDP endpoint is created here rather than through `aioquic.asyncio.connect` (a context manager) so
the link can live as long as the session, and `Link.close()` closes the socket with it.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from aioquic.quic import events
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

from kedge.model.frames import MAX_FRAME
from kedge.model.message import Message
from kedge.proto import framing
from kedge.proto.framing import FramingError, RefusedByPeer
from kedge.transport._quiclink import (
    LinkProtocol,
    QuicConnectionClosed,
    QuicLink,
    address_text,
    describe_termination,
    log,
)
from kedge.transport.link import LANE_NATIVE, QUIC_ALPN, Link, LinkHandler, Peer

__all__ = ["QuicConnectionClosed", "RefusedByPeer", "connect_quic"]


class _ClientProtocol(LinkProtocol):
    def __init__(self, quic: QuicConnection, *, bulk_streams: int, max_frame: int, server: str) -> None:
        super().__init__(quic, max_frame=max_frame)
        self.bulk_count = bulk_streams
        self._server = server
        self._streams = frozenset(
            (framing.CONTROL_STREAM, framing.PRIORITY_STREAM, *framing.bulk_stream_ids(bulk_streams))
        )
        self.welcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._early: list[tuple[list[Message], list[str]]] = []

    @property
    def label(self) -> str:
        return "to hub %s" % self._server

    def _stream_allowed(self, sid: int) -> bool:
        return sid in self._streams

    def open_streams(self, hello: bytes) -> None:
        """The hello, and an empty frame on each of our other streams so the hub may send on them."""
        if self.close_reason is not None:
            return
        self.send_control(hello)
        for sid in (framing.PRIORITY_STREAM, *framing.bulk_stream_ids(self.bulk_count)):
            self._quic.send_stream_data(sid, framing.EMPTY_FRAME)

    def _on_control(self, body: bytes) -> None:
        if self.welcome.done():
            self.fail("unexpected frame on the control stream after the welcome")
            return
        try:
            welcome = framing.decode_welcome(body)
        except FramingError as e:
            self.welcome.set_exception(ConnectionError("the hub %s sent %s" % (self._server, e.reason)))
            self.fail(e.reason)
            return
        if welcome.ok:
            self.welcome.set_result(None)
        else:
            self.welcome.set_exception(RefusedByPeer(welcome.reason))

    def _on_early_data(self, sid: int, messages: list[Message], acks: list[str]) -> None:
        # Frames sent right after the welcome may overtake it (another stream, another packet).
        self._early.append((messages, acks))

    def bind(self, link: QuicLink, handler: LinkHandler) -> None:
        super().bind(link, handler)
        early, self._early = self._early, []
        for messages, acks in early:
            if self.close_reason is not None:
                return
            try:
                handler.on_batch(messages, acks)
            except Exception:
                log.exception("QUIC link %s: on_batch failed", self.label)
                self.close_link("internal error handling a batch", framing.CLOSE_INTERNAL)

    def closed_error(self) -> ConnectionError:
        event = self.termination
        if event is None:
            return ConnectionError("QUIC connection to %s closed: %s" % (self._server, self.close_reason))
        return QuicConnectionClosed(
            "QUIC connection to %s closed: %s" % (self._server, describe_termination(event)),
            error_code=event.error_code,
            frame_type=event.frame_type,
            reason_phrase=event.reason_phrase,
        )

    def _settle_welcome(self, exc: BaseException) -> None:
        if not self.welcome.done():
            self.welcome.set_exception(exc)

    def _on_terminated(self, event: events.ConnectionTerminated) -> None:
        if event.frame_type is None and event.error_code == framing.CLOSE_REFUSED:
            self._settle_welcome(RefusedByPeer(event.reason_phrase))
        else:
            self._settle_welcome(self.closed_error())
        self._release()

    def close_link(self, reason: str, code: int = framing.CLOSE_NORMAL) -> None:
        super().close_link(reason, code)
        self._settle_welcome(self.closed_error())
        self._release()

    def _release(self) -> None:
        self.stop_timer()
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Gives up a connection that never became a link (no on_close: no handler was bound)."""
        if not self.welcome.done():
            self.welcome.cancel()  # nobody will await it any more
        elif not self.welcome.cancelled():
            self.welcome.exception()  # retrieved: the caller raises its own error
        if self.close_reason is None and self.termination is None:
            self.close_link("connect abandoned")
        self._release()


def _client_configuration(
    ca_path: Path | str,
    cert_path: Path | str | None,
    key_path: Path | str | None,
    server_name: str,
    idle_timeout: float,
) -> QuicConfiguration:
    # The CA is read now, not during the handshake where a bad file would surface as a stray exception.
    try:
        cadata = Path(ca_path).read_bytes()
    except OSError as e:
        raise ValueError("cannot read the CA certificates %s: %s" % (ca_path, e)) from None
    if b"-----BEGIN CERTIFICATE-----" not in cadata:
        raise ValueError("%s holds no PEM certificate" % ca_path)
    configuration = QuicConfiguration(
        is_client=True,
        alpn_protocols=[QUIC_ALPN],
        idle_timeout=idle_timeout,
        server_name=server_name,
        cadata=cadata,
    )
    if cert_path is not None:
        try:
            configuration.load_cert_chain(cert_path, key_path)
        except (OSError, ValueError) as e:
            raise ValueError(
                "cannot load the QUIC client certificate %s with key %s: %s" % (cert_path, key_path, e)
            ) from None
    return configuration


async def connect_quic(
    host: str,
    port: int,
    *,
    ca_path: Path | str,
    cert_path: Path | str | None,
    key_path: Path | str | None,
    node_id: str,
    project_id: str,
    handler: LinkHandler,
    timeout: float = 30.0,
    bulk_streams: int = 2,
    server_name: str | None = None,
    idle_timeout: float = 75.0,
    max_frame: int = MAX_FRAME,
) -> Link:
    """Connects to the hub, verifying it against `ca_path` and presenting `cert_path` (None: no client
    certificate, which a kedge hub refuses), sends the hello and returns the link bound to `handler`.

    Raises TimeoutError (no handshake or welcome within `timeout`), RefusedByPeer (the hub's acceptor
    said no), QuicConnectionClosed (the connection ended first, e.g. the hub refused the certificate
    in the TLS handshake: `.tls_alert`), ValueError (bad hello fields or certificate files), OSError.
    """
    hello = framing.encode_hello(node_id, project_id, bulk_streams=bulk_streams)  # FramingError: a bad field
    configuration = _client_configuration(ca_path, cert_path, key_path, server_name or host, idle_timeout)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    family, _, _, _, addr = infos[0]
    target = address_text(addr)
    _, proto = await loop.create_datagram_endpoint(
        lambda: _ClientProtocol(
            QuicConnection(configuration=configuration),
            bulk_streams=bulk_streams,
            max_frame=max_frame,
            server=target,
        ),
        local_addr=("::" if family == socket.AF_INET6 else "0.0.0.0", 0),
        family=family,
    )
    stage = "TLS handshake"
    try:
        async with asyncio.timeout(timeout):
            proto.connect(addr)
            try:
                # Awaited directly, right after connect(): aioquic records the handshake only for a
                # waiter that already exists, so a deferred wait can miss it and hang (measurements §3).
                await proto.wait_connected()
            except ConnectionError:
                raise proto.closed_error() from None
            stage = "welcome"
            proto.open_streams(hello)
            await proto.welcome
    except TimeoutError:
        proto.abort()
        raise TimeoutError("QUIC connection to %s: no %s within %gs" % (target, stage, timeout)) from None
    except BaseException:
        proto.abort()
        raise
    link = QuicLink(proto, Peer(node_id, project_id, LANE_NATIVE, "quic", target))
    proto.bind(link, handler)
    return link
