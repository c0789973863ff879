"""The demo, until the all-in-one cloud + edge demo exists: two beehive modules exchanging messages.

`ping` sends requests to `pong` with send_sync; `pong` answers each with send_resp; then `ping` fans a
batch out to a group and collects the acks. Everything runs through kedge._core.router.
"""

import asyncio
import time

from kedge._core import router as core_router
from kedge.aio.loops import loop_name
from kedge.beehive import Context, Module, Runtime
from kedge.model import constants as c
from kedge.model.message import Message, new_message, new_response


class Pong(Module):
    name = "pong"
    group = "demo"

    async def start(self, ctx: Context) -> None:
        while True:
            for msg in await ctx.receive_many(self.name, 256):
                resp = new_response(msg, c.ACK_OK)
                if msg.header.sync:
                    ctx.send_resp(resp)
                else:
                    await ctx.send("ping", resp)


class Ping(Module):
    name = "ping"
    group = ""

    def __init__(self, messages: int, runtime: Runtime) -> None:
        self.messages = messages
        self.runtime = runtime
        self.result: dict[str, float] = {}

    def _request(self, i: int) -> Message:
        return new_message(
            source=self.name, group="demo", operation=c.QUERY, resource="default/demo/item-%d" % i, content=i
        )

    async def start(self, ctx: Context) -> None:
        t0 = time.perf_counter()
        for i in range(self.messages):
            resp = await ctx.send_sync("pong", self._request(i), timeout=5.0)
            assert resp.route.operation == c.RESPONSE
        t1 = time.perf_counter()
        for i in range(self.messages):
            await ctx.send_to_group("demo", self._request(i))
        acks = 0
        while acks < self.messages:
            acks += len(await ctx.receive_many(self.name, 256))
        t2 = time.perf_counter()
        self.result = {"sync_rps": self.messages / (t1 - t0), "async_mps": self.messages / (t2 - t1)}
        self.runtime.stop()


async def beehive_demo(messages: int) -> int:
    print("kedge demo: two beehive modules exchanging messages (the all-in-one cloud+edge demo comes later)")
    print("core router: %s, loop: %s" % ("compiled" if core_router.COMPILED else "pure-python", loop_name()))
    runtime = Runtime()
    ping = Ping(messages, runtime)
    runtime.register(Pong())
    runtime.register(ping)
    await asyncio.wait_for(runtime.run(), timeout=120)
    r = ping.result
    print("send_sync round trips: %d at %.0f/s" % (messages, r["sync_rps"]))
    print("group send + acks:     %d at %.0f/s" % (messages, r["async_mps"]))
    return 0
