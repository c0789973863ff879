"""The cloud side of kedge's QUIC lane: one UDP socket, many mutual-TLS QUIC connections, each admitted
through the hub's acceptor and then carried as a `Link`.

A connection's life: the TLS handshake verifies the client's chain inside the handshake (`quic_tls`);
the client sends its hello on the control stream and opens its priority and bulk streams with empty
frames; once the hello is in and the last announced stream is open, `acceptor(peer)` decides: a
welcome and `handler.bind(link)`, or a refusal (welcome with the reason, then CONNECTION_CLOSE with
`CLOSE_REFUSED` and the reason). Heartbeats are application messages on the priority stream; QUIC
PINGs are never sent (they cost ~0.7 ms of server CPU each here).
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import cast

from aioquic.buffer import Buffer
from aioquic.quic import events
from aioquic.quic.configuration import SMALLEST_MAX_DATAGRAM_SIZE, QuicConfiguration
from aioquic.quic.packet import QuicPacketType, encode_quic_version_negotiation, pull_quic_header

from kedge.model.frames import MAX_FRAME
from kedge.model.message import Message
from kedge.proto import framing
from kedge.proto.framing import FramingError, Hello
from kedge.transport._quiclink import LinkProtocol, QuicLink, address_text, describe_termination, log
from kedge.transport.link import LANE_NATIVE, QUIC_ALPN, Acceptor, Link, Peer, Refused
from kedge.transport.quic_tls import MutualTLSServerConnection, VerifyClient

#: UDP socket buffers of the listener, as in the measurements (a burst of handshakes must not drop).
SOCKET_BUFFER = 4 * 1024 * 1024
_MAX_STREAM = framing.FIRST_BULK_STREAM + 4 * (framing.MAX_BULK_STREAMS - 1)


class _ServerProtocol(LinkProtocol):
    def __init__(self, quic: MutualTLSServerConnection, server: QuicServer) -> None:
        super().__init__(quic, max_frame=server.max_frame)
        self._server = server
        self.cids: set[bytes] = set()
        self._hello: Hello | None = None
        self._admitted = False
        self._top_stream = -1  # highest stream the client has opened
        # A client that completes TLS but never says hello would hold its slot until the idle timeout.
        self._hello_timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            server.hello_timeout, self._hello_deadline
        )

    def _hello_deadline(self) -> None:
        self._hello_timer = None
        if not self._admitted and self.close_reason is None:
            self.fail("no hello within %g s of connecting" % self._server.hello_timeout)

    @property
    def label(self) -> str:
        node = self._hello.node_id if self._hello is not None else "(no hello)"
        return "%s from %s" % (node, address_text(self._quic.get_peer_address()))

    def _stream_allowed(self, sid: int) -> bool:
        if sid % 4 != 0:  # only client-initiated bidirectional streams
            return False
        if self._hello is not None:
            return sid <= framing.FIRST_BULK_STREAM + 4 * (self._hello.bulk_streams - 1)
        return sid <= _MAX_STREAM

    def _on_stream_data(self, sid: int, data: bytes, end_stream: bool) -> None:
        self._top_stream = max(self._top_stream, sid)
        super()._on_stream_data(sid, data, end_stream)
        if self._hello is not None and not self._admitted and self.close_reason is None:
            self._admit_when_open()

    def _on_control(self, body: bytes) -> None:
        if self._hello is not None:
            self.fail("unexpected frame on the control stream after the hello")
            return
        try:
            self._hello = framing.decode_hello(body)
        except FramingError as e:
            self.fail(e.reason)
            return
        self.bulk_count = self._hello.bulk_streams
        if self._top_stream > framing.FIRST_BULK_STREAM + 4 * (self.bulk_count - 1):
            self.fail(
                "stream %d is beyond the %d bulk streams the hello announced"
                % (self._top_stream, self.bulk_count)
            )
            return
        self._admit_when_open()

    def _on_early_data(self, sid: int, messages: list[Message], acks: list[str]) -> None:
        self.fail("data on stream %d before the welcome" % sid)

    def _admit_when_open(self) -> None:
        # The server can send only on streams the client has opened; opening the last one opens all.
        hello = self._hello
        assert hello is not None
        if self._top_stream < framing.FIRST_BULK_STREAM + 4 * (hello.bulk_streams - 1):
            return
        self._admitted = True
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        quic = self._quic
        assert isinstance(quic, MutualTLSServerConnection)
        peer = Peer(
            node_id=hello.node_id,
            project_id=hello.project_id,
            lane=LANE_NATIVE,
            protocol="quic",
            address=address_text(quic.get_peer_address()),
            cert_cn=quic.client_cn or "",
        )
        try:
            handler = self._server.acceptor(peer)
        except Refused as e:
            log.info("QUIC link %s: refused: %s", self.label, e.reason)
            self._refuse(e.reason, framing.CLOSE_REFUSED)
            return
        except Exception:
            log.exception("QUIC link %s: acceptor failed", self.label)
            self._refuse("internal error admitting the node", framing.CLOSE_INTERNAL)
            return
        self.send_control(framing.encode_welcome(True))
        self.bind(QuicLink(self, peer), handler)

    def _refuse(self, reason: str, code: int) -> None:
        self.send_control(framing.encode_welcome(False, reason))
        self.close_link(reason, code)  # the welcome leaves first, then CONNECTION_CLOSE with the reason

    def quic_event_received(self, event: events.QuicEvent) -> None:
        if isinstance(event, events.ConnectionIdIssued):
            self.cids.add(event.connection_id)
            self._server.protocols[event.connection_id] = self
        elif isinstance(event, events.ConnectionIdRetired):
            self.cids.discard(event.connection_id)
            self._server.protocols.pop(event.connection_id, None)
        else:
            super().quic_event_received(event)

    def _on_terminated(self, event: events.ConnectionTerminated) -> None:
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        self._server.forget(self)
        if not self._admitted and event.frame_type is not None and event.error_code != 0:
            log.warning(
                "QUIC connection from %s failed before admission: %s",
                address_text(self._quic.get_peer_address()),
                describe_termination(event),
            )


class QuicServer(asyncio.DatagramProtocol):
    """The listener `serve_quic` returns (also the UDP endpoint's protocol)."""

    def __init__(
        self,
        configuration: QuicConfiguration,
        verify_client: VerifyClient,
        acceptor: Acceptor,
        max_frame: int,
        hello_timeout: float = 30.0,
    ) -> None:
        self.configuration = configuration
        self.hello_timeout = hello_timeout
        self.verify_client = verify_client
        self.acceptor = acceptor
        self.max_frame = max_frame
        self.port = 0
        #: connection id -> its protocol (a connection has several ids)
        self.protocols: dict[bytes, _ServerProtocol] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._closing = False
        self._closed = asyncio.get_running_loop().create_future()

    @property
    def connections(self) -> list[Link]:
        """The admitted links that are still open."""
        return [p.link for p in set(self.protocols.values()) if p.link is not None and not p.link_closed]

    def close(self) -> None:
        """Closes every connection (on_close "server shutting down") and the socket."""
        if self._closing:
            return
        self._closing = True
        for proto in set(self.protocols.values()):
            proto.close_link("server shutting down")
            proto.stop_timer()
        self.protocols.clear()
        if self._transport is not None:
            self._transport.close()
        elif not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    def forget(self, proto: _ServerProtocol) -> None:
        for cid in proto.cids:
            if self.protocols.get(cid) is proto:
                del self.protocols[cid]
        proto.cids.clear()

    # -- asyncio.DatagramProtocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)

    def error_received(self, exc: Exception) -> None:
        log.debug("QUIC listener: socket error: %s", exc)  # e.g. ICMP port unreachable of a gone client

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        config = self.configuration
        try:
            header = pull_quic_header(Buffer(data=data), host_cid_length=config.connection_id_length)
        except ValueError:
            return
        if (
            header.packet_type != QuicPacketType.VERSION_NEGOTIATION
            and header.version is not None
            and header.version not in config.supported_versions
        ):
            assert self._transport is not None
            self._transport.sendto(
                encode_quic_version_negotiation(
                    source_cid=header.destination_cid,
                    destination_cid=header.source_cid,
                    supported_versions=config.supported_versions,
                ),
                addr,
            )
            return
        proto = self.protocols.get(header.destination_cid)
        if proto is None:
            if (
                self._closing
                or header.packet_type != QuicPacketType.INITIAL
                or len(data) < SMALLEST_MAX_DATAGRAM_SIZE  # a client's Initial is padded to 1200 bytes
            ):
                return
            quic = MutualTLSServerConnection(
                configuration=config,
                original_destination_connection_id=header.destination_cid,
                verify_client=self.verify_client,
            )
            proto = _ServerProtocol(quic, self)
            proto.connection_made(self._transport)  # type: ignore[arg-type]
            for cid in (header.destination_cid, quic.host_cid):
                proto.cids.add(cid)
                self.protocols[cid] = proto
        proto.datagram_received(data, addr)


def _listen_socket(family: int, sockaddr: tuple) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_quic(
    host: str,
    port: int,
    *,
    cert_path: Path | str,
    key_path: Path | str,
    verify_client: VerifyClient,
    acceptor: Acceptor,
    idle_timeout: float = 75.0,
    max_frame: int = MAX_FRAME,
    hello_timeout: float = 30.0,
) -> QuicServer:
    """Listens on UDP host:port (0: a free port, see `.port`). `verify_client` checks each client's
    certificate chain inside the TLS handshake; `acceptor` admits the node named by its hello, which
    must come within `hello_timeout` seconds of the first packet."""
    configuration = QuicConfiguration(is_client=False, alpn_protocols=[QUIC_ALPN], idle_timeout=idle_timeout)
    try:
        configuration.load_cert_chain(cert_path, key_path)
    except (OSError, ValueError) as e:
        raise ValueError(
            "cannot load the QUIC server certificate %s with key %s: %s" % (cert_path, key_path, e)
        ) from None
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    server = QuicServer(configuration, verify_client, acceptor, max_frame, hello_timeout)
    sock = _listen_socket(family, sockaddr)
    try:
        await loop.create_datagram_endpoint(lambda: server, sock=sock)
    except BaseException:
        sock.close()
        raise
    server.port = sock.getsockname()[1]
    log.info("QUIC hub listening on %s", address_text(sock.getsockname()))
    return server
