"""Minimal HTTP/1.1 over asyncio streams: the client ServiceBus calls edge apps with and the reading half
of its server (edgecore does not ship aiohttp). One request per connection, `Connection: close`."""

from __future__ import annotations

import asyncio

from kedge.edge.servicebus.codec import (
    MAX_HEAD,
    BadRequest,
    Headers,
    HTTPRequest,
    HTTPResponse,
    body_expected,
    content_length,
    is_chunked,
    parse_status_line,
    render_request,
    split_head,
)


class TooLarge(Exception):
    """A body over the limit; the text says how large it is or was going to be."""


class AppError(Exception):
    """The edge app cannot be reached or answered with something that is not HTTP/1.1."""


async def read_head(reader: asyncio.StreamReader, what: str) -> bytes:
    """Through the blank line; BadRequest when it is longer than MAX_HEAD, IncompleteReadError at EOF."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise BadRequest("%s head is longer than %d bytes" % (what, MAX_HEAD)) from None


async def read_body(
    reader: asyncio.StreamReader, header: Headers, limit: int, what: str, *, eof: bool
) -> bytes:
    """A body framed by Content-Length or chunked coding, or (`eof`) by the end of the stream.

    TooLarge before reading when the length is announced, as soon as it grows past `limit` otherwise.
    """
    if is_chunked(header, what):
        return await _read_chunked(reader, limit, what)
    length = content_length(header, what)
    if length is None:
        if not eof:
            return b""
        data = await reader.read(limit + 1)
        buf = bytearray(data)
        while data and len(buf) <= limit:
            data = await reader.read(limit + 1 - len(buf))
            buf += data
        if len(buf) > limit:
            raise TooLarge("%s body is larger than %d bytes" % (what, limit))
        return bytes(buf)
    if length > limit:
        raise TooLarge("%s body of %d bytes is larger than %d bytes" % (what, length, limit))
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as e:
        raise BadRequest("%s body ended after %d of %d bytes" % (what, len(e.partial), length)) from None


async def _read_chunked(reader: asyncio.StreamReader, limit: int, what: str) -> bytes:
    buf = bytearray()
    try:
        while True:
            line = (await reader.readuntil(b"\r\n"))[:-2]
            size_s = line.split(b";", 1)[0].strip()
            try:
                size = int(size_s, 16)
            except ValueError:
                raise BadRequest("%s: malformed chunk size %r" % (what, line[:40])) from None
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, ignored
                    pass
                return bytes(buf)
            if len(buf) + size > limit:
                raise TooLarge("%s body is larger than %d bytes" % (what, limit))
            buf += await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise BadRequest("%s: chunk not followed by CRLF" % what)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise BadRequest("%s: chunked body ended early or has an overlong line" % what) from None


async def fetch(host: str, port: int, req: HTTPRequest, *, timeout: float, max_body: int) -> HTTPResponse:
    """Call http://host:port<req.path>. AppError (unreachable, not HTTP), TooLarge, TimeoutError."""
    async with asyncio.timeout(timeout):
        try:
            reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
        except OSError as e:
            raise AppError("cannot connect to %s:%d: %s" % (host, port, e.strerror or e)) from None
        try:
            writer.write(render_request(req, "%s:%d" % (host, port)))
            await writer.drain()
            while True:
                head = await read_head(reader, "response")
                first, header = split_head(head, "response")
                status = parse_status_line(first)
                if status >= 200 or status == 101:
                    break  # 1xx interim answers (100 Continue) are skipped
            body = b""
            if body_expected(req.method, status):
                body = await read_body(reader, header, max_body, "response", eof=True)
            return HTTPResponse(status, header, body)
        except asyncio.IncompleteReadError:
            raise AppError("%s:%d closed the connection before a complete answer" % (host, port)) from None
        except BadRequest as e:
            raise AppError("%s:%d answered with malformed HTTP: %s" % (host, port, e)) from None
        except OSError as e:
            raise AppError("connection to %s:%d failed: %s" % (host, port, e.strerror or e)) from None
        finally:
            writer.close()
