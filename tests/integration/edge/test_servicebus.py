"""ServiceBus on a real beehive with a Sink standing for EdgeHub, a real aiohttp app standing for an edge
app, and real edge-app clients of its HTTP server (issue 7 contract items 3-5)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web

from kedge.beehive import Context, Module, Runtime
from kedge.edge.servicebus import ServiceBus
from kedge.edge.servicebus.codec import MiB
from kedge.model import constants as c
from kedge.model.message import Message, new_message, new_response
from tests.mqttbrokers import free_port

WAIT = 10.0


class Hub(Module):
    """Stands for EdgeHub: records what ServiceBus sends and answers sync requests with `answer`."""

    name = c.EDGEHUB
    group = c.EDGEHUB_GROUP

    def __init__(self) -> None:
        self.got: list[Message] = []
        self.changed = asyncio.Event()
        self.answer: Callable[[Message], Any] | None = None  # content of the cloud's answer

    async def start(self, ctx: Context) -> None:
        while True:
            for m in await ctx.receive_many(self.name, 64):
                self.got.append(m)
                if m.header.sync and self.answer is not None:
                    ctx.send_resp(new_response(m, self.answer(m)))
            self.changed.set()

    async def reply_to(self, msg: Message) -> dict[str, Any]:
        async def find() -> Message:
            while True:
                for m in self.got:
                    if m.header.parent_msg_id == msg.header.msg_id:
                        return m
                self.changed.clear()
                await self.changed.wait()

        try:
            m = await asyncio.wait_for(find(), WAIT)
        except TimeoutError:
            pytest.fail("no answer to %s %s" % (msg.route.operation, msg.route.resource))
        assert m.route.operation == c.RESPONSE
        content = m.content
        content["body"] = base64.b64decode(content["body"])
        return content


class Edge:
    def __init__(self, db: Path, timeout: float = 5.0) -> None:
        self.ctx = Context()
        self.bus = ServiceBus(db, port=free_port(), timeout=timeout)
        self.hub = Hub()
        self.runtime = Runtime(self.ctx)
        self.runtime.register(self.bus)
        self.runtime.register(self.hub)
        self.task = asyncio.create_task(self.runtime.run(handle_signals=False))

    async def __aenter__(self) -> Edge:
        await asyncio.wait_for(self.bus.ready.wait(), WAIT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.runtime.stop()
        await self.task

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/" % self.bus.port

    def cloud(self, op: str, resource: str, content: Any, source: str = "router_servicebus") -> Message:
        msg = new_message(
            source=source,
            group=c.GROUP_USER,
            operation=op,
            resource=resource,
            content=msgspec.Raw(msgspec.json.encode(content)),
            sync=op not in (c.START, c.STOP),
        )
        self.ctx.send_nowait(c.SERVICEBUS, msg)
        return msg

    async def call(self, op: str, resource: str, content: Any) -> dict[str, Any]:
        return await self.hub.reply_to(self.cloud(op, resource, content))


class App:
    """An edge app: records every request; /slow never answers in time, /big answers 6 MiB."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.port = free_port()

    async def handle(self, req: web.Request) -> web.StreamResponse:
        if req.path == "/slow":
            await asyncio.sleep(30)
        if req.path == "/big":
            resp = web.StreamResponse()  # chunked: the limit holds without a Content-Length too
            await resp.prepare(req)
            for _ in range(6):
                await resp.write(b"x" * MiB)
            return resp
        body = await req.read()
        self.seen.append(
            {
                "method": req.method,
                "path": req.path,
                "query": dict(req.query),
                "headers": req.headers,
                "body": body,
            }
        )
        return web.Response(status=201, body=b"echo:" + body, headers={"X-App": "yes"})

    async def __aenter__(self) -> App:
        server = web.Server(self.handle)
        self.runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def request(method: str, url: str, body: bytes = b"", header: dict[str, list[str]] | None = None) -> dict:
    return {"method": method, "url": url, "header": header or {}, "body": base64.b64encode(body).decode()}


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
async def test_cloud_request_reaches_the_app_and_its_answer_goes_back(tmp_path: Path, method: str) -> None:
    async with App() as app, Edge(tmp_path / "edge.db") as edge:
        body = b"" if method == "GET" else b"\x00payload\xff"
        got = await edge.call(
            method,
            "%d:/target/x?a=1&b=two" % app.port,
            request(method, "/target/x?a=1&b=two", body, {"X-Trace": ["t1"], "Host": ["ignored"]}),
        )
        assert got["status_code"] == 201
        assert got["header"]["X-App"] == ["yes"]
        assert got["body"] == b"echo:" + body
        [seen] = app.seen
        assert (seen["method"], seen["path"], seen["query"]) == (method, "/target/x", {"a": "1", "b": "two"})
        assert seen["headers"]["X-Trace"] == "t1"
        assert seen["headers"]["Host"] == "127.0.0.1:%d" % app.port
        assert seen["body"] == body


async def test_app_down_is_502_and_other_sources_are_ignored(tmp_path: Path) -> None:
    async with Edge(tmp_path / "edge.db") as edge:
        edge.cloud(c.PUBLISH, "some/topic", "x", source="router_eventbus")
        got = await edge.call("GET", "%d:/x" % free_port(), request("GET", "/x"))
        assert got["status_code"] == 502
        assert b"edge app unavailable" in got["body"] and b"cannot connect" in got["body"]
        assert len(edge.hub.got) == 1  # the EventBus message got no answer


async def test_slow_app_is_504_and_oversized_answer_413(tmp_path: Path) -> None:
    async with App() as app, Edge(tmp_path / "edge.db", timeout=0.5) as edge:
        slow, big = await asyncio.gather(
            edge.call("GET", "%d:/slow" % app.port, request("GET", "/slow")),
            edge.call("GET", "%d:/big" % app.port, request("GET", "/big")),
        )
        assert slow["status_code"] == 504 and b"did not answer within 0.5 s" in slow["body"]
        assert big["status_code"] == 413 and b"larger than" in big["body"]


async def test_bad_cloud_request_is_400(tmp_path: Path) -> None:
    async with Edge(tmp_path / "edge.db") as edge:
        got = await edge.call("POST", "not-a-port:/x", request("POST", "/x"))
        assert got["status_code"] == 400 and b"resource" in got["body"]


async def post(url: str, data: bytes) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as s, s.post(url, data=io.BytesIO(data)) as r:
        return r.status, await r.read()


def app_request(target: str, payload: Any = None) -> bytes:
    return json.dumps({"method": "POST", "targetURL": target, "payload": payload}).encode()


async def test_allow_list_persists_and_gates_edge_app_requests(tmp_path: Path) -> None:
    db = tmp_path / "edge.db"
    target = "http://cloud.example/in"
    async with Edge(db) as edge:
        status, body = await post(edge.url, app_request(target, {"k": 1}))
        assert status == 403 and b"not allowed" in body and target.encode() in body
        edge.cloud(c.START, "servicebus", {"target_url": target})
        edge.cloud(c.START, "servicebus", {"target_url": "http://other/"})
        edge.cloud(c.STOP, "servicebus", {"target_url": "http://other/"})
        await asyncio.wait_for(
            _until(lambda: edge.bus.allowlist is not None and target in edge.bus.allowlist), WAIT
        )
    async with Edge(db) as edge:  # a restart: the list comes back from the edge database
        assert edge.bus.allowlist is not None and edge.bus.allowlist.urls() == [target]
        edge.hub.answer = lambda m: {
            "status_code": 202,
            "header": {"X-Cloud": ["1"]},
            "body": base64.b64encode(b"from cloud").decode(),
        }
        status, body = await post(edge.url, app_request(target, {"k": 1}))
        assert (status, body) == (202, b"from cloud")
        [up] = edge.hub.got
        assert (up.route.source, up.route.group, up.route.operation, up.route.resource) == (
            c.SERVICEBUS,
            c.GROUP_USER,
            "request",
            "servicebus",
        )
        assert up.header.sync
        assert up.content == {"method": "POST", "targetURL": target, "payload": {"k": 1}}


async def _until(cond: Callable[[], bool]) -> None:
    while not cond():
        await asyncio.sleep(0.01)


async def test_edge_app_requests_refused_with_clear_statuses(tmp_path: Path) -> None:
    async with Edge(tmp_path / "edge.db", timeout=0.5) as edge:
        status, body = await post(edge.url, b"{not json")
        assert status == 400 and b"not valid JSON" in body
        status, body = await post(edge.url, b'{"payload": 1}')
        assert status == 400 and b"targetURL" in body
        status, body = await post(edge.url, b"x" * (12 * MiB + 1))
        assert status == 413 and b"larger than" in body
        async with aiohttp.ClientSession() as s, s.get(edge.url) as r:
            assert r.status == 405
        reader, writer = await asyncio.open_connection("127.0.0.1", edge.bus.port)
        writer.write(b"POST / HTTP/9\r\n\r\n")
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 400 Bad Request") and b"malformed request line" in answer
        # allowed, but the cloud never answers
        edge.cloud(c.START, "servicebus", {"target_url": "http://t/"})
        await asyncio.wait_for(_until(lambda: "http://t/" in edge.bus.allowlist), WAIT)  # type: ignore[operator]
        status, body = await post(edge.url, app_request("http://t/"))
        assert status == 504 and b"did not answer" in body
