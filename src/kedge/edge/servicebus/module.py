"""ServiceBus, the beehive module (KubeEdge's `servicebus`): HTTP between the cloud Router and edge apps.

Cloud → edge app (contract 3): a `router_servicebus` message whose operation is an HTTP method is an
HTTP call to http://127.0.0.1:<port><path>; the answer (or 502 app down, 504 timeout, 413 body over
5 MiB, 400 bad request) goes back as new_response through EdgeHub. Calls run concurrently, one task each.
`start`/`stop` (contract 4) add or remove a URL in the persisted allow-list. Messages from other
sources (EventBus shares the bus group) are ignored.

Edge app → cloud (contract 5): an app POSTs {"method", "targetURL", "payload"} to the server (default
127.0.0.1:9060); an allowed URL goes up through EdgeHub as a sync `request` and the Router's answer is
returned as the HTTP response (403 not allowed, 503 no EdgeHub, 504 no answer in time, 413 over 12 MiB).
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from pathlib import Path
from typing import Any

from kedge._core.errors import UnknownDestination
from kedge.aio.tasks import cancel_and_wait
from kedge.beehive import Context, Module, RestartPolicy, RestartType
from kedge.config.edgecore import ServiceBus as ServiceBusConfig
from kedge.edge.servicebus.allowlist import AllowList
from kedge.edge.servicebus.codec import (
    MAX_REQUEST_BODY,
    MAX_RESPONSE_BODY,
    METHODS,
    BadRequest,
    HTTPResponse,
    content_length,
    get_header,
    parse_app_request,
    parse_cloud_request,
    parse_cloud_response,
    parse_request_line,
    parse_target_url,
    render_response,
    response_content,
    split_head,
    text_response,
)
from kedge.edge.servicebus.wire import AppError, TooLarge, fetch, read_body, read_head
from kedge.model import constants as c
from kedge.model.message import Message, new_message, new_response

log = logging.getLogger(__name__)

ROUTER_SOURCE = "router_servicebus"
REQUEST = "request"
RESOURCE = "servicebus"
APP_HOST = "127.0.0.1"
#: How long a client of the server may take to send its request.
READ_TIMEOUT = 30.0
#: How long a refused request's unread body is drained before the connection is closed.
LINGER = 2.0


class ServiceBus(Module):
    name = c.SERVICEBUS
    group = c.BUS_GROUP
    #: the port may be taken for a while (an old edgecore still stopping): retry rather than stop edgecore
    restart_policy = RestartPolicy(type=RestartType.ON_FAILURE, interval=1.0, max_interval=30.0)

    def __init__(
        self,
        db_path: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 9060,
        timeout: float = 60.0,
        ssl: _ssl.SSLContext | None = None,
        app_host: str = APP_HOST,
    ) -> None:
        """`port` 0 binds a free one (see `port` once `ready`); `timeout` bounds app calls and answers."""
        self.db_path = db_path
        self.host = host
        self.port = port
        self.timeout = timeout
        self.ssl = ssl
        self.app_host = app_host
        self.allowlist: AllowList | None = None
        self.ready = asyncio.Event()
        self._ctx: Context | None = None
        self._calls: set[asyncio.Task] = set()  # cloud requests being answered
        self._clients: set[asyncio.Task] = set()  # edge-app connections being served

    async def start(self, ctx: Context) -> None:
        self._ctx = ctx
        self.allowlist = AllowList(self.db_path)
        server = None
        try:
            server = await asyncio.start_server(
                self._serve, self.host, self.port, ssl=self.ssl, limit=64 * 1024, reuse_address=True
            )
            self.port = server.sockets[0].getsockname()[1]
            log.info("servicebus: serving edge apps on %s:%d", self.host, self.port)
            self.ready.set()
            while True:
                msg = await ctx.receive(self.name)
                if msg.route.source == ROUTER_SOURCE:
                    self.handle(msg)
        finally:
            self.ready.clear()
            if server is not None:
                server.close()
            await cancel_and_wait(self._calls | self._clients, timeout=5.0, title="servicebus")
            if server is not None:
                await server.wait_closed()
            self.allowlist.close()
            self.allowlist = None

    # -- cloud → edge ---------------------------------------------------------------------------

    def handle(self, msg: Message) -> None:
        op = msg.route.operation
        if op in (c.START, c.STOP):
            self._allow(msg)
        elif op.upper() in METHODS:
            task = asyncio.create_task(
                self._call_app(msg), name="servicebus %s %s" % (op, msg.route.resource)
            )
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
        else:
            log.warning("servicebus: unknown operation %r from %s dropped", op, msg.route.source)

    def _allow(self, msg: Message) -> None:
        try:
            url = parse_target_url(msg.content)
        except BadRequest as e:
            log.warning("servicebus: %s %s", msg.route.operation, e)
            return
        assert self.allowlist is not None
        if msg.route.operation == c.START:
            self.allowlist.add(url)
            log.info("servicebus: edge apps may now call %s", url)
        else:
            self.allowlist.remove(url)
            log.info("servicebus: edge apps may no longer call %s", url)

    async def _call_app(self, msg: Message) -> None:
        resp = await self.call_app(msg)
        if resp.status_code >= 400:
            log.info("servicebus: %s %s → %d", msg.route.operation, msg.route.resource, resp.status_code)
        assert self._ctx is not None
        try:
            await self._ctx.send(c.EDGEHUB, new_response(msg, response_content(resp)))
        except UnknownDestination:
            log.warning("servicebus: no EdgeHub; answer to %s dropped", msg.route.resource)

    async def call_app(self, msg: Message) -> HTTPResponse:
        """The answer to one cloud request, errors included as HTTP statuses."""
        try:
            port, req = parse_cloud_request(msg.route.operation, msg.route.resource, msg.content)
        except BadRequest as e:
            return text_response(400, "servicebus: %s" % e)
        where = "%s:%d%s" % (self.app_host, port, req.path)
        try:
            return await fetch(self.app_host, port, req, timeout=self.timeout, max_body=MAX_RESPONSE_BODY)
        except TimeoutError:
            return text_response(504, "servicebus: %s did not answer within %g s" % (where, self.timeout))
        except TooLarge as e:
            return text_response(413, "servicebus: %s: %s" % (where, e))
        except AppError as e:
            return text_response(502, "servicebus: edge app unavailable: %s" % e)

    # -- edge app → cloud -----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        task.add_done_callback(self._clients.discard)
        method = ""
        linger = False
        try:
            try:
                async with asyncio.timeout(READ_TIMEOUT):
                    method, content = await self._read_request(reader, writer)
                if isinstance(content, HTTPResponse):
                    resp = content
                else:  # waiting for the cloud is bounded by self.timeout, not READ_TIMEOUT
                    resp = await self.forward(content)
            except BadRequest as e:
                resp, linger = text_response(400, "servicebus: %s\n" % e), True
            except TooLarge as e:
                resp, linger = text_response(413, "servicebus: %s\n" % e), True
            writer.write(render_response(resp, head_only=method == "HEAD"))
            await writer.drain()
            if linger:  # read what the client still sends, or closing resets the answer away
                if writer.can_write_eof():
                    writer.write_eof()
                async with asyncio.timeout(LINGER):
                    while await reader.read(1 << 16):
                        pass
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # the client went away or is too slow: nobody to answer
        except Exception:
            log.exception("servicebus: serving an edge app failed")
        finally:
            writer.close()

    @staticmethod
    async def _read_request(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[str, dict[str, Any] | HTTPResponse]:
        """(method, the upstream content) or (method, the answer refusing the request)."""
        first, header = split_head(await read_head(reader, "request"), "request")
        method, _target = parse_request_line(first)
        if method != "POST":
            text = 'servicebus: POST {"method", "targetURL", "payload"} here, not %s\n' % method
            return method, text_response(405, text)
        length = content_length(header, "request")
        if length is not None and length > MAX_REQUEST_BODY:
            raise TooLarge("request body of %d bytes is larger than %d bytes" % (length, MAX_REQUEST_BODY))
        if any(v.lower() == "100-continue" for v in get_header(header, "expect")):
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await read_body(reader, header, MAX_REQUEST_BODY, "request", eof=False)
        return method, parse_app_request(body)

    async def forward(self, content: dict[str, Any]) -> HTTPResponse:
        """Send an app's request up to the cloud Router and return its answer (or why there is none)."""
        url = content["targetURL"]
        if self.allowlist is None or url not in self.allowlist:
            return text_response(
                403, "servicebus: targetURL %s is not allowed: no servicebus rule for it on this node\n" % url
            )
        ctx = self._ctx
        assert ctx is not None
        msg = new_message(
            source=c.SERVICEBUS,
            group=c.GROUP_USER,
            operation=REQUEST,
            resource=RESOURCE,
            content=content,
            sync=True,
        )
        try:
            answer = await ctx.send_sync(c.EDGEHUB, msg, self.timeout)
        except TimeoutError:
            return text_response(504, "servicebus: the cloud did not answer within %g s\n" % self.timeout)
        except (UnknownDestination, LookupError):
            return text_response(503, "servicebus: the cloud is unreachable (EdgeHub is not running)\n")
        if answer.route.operation == c.ERROR:
            return text_response(502, "servicebus: the cloud refused the request: %s\n" % (answer.content,))
        try:
            return parse_cloud_response(answer.content)
        except BadRequest as e:
            return text_response(502, "servicebus: %s\n" % e)


def server_ssl(cfg: ServiceBusConfig) -> _ssl.SSLContext | None:
    """TLS for the edge-app server when both files are configured (KubeEdge v1.23)."""
    if not (cfg.tls_cert_file and cfg.tls_private_key_file):
        return None
    ctx = _ssl.create_default_context(_ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg.tls_cert_file, cfg.tls_private_key_file)
    return ctx


def make_servicebus(cfg: ServiceBusConfig, db_path: Path | str) -> ServiceBus:
    """ServiceBus from edgecore's `modules.serviceBus`, its allow-list in the edge database `db_path`."""
    return ServiceBus(
        db_path, host=cfg.server, port=cfg.port, timeout=float(cfg.timeout), ssl=server_ssl(cfg)
    )
