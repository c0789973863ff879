"""The contract between a transport (WebSocket or QUIC, cloud or edge side) and the hub above it.

A transport owns sockets, TLS and framing. It hands the hub decoded batches and takes batches to send;
it never interprets messages. The hub owns sessions, delivery and authorization. One `Link` is one
established, authenticated connection:

    server: transport accepts TLS, reads the node identity, calls `acceptor(peer)`; the acceptor returns
            a `LinkHandler` or raises `Refused` (the transport answers with the reason and closes);
            then `handler.bind(link)` is called once before any `on_batch`.
    client: `connect_*()` returns a Link after the handshake, bound to the handler it was given.

Lanes: `LANE_JSON` is KubeEdge's (one JSON Message per text frame, no transport acks: a KubeEdge edge
acks with `response` messages); `LANE_NATIVE` carries `kedge.model.frames` batches with compact acks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kedge.model.message import Message

LANE_JSON = "json"
LANE_NATIVE = "native"
#: WebSocket subprotocol a kedge edge offers to get the native lane (a KubeEdge edge offers none).
NATIVE_SUBPROTOCOL = "kedge.msgpack.v1"
#: QUIC ALPN of the hub lane.
QUIC_ALPN = "kedge"


@dataclass(frozen=True, slots=True)
class Peer:
    """Who is on the other end, as the transport established it."""

    node_id: str  # from the `node_id` header / QUIC hello (the edge's claim)
    project_id: str
    lane: str  # LANE_JSON or LANE_NATIVE
    protocol: str  # "websocket" or "quic"
    address: str  # "host:port" of the remote end
    cert_cn: str = ""  # CN of the verified client certificate ("" on the client side)


class Refused(Exception):
    """The acceptor refuses a connection; `reason` goes back to the peer (HTTP status or QUIC close)."""

    def __init__(self, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Link(Protocol):
    peer: Peer

    def send(self, messages: Sequence[Message], acks: Sequence[str] = ()) -> None:
        """Queue a batch for the wire, without blocking. Native lane: one frame per call (QUIC may
        split by stream); JSON lane: one text frame per message, acks ignored (KubeEdge has none).
        Frames queued in one event-loop turn leave in one write (one TLS record batch)."""
        ...

    def close(self, reason: str) -> None:
        """Close the connection (idempotent); `on_close(reason)` follows once."""
        ...

    @property
    def closed(self) -> bool: ...

    def write_buffer_size(self) -> int:
        """Bytes queued but not yet handed to the kernel (backpressure)."""
        ...


class LinkHandler(Protocol):
    def bind(self, link: Link) -> None:
        """Called once, before any batch, with the established link."""
        ...

    def on_batch(self, messages: list[Message], acks: list[str]) -> None:
        """A decoded frame (JSON lane: one message, no acks). Runs on the event loop; must not block."""
        ...

    def on_close(self, reason: str) -> None:
        """The link is gone (peer closed, protocol error, keepalive, `close()`); called exactly once."""
        ...


#: Server-side admission: called with the peer once TLS and the upgrade/hello are done.
Acceptor = Callable[[Peer], LinkHandler]
