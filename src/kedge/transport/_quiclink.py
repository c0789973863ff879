"""One kedge `Link` over one aioquic connection, shared by the cloud server and the edge client.

The protocol object owns the stream layout of `kedge.proto.framing` (control, priority, bulk), one
`StreamDecoder` per stream, the routing of outgoing batches to streams, and the transmit schedule: sends
queued while a datagram is being handled leave with that datagram's answer; others schedule one
`transmit()` per event-loop turn, so a burst of sends costs one pass over aioquic's packet builder.
Sides differ only in what the control stream carries (`_on_control`) and in what data before admission
means (`_on_early_data`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aioquic import tls
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic import events
from aioquic.quic.connection import QuicConnection
from aioquic.quic.packet import QuicErrorCode
from aioquic.quic.stream import QuicStreamSender

from kedge.model.codec import MessageDecodeError
from kedge.model.frames import decode_frame, encode_frame
from kedge.model.message import Message
from kedge.proto import framing
from kedge.proto.framing import FramingError, StreamDecoder
from kedge.transport.link import LinkHandler, Peer

log = logging.getLogger("kedge.transport.quic")

# write_buffer_size reads aioquic's per-stream send buffer bounds (private, aioquic 1.7).
if not {"_buffer_start", "_buffer_stop"} <= set(vars(QuicStreamSender(0, True))):
    raise ImportError("aioquic's QuicStreamSender lacks _buffer_start/_buffer_stop (kedge reads them)")

#: Longest reason phrase put in a CONNECTION_CLOSE (it must fit one packet with the frame header).
MAX_REASON = 256


class QuicConnectionClosed(ConnectionError):
    """The QUIC connection ended before the link was up (TLS refusal, peer close, idle timeout)."""

    def __init__(self, message: str, *, error_code: int, frame_type: int | None, reason_phrase: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.frame_type = frame_type
        self.reason_phrase = reason_phrase

    @property
    def tls_alert(self) -> str | None:
        """Name of the TLS alert that ended the handshake ('bad_certificate', ...), if one did."""
        return _tls_alert(self.error_code, self.frame_type)


def _tls_alert(error_code: int, frame_type: int | None) -> str | None:
    base = QuicErrorCode.CRYPTO_ERROR
    if frame_type is None or not base <= error_code < base + 0x100:
        return None
    try:
        return tls.AlertDescription(error_code - base).name
    except ValueError:
        return "alert %d" % (error_code - base)


def describe_termination(event: events.ConnectionTerminated) -> str:
    """A reason for on_close / errors from how aioquic says the connection ended."""
    code, phrase = event.error_code, event.reason_phrase
    if event.frame_type is None:  # an application close: a kedge peer's own code and reason
        if code == framing.CLOSE_NORMAL:
            return "closed by peer: %s" % (phrase or "no reason given")
        if code == framing.CLOSE_REFUSED:
            return "refused by peer: %s" % phrase
        if code == framing.CLOSE_PROTOCOL:
            return "peer reports a protocol error: %s" % phrase
        return "closed by peer with application error %d: %s" % (code, phrase)
    alert = _tls_alert(code, event.frame_type)
    if alert is not None:
        return "TLS handshake failed, alert %s (CRYPTO_ERROR 0x%x): %s" % (alert, code, phrase)
    if phrase == "Idle timeout":
        return "idle timeout"
    return "QUIC transport error 0x%x: %s" % (code, phrase or "no reason given")


def address_text(addr: tuple | None) -> str:
    if not addr:
        return "?"
    host, port = addr[0], addr[1]
    if host.startswith("::ffff:"):
        host = host[7:]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


class QuicLink:
    """The `kedge.transport.link.Link` of one QUIC connection."""

    __slots__ = ("_proto", "peer")

    def __init__(self, proto: LinkProtocol, peer: Peer) -> None:
        self._proto = proto
        self.peer = peer

    def send(self, messages: Sequence[Message], acks: Sequence[str] = ()) -> None:
        self._proto.send_batch(messages, acks)

    def close(self, reason: str) -> None:
        self._proto.close_link(reason)

    @property
    def closed(self) -> bool:
        return self._proto.link_closed

    def write_buffer_size(self) -> int:
        """Bytes written to the streams and not yet acknowledged by the peer (QUIC keeps them until
        then, and a stalled peer makes them grow)."""
        return self._proto.unacked_bytes()

    def stream_for(self, message: Message) -> int:
        """The stream id `send` puts this message on (acks: `framing.PRIORITY_STREAM`)."""
        return framing.stream_for(message, self._proto.bulk_count)

    def __repr__(self) -> str:
        return "<QuicLink %s %s>" % (self.peer.node_id, self.peer.address)


class LinkProtocol(QuicConnectionProtocol):
    """Shared mechanics of both sides; a subclass supplies `_on_control` and `_on_early_data`."""

    def __init__(self, quic: QuicConnection, *, max_frame: int) -> None:
        super().__init__(quic)
        self.max_frame = max_frame
        self.bulk_count = 0
        self.link: QuicLink | None = None
        self.handler: LinkHandler | None = None
        self.close_reason: str | None = None
        self.termination: events.ConnectionTerminated | None = None
        self._bound = False
        self._decoders: dict[int, StreamDecoder] = {}
        self._in_receive = False

    # -- what the subclasses decide ---------------------------------------------------------------

    @property
    def label(self) -> str:
        """Who is on the other end, for logs."""
        raise NotImplementedError

    def _stream_allowed(self, stream_id: int) -> bool:
        raise NotImplementedError

    def _on_control(self, body: bytes) -> None:
        raise NotImplementedError

    def _on_early_data(self, stream_id: int, messages: list[Message], acks: list[str]) -> None:
        raise NotImplementedError

    def _on_terminated(self, event: events.ConnectionTerminated) -> None:
        """The connection is gone for good (after aioquic's closing or draining period)."""

    # -- sending -------------------------------------------------------------------------------------

    @property
    def link_closed(self) -> bool:
        return self.close_reason is not None

    def send_batch(self, messages: Sequence[Message], acks: Sequence[str]) -> None:
        if self.close_reason is not None:
            return
        quic = self._quic
        priority = framing.PRIORITY_STREAM
        n = self.bulk_count
        if not messages:
            if acks:
                quic.send_stream_data(priority, framing.encode(encode_frame((), acks)))
        else:
            first = framing.stream_for(messages[0], n)
            groups: dict[int, list[Message]] | None = None
            for i in range(1, len(messages)):
                sid = framing.stream_for(messages[i], n)
                if groups is None:
                    if sid == first:
                        continue
                    groups = {first: list(messages[:i])}
                groups.setdefault(sid, []).append(messages[i])
            if groups is None:  # the common case: every message on one stream
                if acks and first != priority:
                    quic.send_stream_data(priority, framing.encode(encode_frame((), acks)))
                    acks = ()
                quic.send_stream_data(first, framing.encode(encode_frame(messages, acks)))
            else:
                if acks and priority not in groups:
                    groups[priority] = []
                for sid, group in groups.items():
                    frame = encode_frame(group, acks if sid == priority else ())
                    quic.send_stream_data(sid, framing.encode(frame))
        if not self._in_receive:  # otherwise the datagram being handled transmits right after
            self._transmit_soon()

    def send_control(self, body: bytes) -> None:
        self._quic.send_stream_data(framing.CONTROL_STREAM, framing.encode(body))
        if not self._in_receive:
            self._transmit_soon()

    def unacked_bytes(self) -> int:
        total = 0
        streams = self._quic._streams
        for sid in (
            framing.CONTROL_STREAM,
            framing.PRIORITY_STREAM,
            *framing.bulk_stream_ids(self.bulk_count),
        ):
            stream = streams.get(sid)
            if stream is not None:
                total += stream.sender._buffer_stop - stream.sender._buffer_start
        return total

    # -- closing -------------------------------------------------------------------------------------

    def close_link(self, reason: str, code: int = framing.CLOSE_NORMAL) -> None:
        """Closes the connection (idempotent); on_close(reason) follows at once for a bound handler."""
        if self.close_reason is not None:
            return
        self.transmit()  # what was sent before close() leaves first: CONNECTION_CLOSE drops unsent data
        self._quic.close(error_code=code, reason_phrase=reason.encode()[:MAX_REASON].decode(errors="ignore"))
        self.transmit()
        self._finish(reason)

    def fail(self, reason: str, code: int = framing.CLOSE_PROTOCOL) -> None:
        """Closes this connection only, after a protocol error of the peer."""
        if self.close_reason is None:
            log.warning("QUIC link %s: closing: %s", self.label, reason)
        self.close_link(reason, code)

    def _finish(self, reason: str) -> None:
        if self.close_reason is not None:
            return
        self.close_reason = reason
        if self._bound and self.handler is not None:
            try:
                self.handler.on_close(reason)
            except Exception:
                log.exception("QUIC link %s: on_close failed", self.label)

    def stop_timer(self) -> None:
        """No more timer callbacks (the UDP transport is going away)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transmit_task is not None:
            self._transmit_task.cancel()
            self._transmit_task = None

    # -- receiving -----------------------------------------------------------------------------------

    def transmit(self) -> None:
        if self._transport is None or self._transport.is_closing():
            return  # closed under us (client close, server shutdown): nothing can leave any more
        super().transmit()

    def datagram_received(self, data: bytes | str, addr: tuple) -> None:
        self._in_receive = True
        try:
            super().datagram_received(data, addr)
        finally:
            self._in_receive = False

    def bind(self, link: QuicLink, handler: LinkHandler) -> None:
        self.link = link
        self.handler = handler
        self._bound = True
        try:
            handler.bind(link)
        except Exception:
            log.exception("QUIC link %s: bind failed", self.label)
            self.close_link("internal error binding the link", framing.CLOSE_INTERNAL)

    def quic_event_received(self, event: events.QuicEvent) -> None:
        # Replaces aioquic's stream reader/writer plumbing: frames are decoded straight from the event.
        if isinstance(event, events.StreamDataReceived):
            if self.close_reason is None:
                self._on_stream_data(event.stream_id, event.data, event.end_stream)
        elif isinstance(event, events.ConnectionTerminated):
            self.termination = event
            self._finish(describe_termination(event))
            self._on_terminated(event)
        elif isinstance(event, events.StreamReset) and self.close_reason is None:
            self.fail("peer reset stream %d (error %d)" % (event.stream_id, event.error_code))

    def _on_stream_data(self, sid: int, data: bytes, end_stream: bool) -> None:
        decoder = self._decoders.get(sid)
        if decoder is None:
            if not self._stream_allowed(sid):
                self.fail("data on unexpected stream %d" % sid)
                return
            decoder = self._decoders[sid] = StreamDecoder(self.max_frame)
        try:
            bodies = decoder.feed(data)
        except FramingError as e:
            self.fail("stream %d: %s" % (sid, e.reason))
            return
        for body in bodies:
            if self.close_reason is not None:
                return
            if sid == framing.CONTROL_STREAM:
                self._on_control(body)
            elif body:  # an empty body only opens the stream
                self._on_frame(sid, body)
        if end_stream and decoder.pending and self.close_reason is None:
            self.fail("stream %d ended inside a frame (%d bytes held)" % (sid, decoder.pending))

    def _on_frame(self, sid: int, body: bytes) -> None:
        try:
            messages, acks = decode_frame(body)
        except MessageDecodeError as e:
            self.fail("stream %d: %s" % (sid, e))
            return
        if not self._bound:
            self._on_early_data(sid, messages, acks)
            return
        try:
            self.handler.on_batch(messages, acks)  # type: ignore[union-attr]
        except Exception:
            log.exception("QUIC link %s: on_batch failed", self.label)
            self.close_link("internal error handling a batch", framing.CLOSE_INTERNAL)
