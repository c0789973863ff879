"""`/metrics` (Prometheus text format, from prometheus_client), `/healthz` and `/readyz` over plain HTTP on
asyncio streams, for cloudcore and edgecore alike (edgecore does not load aiohttp: footprint).

Metrics are read from the components' own counters when scraped (collectors), so the hot paths pay
nothing for them. Each request is one GET on its own connection; anything else gets a short error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

MAX_HEAD = 8192
READ_TIMEOUT = 5.0

#: Returns None when ready, else why not (the body of a 503).
Readiness = Callable[[], str | None]


def parse_address(address: str, what: str = "monitor server address") -> tuple[str, int]:
    """`host:port` → (host, port); ValueError naming the address and the problem."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("%s %r must be host:port with a port number 0-65535" % (what, address))
    return host.strip("[]") or "127.0.0.1", int(port)


class StatusServer:
    def __init__(self, address: str, registry: CollectorRegistry, ready: Readiness) -> None:
        self.host, self.port = parse_address(address)
        self.registry = registry
        self.ready = ready
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen; returns the bound port (the address may ask for 0)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics and health on http://%s:%d/metrics, /healthz, /readyz", self.host, self.port)
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                return
            status, ctype, body = self.answer(head[:MAX_HEAD])
            length = len(body)
            if head.startswith(b"HEAD "):
                body = b""
            writer.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                % (status, _REASONS[status], ctype.encode(), length)
                + body
            )
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def answer(self, head: bytes) -> tuple[int, str, bytes]:
        """(status, content type, body) for a request head."""
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return 400, "text/plain", b"malformed request line\n"
        method, target = parts[0], parts[1].split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"only GET is served here\n"
        if target == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if target in ("/healthz", "/livez"):
            return 200, "text/plain", b"ok\n"
        if target == "/readyz":
            why = self.ready()
            if why is None:
                return 200, "text/plain", b"ok\n"
            return 503, "text/plain", why.encode() + b"\n"
        return 404, "text/plain", b"not found: /metrics, /healthz and /readyz are served here\n"


_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    503: b"Service Unavailable",
}
