"""WebSocket (RFC 6455), sans-IO: the HTTP upgrade handshake and the frame codec, for both sides.

Written in-house rather than taken from aiohttp or websockets: the edge must not import aiohttp (+15.6 MB
resident, reference/edge-measurements.md), and the cloud must hold >= 10,000 mutual-TLS sessions at
<= 42 KB each, while aiohttp's request/response/task per connection costs ~13 KB on top of TLS's ~36 KB
(reference/transport-measurements.md §1). This module is the codec both transports share; it does no
I/O, so the socket code (kedge.transport.ws_server / ws_client) stays a thin asyncio.Protocol.

Scope: what kedge and KubeEdge speak. No extensions (permessage-deflate is refused by not offering
it), subprotocol selection, masking, fragmentation, control frames. TEXT payloads are not checked for
UTF-8 here: the JSON decoder above rejects invalid text anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_NO_STATUS = 1005  # never sent: "the close frame had no code"
CLOSE_BAD_PAYLOAD = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011

#: Largest upgrade request or response head accepted (bytes).
MAX_HANDSHAKE = 16 * 1024
#: Largest control-frame payload (RFC 6455 §5.5).
MAX_CONTROL_PAYLOAD = 125

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_DATA_OPCODES = (OP_TEXT, OP_BINARY)
_CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)
_pack_16 = struct.Struct("!BBH").pack
_pack_64 = struct.Struct("!BBQ").pack


class HandshakeError(Exception):
    """A rejected upgrade. Server side: the HTTP status to answer with. Client side: the server's
    status (0 when the response was not valid HTTP)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__("%d %s" % (status, reason))
        self.status = status
        self.reason = reason


class WSProtocolError(Exception):
    """The peer broke RFC 6455 (or a limit); `close_code` is what to send in the CLOSE frame."""

    def __init__(self, close_code: int, reason: str) -> None:
        super().__init__("%d %s" % (close_code, reason))
        self.close_code = close_code
        self.reason = reason


class Headers:
    """HTTP headers in arrival order; case-insensitive lookup where the first value of a repeated
    header wins (a KubeEdge edge repeats `Connectionuse` k times on its k-th dial)."""

    __slots__ = ("_first", "_items")

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._items = list(items)
        first: dict[str, str] = {}
        for name, value in self._items:
            first.setdefault(name.lower(), value)
        self._first = first

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for n, v in self._items if n.lower() == key]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return "Headers(%r)" % (self._items,)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: Headers
    subprotocols: list[str]
    key: str  # Sec-WebSocket-Key as sent


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    reason: str
    headers: Headers
    subprotocol: str | None  # selected by a 101
    body: bytes  # of a non-101 with Content-Length (at most MAX_HANDSHAKE bytes)


# --- handshake -------------------------------------------------------------------------------------


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def make_key(nonce: bytes) -> str:
    """A Sec-WebSocket-Key from 16 random bytes (the caller draws them: this module does no I/O)."""
    if len(nonce) != 16:
        raise ValueError("a WebSocket key needs 16 random bytes, got %d" % len(nonce))
    return base64.b64encode(nonce).decode("ascii")


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _tokens(values: list[str]) -> list[str]:
    """Comma-separated header values, stripped, empty items dropped (case kept)."""
    return [t for v in values for t in (p.strip() for p in v.split(",")) if t]


def _split_head(buf: bytes | bytearray, status: int, what: str) -> tuple[str, Headers, int] | None:
    """(start line, headers, end offset) of an HTTP head, None until it is complete. Errors raise
    HandshakeError(status, ...)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > MAX_HANDSHAKE:
            raise HandshakeError(
                431 if status == 400 else status, "%s head exceeds %d bytes" % (what, MAX_HANDSHAKE)
            )
        return None
    if end + 4 > MAX_HANDSHAKE:
        raise HandshakeError(
            431 if status == 400 else status, "%s head exceeds %d bytes" % (what, MAX_HANDSHAKE)
        )
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    items: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name or "\t" in name:
            raise HandshakeError(status, "malformed header line %s in %s" % (_short(line), what))
        items.append((name, value.strip(" \t")))
    return lines[0], Headers(items), end + 4


def _check_request_line(line: str) -> tuple[str, str]:
    parts = line.split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2].startswith("HTTP/"):
        raise HandshakeError(400, "malformed request line %s" % _short(line))
    method, path, version = parts
    if version != "HTTP/1.1":
        raise HandshakeError(400, "HTTP version %s: a WebSocket upgrade needs HTTP/1.1" % _short(version))
    if method != "GET":
        raise HandshakeError(400, "method %s: a WebSocket upgrade is a GET" % _short(method))
    return method, path


def parse_request(buf: bytes | bytearray) -> tuple[Request, int] | None:
    """The upgrade request at the start of `buf` and the bytes it took; None while incomplete.
    Raises HandshakeError (400/426/431) naming what is wrong."""
    first_eol = buf.find(b"\r\n")
    if first_eol >= 0:  # reject a non-HTTP peer on its first line, without waiting for 16 KiB
        _check_request_line(bytes(buf[:first_eol]).decode("latin-1"))
    head = _split_head(buf, 400, "request")
    if head is None:
        return None
    line, headers, used = head
    method, path = _check_request_line(line)
    if "websocket" not in (t.lower() for t in _tokens(headers.get_all("Upgrade"))):
        raise HandshakeError(426, "missing or wrong Upgrade header: expected 'websocket'")
    if "upgrade" not in (t.lower() for t in _tokens(headers.get_all("Connection"))):
        raise HandshakeError(400, "Connection header does not contain 'upgrade'")
    version = headers.get("Sec-WebSocket-Version")
    if version != "13":
        raise HandshakeError(
            426, "Sec-WebSocket-Version %s not supported: expected 13" % _short(str(version))
        )
    key = headers.get("Sec-WebSocket-Key")
    if key is None:
        raise HandshakeError(400, "missing Sec-WebSocket-Key header")
    try:
        raw_key = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raw_key = b""
    if len(raw_key) != 16:
        raise HandshakeError(400, "invalid Sec-WebSocket-Key %s: expected 16 bytes in base64" % _short(key))
    if "Transfer-Encoding" in headers or headers.get("Content-Length", "0") != "0":
        raise HandshakeError(
            400, "an upgrade request must not have a body (Content-Length/Transfer-Encoding)"
        )
    subprotocols = _tokens(headers.get_all("Sec-WebSocket-Protocol"))
    return Request(method, path, headers, subprotocols, key), used


def accept_response(request: Request, subprotocol: str | None) -> bytes:
    """The 101 answer to `request`, selecting `subprotocol` (one the client offered) or none."""
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Accept: " + accept_key(request.key),
    ]
    if subprotocol is not None:
        if subprotocol not in request.subprotocols:
            raise ValueError("subprotocol %r was not offered by the client" % subprotocol)
        lines.append("Sec-WebSocket-Protocol: " + subprotocol)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def reject_response(status: int, reason: str) -> bytes:
    """A non-101 answer closing the connection, with `reason` as a text/plain body."""
    body = reason.encode("utf-8", "backslashreplace")
    head = [
        "HTTP/1.1 %d %s" % (status, _phrase(status)),
        "Content-Type: text/plain; charset=utf-8",
        "Content-Length: %d" % len(body),
        "Connection: close",
    ]
    if status == 426:  # RFC 6455 §4.4: tell the client which version we speak
        head.append("Sec-WebSocket-Version: 13")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _header_line(name: str, value: str) -> str:
    if any(c in name or c in value for c in "\r\n\0") or ":" in name or not name:
        raise ValueError("invalid HTTP header %r: %r" % (name, value))
    return "%s: %s\r\n" % (name, value)


def client_request(
    host: str, path: str, headers: Sequence[tuple[str, str]], subprotocols: Sequence[str], key: str
) -> bytes:
    """The upgrade request a client sends (`host` is the Host header value, e.g. "10.0.0.1:10000")."""
    if not path.startswith("/") or any(c in path for c in " \r\n\0"):
        raise ValueError("invalid request path %r" % path)
    out = ["GET %s HTTP/1.1\r\n" % path, _header_line("Host", host), "Connection: Upgrade\r\n"]
    out += [_header_line(n, v) for n, v in headers]
    out.append(_header_line("Sec-WebSocket-Key", key))
    if subprotocols:
        out.append(_header_line("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
    out.append("Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\r\n")
    return "".join(out).encode("latin-1")


def parse_response(
    buf: bytes | bytearray, key: str, subprotocols: Sequence[str] | None = None
) -> tuple[Response, int] | None:
    """The server's answer at the start of `buf` and the bytes it took; None while incomplete. A 101
    is validated (Upgrade, Connection, Sec-WebSocket-Accept, no extension, a subprotocol among
    `subprotocols` when given); other statuses come back as they are, with their body."""
    head = _split_head(buf, 0, "response")
    if head is None:
        return None
    line, headers, used = head
    parts = line.split(" ", 2)
    if (
        len(parts) < 2
        or not parts[0].startswith("HTTP/1.")
        or not (parts[1].isascii() and parts[1].isdigit())
    ):
        raise HandshakeError(0, "malformed status line %s" % _short(line))
    status = int(parts[1])
    reason = parts[2] if len(parts) == 3 else ""
    if status != 101:
        length_text = headers.get("Content-Length", "0") or "0"
        if not (length_text.isascii() and length_text.isdigit()):
            raise HandshakeError(status, "malformed Content-Length %s" % _short(length_text))
        length = min(int(length_text), MAX_HANDSHAKE)
        if len(buf) < used + length:
            return None
        body = bytes(buf[used : used + length])
        return Response(status, reason, headers, None, body), used + length
    if "websocket" not in (t.lower() for t in _tokens(headers.get_all("Upgrade"))):
        raise HandshakeError(101, "101 without 'Upgrade: websocket'")
    if "upgrade" not in (t.lower() for t in _tokens(headers.get_all("Connection"))):
        raise HandshakeError(101, "101 whose Connection header does not contain 'upgrade'")
    if headers.get("Sec-WebSocket-Accept") != accept_key(key):
        raise HandshakeError(101, "101 with a wrong or missing Sec-WebSocket-Accept")
    if "Sec-WebSocket-Extensions" in headers:
        raise HandshakeError(101, "101 selects an extension that was not offered")
    selected = headers.get("Sec-WebSocket-Protocol")
    if selected is not None and subprotocols is not None and selected not in subprotocols:
        raise HandshakeError(101, "101 selects subprotocol %s that was not offered" % _short(selected))
    return Response(101, reason, headers, selected, b""), used


# --- frames ----------------------------------------------------------------------------------------


def _xor(data: bytes | bytearray | memoryview, mask: bytes) -> bytes:
    """`data` masked with the 4-byte `mask`: one big-int XOR (C speed) instead of a per-byte loop."""
    n = len(data)
    if n == 0:
        return b""
    key = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def encode_frame(
    opcode: int, payload: bytes | bytearray | memoryview, *, mask: bytes | None = None, fin: bool = True
) -> bytes:
    """One frame. Clients pass a fresh 4-byte `mask`; servers pass none."""
    n = len(payload)
    if opcode in _CONTROL_OPCODES:
        if n > MAX_CONTROL_PAYLOAD or not fin:
            raise ValueError(
                "control frame 0x%x: payload of %d bytes (max 125) and fin required" % (opcode, n)
            )
    elif opcode not in _DATA_OPCODES and opcode != OP_CONTINUATION:
        raise ValueError("unknown opcode 0x%x" % opcode)
    b0 = opcode | 0x80 if fin else opcode
    mbit = 0
    if mask is not None:
        if len(mask) != 4:
            raise ValueError("a mask is 4 bytes, got %d" % len(mask))
        mbit = 0x80
    if n < 126:
        head = bytes((b0, mbit | n))
    elif n < 65536:
        head = _pack_16(b0, mbit | 126, n)
    else:
        head = _pack_64(b0, mbit | 127, n)
    if mask is None:
        return head + payload
    return head + mask + _xor(payload, mask)


def encode_close(code: int, reason: str = "") -> bytes:
    """The payload of a CLOSE frame; the reason is cut to fit 125 bytes (at a character boundary)."""
    raw = reason.encode("utf-8", "backslashreplace")[: MAX_CONTROL_PAYLOAD - 2]
    return struct.pack("!H", code) + raw.decode("utf-8", "ignore").encode("utf-8")


def _valid_close_code(code: int) -> bool:
    return (1000 <= code <= 1014 and code not in (1004, 1005, 1006)) or 3000 <= code <= 4999


def parse_close(payload: bytes | bytearray | memoryview) -> tuple[int, str]:
    """(code, reason) of a CLOSE payload; (1005, "") when it carries no code."""
    if len(payload) == 0:
        return CLOSE_NO_STATUS, ""
    if len(payload) == 1:
        raise WSProtocolError(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if not _valid_close_code(code):
        raise WSProtocolError(CLOSE_PROTOCOL_ERROR, "close frame with invalid code %d" % code)
    try:
        reason = bytes(payload[2:]).decode("utf-8")
    except UnicodeDecodeError:
        raise WSProtocolError(CLOSE_BAD_PAYLOAD, "close frame reason is not UTF-8") from None
    return code, reason


class FrameParser:
    """Incremental frame parser: `feed()` bytes as they arrive, get whole messages back.

    Data messages come back reassembled (opcode TEXT/BINARY), control frames one by one. A violation
    raises WSProtocolError; the parser is then unusable (the session must close). Limits are checked
    from the frame header, so an oversized message is refused before its payload is buffered."""

    __slots__ = ("_buf", "_frag_op", "_frag_parts", "_frag_size", "_masked", "_max")

    def __init__(self, *, expect_masked: bool, max_message: int) -> None:
        self._masked = expect_masked
        self._max = max_message
        self._buf = bytearray()
        self._frag_op = 0  # opcode of the fragmented message in progress, 0 = none
        self._frag_parts: list[bytes] | None = None
        self._frag_size = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, bytes]]:
        buf = self._buf
        if buf:
            buf += data
            data = buf
        out: list[tuple[int, bytes]] = []
        end = len(data)
        pos = 0
        expect_masked = self._masked
        while end - pos >= 2:
            b0 = data[pos]
            b1 = data[pos + 1]
            if b0 & 0x70:
                raise WSProtocolError(CLOSE_PROTOCOL_ERROR, "reserved bits set (no extension was negotiated)")
            op = b0 & 0x0F
            fin = b0 & 0x80
            length = b1 & 0x7F
            masked = b1 & 0x80
            if masked:
                if not expect_masked:
                    raise WSProtocolError(CLOSE_PROTOCOL_ERROR, "masked frame from the server")
                head = 6
            elif expect_masked:
                raise WSProtocolError(CLOSE_PROTOCOL_ERROR, "unmasked frame from a client")
            else:
                head = 2
            if op >= 8:
                if op > OP_PONG:
                    raise WSProtocolError(CLOSE_PROTOCOL_ERROR, "unknown opcode 0x%x" % op)
                if not fin:
                    raise WSProtocolError(CLOSE_PROTOCOL_ERROR, "fragmented control frame")
                if length > MAX_CONTROL_PAYLOAD:
                    raise WSProtocolError(CLOSE_PROTOCOL_ERROR, "control frame payload over 125 bytes")
            elif op > OP_BINARY:
                raise WSProtocolError(CLOSE_PROTOCOL_ERROR, "unknown opcode 0x%x" % op)
            if length == 126:
                if end - pos < 4:
                    break
                length = (data[pos + 2] << 8) | data[pos + 3]
                head += 2
            elif length == 127:
                if end - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                if length >> 63:
                    raise WSProtocolError(CLOSE_PROTOCOL_ERROR, "64-bit payload length with the top bit set")
                head += 8
            if op == OP_CONTINUATION:
                if not self._frag_op:
                    raise WSProtocolError(
                        CLOSE_PROTOCOL_ERROR, "continuation frame without a message to continue"
                    )
                if self._frag_size + length > self._max:
                    raise WSProtocolError(CLOSE_TOO_BIG, "message over %d bytes" % self._max)
            elif op < 8:
                if self._frag_op:
                    raise WSProtocolError(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented message")
                if length > self._max:
                    raise WSProtocolError(CLOSE_TOO_BIG, "message of %d bytes, over %d" % (length, self._max))
            stop = pos + head + length
            if stop > end:
                break
            if masked:
                start = pos + head
                payload = _xor(data[start:stop], bytes(data[start - 4 : start]))
            else:
                payload = bytes(data[pos + head : stop])
            pos = stop
            if op == OP_CONTINUATION:
                parts = self._frag_parts
                assert parts is not None
                parts.append(payload)
                self._frag_size += length
                if fin:
                    out.append((self._frag_op, b"".join(parts)))
                    self._frag_op = 0
                    self._frag_parts = None
                    self._frag_size = 0
            elif fin or op >= 8:
                out.append((op, payload))
            else:
                self._frag_op = op
                self._frag_parts = [payload]
                self._frag_size = length
        if data is buf:
            del buf[:pos]
        elif pos < end:
            buf += data[pos:]
        return out
