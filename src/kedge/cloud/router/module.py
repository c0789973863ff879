"""The cloud Router (KubeEdge's `router`, rules.kubeedge.io/v1): REST on 9443 to edge MQTT topics and edge
HTTP services, and edge MQTT topics and edge apps to cloud URLs.

- rest → eventbus: `POST /<node>/<namespace>/<path>` publishes the body on the node's broker, on the rule's
  `targetResource.topic` with the rest of the path appended.
- eventbus → rest: each node is told to subscribe `<namespace>/<topic>` (again whenever it connects: the
  edge keeps router subscriptions in memory); what it uploads from there is POSTed to the target URL.
- rest → servicebus: `<method> /<node>/<namespace>/<path>` becomes a request to
  `http://127.0.0.1:<service_port><targetResource.path><rest of path>` on the node; its status, headers
  and body are the answer (`restTimeout`).
- servicebus → rest: the node's ServiceBus is told which URLs it may reach (`start`/`stop`); its requests
  are made from the cloud and answered with the status, headers and body.

A node that is not connected gets an immediate 503 naming it. Each rule counts its successes and failures
and keeps its last errors; they are merge-patched onto the Rule at most once a second.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from kedge.aio.backoff import Backoff
from kedge.beehive import Context, Module
from kedge.cloud.cloudhub.hub import CONNECTED, DISCONNECTED, NODE_PREFIX, CloudHub, split_node
from kedge.cloud.router.table import EVENTBUS, SERVICEBUS, Rule, RuleTable
from kedge.k8s.informer import DELETED, SYNCED, Informer
from kedge.k8s.ops import KubeError, KubeOps
from kedge.model import constants as c
from kedge.model.message import Message, new_message, new_response

log = logging.getLogger(__name__)

SOURCE_EVENTBUS = "router_eventbus"
SOURCE_SERVICEBUS = "router_servicebus"
MAX_REQUEST_BODY = 12 << 20  # KubeEdge's limit for REST bodies
MAX_SERVICE_RESPONSE = 5 << 20  # and for service responses
LAST_ERRORS = 5
_HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Content-Length", "Host",
    )
)  # fmt: skip
_decode = msgspec.json.Decoder().decode


@dataclass
class RouterSettings:
    address: str = "0.0.0.0"
    port: int = 9443
    rest_timeout: float = 60.0
    status_interval: float = 1.0
    concurrency: int = 64
    tls_cert_file: str = ""
    tls_private_key_file: str = ""


@dataclass
class Counters:
    success: int = 0
    fail: int = 0
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=LAST_ERRORS))
    dirty: bool = False


def _headers(raw: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in raw.items() if hasattr(raw, "items") else ():
        if str(k).lower() not in _HOP_BY_HOP:
            out.setdefault(str(k), []).append(str(v))
    return out


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _text_or_bytes(body: bytes) -> str | bytes:
    """A body as message content: text when it is UTF-8 (what KubeEdge edges expect), else bytes."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


class Router(Module):
    name = c.ROUTER
    group = c.ROUTER
    capacity = 4096

    def __init__(
        self,
        kube: KubeOps,
        hub: CloudHub,
        settings: RouterSettings | None = None,
        *,
        backoff: Callable[[], Backoff] | None = None,
    ) -> None:
        self.kube = kube
        self.hub = hub
        self.settings = settings or RouterSettings()
        self.table = RuleTable()
        self.counters: dict[tuple[str, str], Counters] = {}
        self.port = 0
        extra: dict[str, Any] = {"backoff": backoff()} if backoff is not None else {}
        self.endpoints = Informer(kube.rule_lister("ruleendpoints"), self._on_endpoint, **extra)
        extra = {"backoff": backoff()} if backoff is not None else {}
        self.rules = Informer(kube.rule_lister("rules"), self._on_rule, **extra)
        self._sent_subs: dict[str, set[str]] = {}  # node → filters it was told to subscribe
        self._sent_urls: dict[str, set[str]] = {}  # node → URLs it was told to allow
        self._listed: set[str] = set()
        self._order: dict[tuple[str, str], asyncio.Lock] = {}
        self._early: deque[Message] = deque(maxlen=10_000)  # edge messages that came before the rules
        self._ctx: Context | None = None
        self._http: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._sem = asyncio.Semaphore(self.settings.concurrency)
        self._tasks: set[asyncio.Task] = set()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start_http(self) -> int:
        """Listen for REST requests; returns the bound port (the settings may ask for 0)."""
        app = web.Application(client_max_size=MAX_REQUEST_BODY)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        st = self.settings
        ssl_ctx = None
        if st.tls_cert_file or st.tls_private_key_file:
            from kedge.security.tls import server_ssl_context

            ssl_ctx = server_ssl_context(st.tls_cert_file, st.tls_private_key_file)
        site = web.TCPSite(self._runner, st.address, st.port, ssl_context=ssl_ctx)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.port
        log.info("router REST listening on %s:%d%s", st.address, self.port, " (TLS)" if ssl_ctx else "")
        return self.port

    async def start(self, ctx: Context) -> None:
        self._ctx = ctx
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.rest_timeout))
        background = [
            asyncio.create_task(self.endpoints.run(), name="informer-ruleendpoints"),
            asyncio.create_task(self.rules.run(), name="informer-rules"),
            asyncio.create_task(self._status_loop(), name="router-status"),
        ]
        try:
            while True:
                for msg in await ctx.receive_many(self.name, 256):
                    self._handle(msg)
        finally:
            for t in (*background, *self._tasks):
                t.cancel()
            await asyncio.gather(*background, *self._tasks, return_exceptions=True)
            await self._flush_status()
            if self._runner is not None:
                await self._runner.cleanup()
            await self._http.close()

    # -- rules -----------------------------------------------------------------------------------

    def _on_endpoint(self, kind: str, obj: dict[str, Any], rv: int) -> None:
        if kind == SYNCED:
            self._listed_one("ruleendpoints")
            return
        meta = obj["metadata"]
        if kind == DELETED:
            self.table.remove_endpoint(meta.get("namespace") or "default", meta["name"])
        else:
            self.table.set_endpoint(obj)
        self._sync_nodes()

    def _on_rule(self, kind: str, obj: dict[str, Any], rv: int) -> None:
        if kind == SYNCED:
            self._listed_one("rules")
            return
        meta = obj["metadata"]
        key = (meta.get("namespace") or "default", meta["name"])
        if kind == DELETED:
            self.table.remove_rule(*key)
            self.counters.pop(key, None)
        else:
            self.table.set_rule(obj)
            if key not in self.counters:  # start from what the object holds (a cloudcore restart)
                status = obj.get("status") or {}
                cnt = Counters(int(status.get("successMessages") or 0), int(status.get("failMessages") or 0))
                cnt.errors.extend(str(e) for e in (status.get("errors") or [])[-LAST_ERRORS:])
                self.counters[key] = cnt
        self._sync_nodes()

    def _listed_one(self, kind: str) -> None:
        self._listed.add(kind)
        if len(self._listed) == 2:
            self._sync_nodes()
            early, self._early = list(self._early), deque(maxlen=self._early.maxlen)
            for msg in early:
                self._handle(msg)

    def _sync_nodes(self, only: str | None = None, *, again: bool = False) -> None:
        """Tell connected nodes what to subscribe and allow, as the difference to what they were told
        (`again`: everything, for a node that just connected)."""
        if len(self._listed) < 2:
            return
        nodes = [only] if only else set(self.table.nodes()) | set(self._sent_subs) | set(self._sent_urls)
        for node in nodes:
            if node not in self.hub.sessions:
                continue
            want_subs, want_urls = self.table.subscriptions(node), self.table.allowed_urls(node)
            had_subs = set() if again else self._sent_subs.get(node, set())
            had_urls = set() if again else self._sent_urls.get(node, set())
            for f in sorted(want_subs - had_subs):
                self._to_node(node, SOURCE_EVENTBUS, c.SUBSCRIBE, f, None)
            for f in sorted(had_subs - want_subs):
                self._to_node(node, SOURCE_EVENTBUS, c.UNSUBSCRIBE, f, None)
            for u in sorted(want_urls - had_urls):
                self._to_node(node, SOURCE_SERVICEBUS, "start", c.SERVICEBUS, {"target_url": u})
            for u in sorted(had_urls - want_urls):
                self._to_node(node, SOURCE_SERVICEBUS, "stop", c.SERVICEBUS, {"target_url": u})
            self._sent_subs[node], self._sent_urls[node] = want_subs, want_urls

    def _to_node(self, node: str, source: str, op: str, resource: str, content: Any) -> None:
        msg = new_message(source=source, group=c.GROUP_USER, operation=op, resource=resource, content=content)
        self.hub.publish(node, msg)

    # -- messages from edges ---------------------------------------------------------------------

    def _handle(self, msg: Message) -> None:
        r = msg.route
        if r.source == c.CLOUDHUB and r.operation in (CONNECTED, DISCONNECTED):
            node = r.resource.removeprefix(NODE_PREFIX)
            if r.operation == CONNECTED:
                self._sync_nodes(node, again=True)
            else:
                self._sent_subs.pop(node, None)
                self._sent_urls.pop(node, None)
            return
        if len(self._listed) < 2:  # the rules are not known yet (a cloudcore restart): hold it
            if len(self._early) == self._early.maxlen:
                log.warning(
                    "router: %d messages wait for the rules to load; dropping the oldest", len(self._early)
                )
            self._early.append(msg)
            return
        node, resource = split_node(r.resource)
        if r.operation == c.UPLOAD:
            self._spawn(self._upload(node, resource, msg.content))
        elif r.operation == "request" and resource == c.SERVICEBUS:
            self._spawn(self._service_request(node, msg))
        else:
            log.debug("router ignores %s %s from node %s", r.operation, resource, node)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _upload(self, node: str, topic: str, content: Any) -> None:
        rule = self.table.match_upload(node, topic)
        if rule is None:
            log.debug("router: no rule for an upload on %s from node %s", topic, node)
            return
        body = content if isinstance(content, bytes) else str(content if content is not None else "").encode()
        url = rule.target_resource.get("resource", "")
        # one POST at a time per rule, in arrival order (asyncio's locks are FIFO, tasks start in order)
        lock = self._order.get(rule.key)
        if lock is None:
            lock = self._order[rule.key] = asyncio.Lock()
        async with lock, self._sem:
            error = await self._post(url, body)
        self._count(rule, error)

    async def _post(self, url: str, body: bytes) -> str | None:
        assert self._http is not None
        try:
            async with self._http.post(url, data=body) as resp:
                await resp.read()
                if resp.status >= 300:
                    return "POST %s: HTTP %d" % (url, resp.status)
                return None
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            return "POST %s: %s" % (url, str(e) or type(e).__name__)

    async def _service_request(self, node: str, msg: Message) -> None:
        try:
            req = _decode(msg.content) if isinstance(msg.content, bytes | str) else msg.content
            url, method = req["targetURL"], str(req.get("method") or "POST").upper()
            payload = req.get("payload")
        except (msgspec.DecodeError, KeyError, TypeError) as e:
            self._reply(
                msg,
                400,
                {},
                b"a servicebus request needs targetURL (and method, payload): %s" % (str(e).encode()),
            )
            return
        rule = self.table.match_servicebus(node, url)
        if rule is None:
            self._reply(msg, 403, {}, b"no rule lets node %s reach %s" % (node.encode(), str(url).encode()))
            return
        if isinstance(payload, str):
            data = payload.encode()
        elif payload is None:
            data = b""
        else:
            data = msgspec.json.encode(payload)
        assert self._http is not None
        try:
            async with self._sem, self._http.request(method, url, data=data) as resp:
                body = await resp.content.read(MAX_SERVICE_RESPONSE + 1)
                if len(body) > MAX_SERVICE_RESPONSE:
                    self._count(rule, "%s %s: response over %d bytes" % (method, url, MAX_SERVICE_RESPONSE))
                    self._reply(msg, 413, {}, b"the response of %s is over 5 MiB" % url.encode())
                    return
                self._count(
                    rule, None if resp.status < 500 else "%s %s: HTTP %d" % (method, url, resp.status)
                )
                self._reply(msg, resp.status, _headers(resp.headers), body)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            error = "%s %s: %s" % (method, url, str(e) or type(e).__name__)
            self._count(rule, error)
            self._reply(msg, 504 if isinstance(e, TimeoutError) else 502, {}, error.encode())

    def _reply(self, msg: Message, status: int, header: dict[str, list[str]], body: bytes) -> None:
        content = {"status_code": status, "header": header, "body": _b64(body)}
        ctx = self._ctx
        if ctx is not None:
            ctx.send_nowait(c.CLOUDHUB, new_response(msg, content))

    # -- REST ------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.strip("/").split("/", 2)
        if len(parts) < 3 or not all(parts):
            return _error(404, "the path must be /<node>/<namespace>/<path>, got %s" % request.path)
        node, namespace, path = parts
        match = self.table.match_rest(namespace, path)
        if match is None:
            return _error(404, "no rule for %s in namespace %s" % ("/" + path, namespace))
        rule, suffix = match
        if request.content_length is not None and request.content_length > MAX_REQUEST_BODY:
            return self._refused(rule, 413, "the request body is over 12 MiB")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refused(rule, 413, "the request body is over 12 MiB")
        if node not in self.hub.sessions:
            return self._refused(rule, 503, "edge node %s is not connected" % node)
        if rule.target == EVENTBUS:
            if request.method not in ("POST", "PUT"):
                return self._refused(rule, 405, "rule %s publishes to MQTT: use POST or PUT" % rule.name)
            topic = rule.target_resource.get("topic", "").rstrip("/") + suffix
            self._to_node(node, SOURCE_EVENTBUS, c.PUBLISH, topic, _text_or_bytes(body))
            self._count(rule, None)
            return web.json_response({"published": topic, "node": node})
        if rule.target == SERVICEBUS:
            return await self._to_service(request, rule, node, suffix, body)
        return _error(
            500, "rule %s has target type %s, which a REST request cannot reach" % (rule.name, rule.target)
        )

    async def _to_service(
        self, request: web.Request, rule: Rule, node: str, suffix: str, body: bytes
    ) -> web.StreamResponse:
        port = rule.target_properties.get("service_port", "")
        path = rule.target_resource.get("path", "/").rstrip("/") + suffix or "/"
        if request.query_string:
            path += "?" + request.query_string
        content = {
            "method": request.method,
            "url": path,
            "header": _headers(request.headers),
            "body": _b64(body),
        }
        msg = new_message(
            source=SOURCE_SERVICEBUS,
            group=c.GROUP_USER,
            operation=request.method,
            resource="%s%s/%s:%s" % (NODE_PREFIX, node, port, path),
            content=content,
        )
        ctx = self._ctx
        assert ctx is not None
        try:
            resp = await ctx.send_sync(c.CLOUDHUB, msg, timeout=self.settings.rest_timeout)
        except TimeoutError:
            return self._refused(
                rule, 504, "node %s did not answer within %g s" % (node, self.settings.rest_timeout)
            )
        if resp.route.operation == c.ERROR:
            return self._refused(rule, 502, "node %s: %s" % (node, resp.content))
        try:
            out = _decode(resp.content) if isinstance(resp.content, bytes | str) else resp.content
            status = int(out["status_code"])
            data = base64.b64decode(out.get("body") or "")
            headers = out.get("header") or {}
        except (msgspec.DecodeError, KeyError, TypeError, ValueError) as e:
            return self._refused(rule, 502, "node %s sent a malformed service response: %s" % (node, e))
        self._count(rule, None if status < 500 else "service on node %s answered HTTP %d" % (node, status))
        response = web.Response(status=status, body=data)
        for k, values in headers.items():
            if k.lower() not in _HOP_BY_HOP:
                for v in values if isinstance(values, list) else [values]:
                    response.headers.add(k, str(v))
        return response

    def _refused(self, rule: Rule, status: int, message: str) -> web.Response:
        self._count(rule, message)
        return _error(status, message)

    # -- counters --------------------------------------------------------------------------------

    def _count(self, rule: Rule, error: str | None) -> None:
        cnt = self.counters.setdefault(rule.key, Counters())
        if error is None:
            cnt.success += 1
        else:
            cnt.fail += 1
            cnt.errors.append("%s %s" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), error))
            log.info("rule %s/%s: %s", rule.namespace, rule.name, error)
        cnt.dirty = True

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.status_interval)
            await self._flush_status()

    async def _flush_status(self) -> None:
        for (ns, name), cnt in list(self.counters.items()):
            if not cnt.dirty:
                continue
            cnt.dirty = False
            patch = {
                "status": {
                    "successMessages": cnt.success,
                    "failMessages": cnt.fail,
                    "errors": list(cnt.errors),
                }
            }
            try:
                await self.kube.patch_rule(ns, name, patch)
            except KubeError as e:
                if not e.not_found:
                    cnt.dirty = True  # tried again at the next round
                    log.warning("router: status of rule %s/%s not written: %s", ns, name, e)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"code": status, "message": message}, status=status)
