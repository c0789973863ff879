"""The established-WebSocket half shared by kedge's WebSocket server and client: one asyncio.Protocol
object per connection that is also the `Link` the hub sees.

Why a bare Protocol with __slots__ and no task: the cloud holds >= 10,000 sessions and every byte per
session counts (reference/transport-measurements.md §1: aiohttp's per-connection objects and handler
task cost ~13 KB on top of TLS). Frames decode in `data_received`; sends are coalesced so all frames
queued in one event-loop turn leave in one `transport.write` (one TLS record batch, §2).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence

from kedge.model.codec import MessageDecodeError, decode_json, encode_json
from kedge.model.frames import decode_frame, encode_frame
from kedge.model.message import Message
from kedge.proto import websocket as ws
from kedge.transport.link import LinkHandler, Peer

log = logging.getLogger("kedge.transport.websocket")

HANDSHAKE = 0
OPEN = 1
CLOSING = 2  # we sent or answered a CLOSE (or failed the session); the handler has been told
CLOSED = 3  # the transport is gone


def format_address(peername: object) -> str:
    if isinstance(peername, tuple) and len(peername) >= 2:
        host, port = peername[0], peername[1]
        return "[%s]:%s" % (host, port) if ":" in str(host) else "%s:%s" % (host, port)
    return str(peername) if peername else "unknown"


class WsLink(asyncio.Protocol):
    """An open WebSocket carrying hub batches. Subclasses run the HTTP upgrade, then call `_open()`."""

    __slots__ = (
        "_close_reason",
        "_flush_pending",
        "_handler",
        "_loop",
        "_lost",
        "_mask",
        "_max_frame",
        "_native",
        "_out",
        "_out_size",
        "_parser",
        "_state",
        "_transport",
        "peer",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, max_frame: int, *, mask: bool) -> None:
        self._loop = loop
        self._max_frame = max_frame
        self._mask = mask  # client frames are masked (RFC 6455 §5.3)
        self._transport: asyncio.Transport | None = None
        self._handler: LinkHandler | None = None
        self._parser: ws.FrameParser | None = None
        self._native = False
        self._out: list[bytes] = []
        self._out_size = 0
        self._flush_pending = False
        self._state = HANDSHAKE
        self._close_reason = ""
        self._lost: asyncio.Future[None] | None = None  # made only when someone waits
        self.peer: Peer | None = None

    # --- Link -----------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._state != OPEN

    def send(self, messages: Sequence[Message], acks: Sequence[str] = ()) -> None:
        """Queue a batch (dropped once the link is closed: the hub resends what was not acked)."""
        if self._state != OPEN:
            return
        if self._native:
            if messages or acks:
                self._queue_data(ws.OP_BINARY, encode_frame(messages, acks))
        else:
            for m in messages:
                self._queue_data(ws.OP_TEXT, encode_json(m))

    def close(self, reason: str, code: int = ws.CLOSE_NORMAL) -> None:
        """Send CLOSE `code` with `reason`, flush and close; `on_close(reason)` follows on the next loop
        turn (never from inside this call)."""
        if self._state != OPEN:
            if self._state == HANDSHAKE and self._transport is not None:
                self._transport.close()
            return
        self._close_reason = reason
        self._shutdown(code, reason)
        self._loop.call_soon(self._notify_close, reason)

    def write_buffer_size(self) -> int:
        t = self._transport
        return self._out_size + (t.get_write_buffer_size() if t is not None and not t.is_closing() else 0)

    async def wait_closed(self) -> None:
        """Wait until the connection is gone (the TLS shutdown included)."""
        if self._state == CLOSED:
            return
        if self._lost is None:
            self._lost = self._loop.create_future()
        await asyncio.shield(self._lost)

    def abort(self) -> None:
        """Drop the connection now, without a closing handshake."""
        if self._transport is not None:
            self._transport.abort()

    # --- asyncio.Protocol -----------------------------------------------------------------------

    def connection_lost(self, exc: Exception | None) -> None:
        was_open = self._state == OPEN
        self._state = CLOSED
        self._parser = None  # a stale Link held by the hub keeps no buffers
        self._out.clear()
        self._out_size = 0
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        if was_open and not self._close_reason:
            self._close_reason = "connection lost: %s" % (exc or "closed without a close frame")
            log.info(
                "websocket session of node %s (%s): %s", self._node(), self._address(), self._close_reason
            )
        if self._close_reason:
            self._notify_close(self._close_reason)

    # --- internals ------------------------------------------------------------------------------

    def _node(self) -> str:
        return self.peer.node_id if self.peer is not None else "?"

    def _address(self) -> str:
        if self.peer is not None and self.peer.address:
            return self.peer.address
        t = self._transport
        return format_address(t.get_extra_info("peername")) if t is not None else "unknown"

    def _open(self, peer: Peer, handler: LinkHandler, native: bool, expect_masked: bool) -> bool:
        """Switch to the open state and bind the handler; False if the handler failed to bind."""
        self.peer = peer
        self._native = native
        self._parser = ws.FrameParser(expect_masked=expect_masked, max_message=self._max_frame)
        self._handler = handler
        self._state = OPEN
        try:
            handler.bind(self)
        except Exception:
            log.exception("link handler of node %s (%s) failed to bind", peer.node_id, peer.address)
            self.close("internal error: the link handler failed to bind", ws.CLOSE_INTERNAL_ERROR)
            return False
        return True

    def _notify_close(self, reason: str) -> None:
        h = self._handler
        if h is None:
            return
        self._handler = None
        try:
            h.on_close(reason)
        except Exception:
            log.exception("link handler of node %s failed in on_close", self._node())

    def _queue(self, frame: bytes) -> None:
        self._out.append(frame)
        self._out_size += len(frame)
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def _queue_data(self, opcode: int, payload: bytes) -> None:
        if len(payload) > self._max_frame:
            # The peer would close the session (1009) and a resend would fail the same way: the
            # caller must split the batch.
            raise ValueError(
                "frame of %d bytes exceeds the %d-byte limit; send smaller batches"
                % (len(payload), self._max_frame)
            )
        self._queue(ws.encode_frame(opcode, payload, mask=os.urandom(4) if self._mask else None))

    def _queue_control(self, opcode: int, payload: bytes) -> None:
        self._queue(ws.encode_frame(opcode, payload, mask=os.urandom(4) if self._mask else None))

    def _flush(self) -> None:
        self._flush_pending = False
        out = self._out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._out_size = 0
        t = self._transport
        if t is not None and not t.is_closing():
            t.write(data)

    def _shutdown(self, code: int, reason: str) -> None:
        """CLOSE frame out, everything flushed, transport closing; the state leaves OPEN."""
        self._state = CLOSING
        self._queue_control(ws.OP_CLOSE, ws.encode_close(code, reason))
        self._flush()
        if self._transport is not None:
            self._transport.close()

    def _fail(self, code: int, reason: str) -> None:
        """The peer broke the protocol or sent a bad payload: close this session only."""
        if self._state != OPEN:
            return
        log.warning(
            "closing websocket session of node %s (%s): %s (close code %d)",
            self._node(),
            self._address(),
            reason,
            code,
        )
        self._close_reason = reason
        self._shutdown(code, reason)
        self._notify_close(reason)

    def _on_frames(self, data: bytes | bytearray) -> None:
        parser = self._parser
        assert parser is not None
        try:
            frames = parser.feed(data)
        except ws.WSProtocolError as e:
            self._fail(e.close_code, "protocol error: %s" % e.reason)
            return
        for opcode, payload in frames:
            if self._state != OPEN:
                return
            if opcode == ws.OP_BINARY or opcode == ws.OP_TEXT:
                self._on_message(opcode, payload)
            elif opcode == ws.OP_PING:
                self._queue_control(ws.OP_PONG, payload)
            elif opcode == ws.OP_CLOSE:
                self._on_peer_close(payload)

    def _on_message(self, opcode: int, payload: bytes) -> None:
        if self._native:
            if opcode != ws.OP_BINARY:
                self._fail(
                    ws.CLOSE_UNSUPPORTED_DATA, "text frame on the native lane (binary frames expected)"
                )
                return
            try:
                messages, acks = decode_frame(payload)
            except MessageDecodeError as e:
                self._fail(ws.CLOSE_BAD_PAYLOAD, str(e))
                return
        else:
            # A KubeEdge edge ends every JSON message with "\n".
            body = memoryview(payload)[:-1] if payload.endswith(b"\n") else payload
            try:
                messages, acks = [decode_json(body)], []
            except MessageDecodeError as e:
                self._fail(ws.CLOSE_BAD_PAYLOAD, str(e))
                return
        handler = self._handler
        if handler is None:
            return
        try:
            handler.on_batch(messages, acks)
        except Exception:
            log.exception("link handler of node %s (%s) failed on a batch", self._node(), self._address())
            self.close("internal error: the link handler failed", ws.CLOSE_INTERNAL_ERROR)

    def _on_peer_close(self, payload: bytes) -> None:
        try:
            code, text = ws.parse_close(payload)
        except ws.WSProtocolError as e:
            self._fail(e.close_code, "protocol error: %s" % e.reason)
            return
        reason = "closed by peer: %d %s" % (code, text) if text else "closed by peer: %d" % code
        self._close_reason = reason
        # Echo the code (RFC 6455 §5.5.1); a CLOSE without a code is answered without one.
        self._state = CLOSING
        self._queue_control(ws.OP_CLOSE, b"" if code == ws.CLOSE_NO_STATUS else ws.encode_close(code))
        self._flush()
        if self._transport is not None:
            self._transport.close()
        self._notify_close(reason)
