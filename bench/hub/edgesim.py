"""Edge-node simulator: many edge sessions from one process, for the hub benchmarks (and the scale harness).

Each simulated node is a real kedge edge connection — the same WebSocket or QUIC client, mutual TLS with
its own `system:node:<name>` certificate, the native (MessagePack) or KubeEdge JSON lane — with a hollow
application: every ack-required message is acknowledged at once (compact acks on the native lane,
`response`/"OK" messages on the JSON lane), and a keepalive goes out every `--heartbeat` seconds,
spread evenly over the period. Reports JSON lines on stdout every `--report` seconds; SIGTERM ends it.

    python -m bench.hub.edgesim --pki DIR --server 127.0.0.1:10000 --nodes 1000 [--first 0]
        [--protocol websocket|quic] [--lane native|json] [--heartbeat 15] [--concurrency 100] [--reconnect]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import ssl
import sys
import time
from pathlib import Path

from bench.hub.pki import node_name
from kedge.aio.loops import run
from kedge.cloud.cloudhub.hub import needs_ack
from kedge.edge.edgehub.hub import keepalive_message
from kedge.model import constants as c
from kedge.model.message import Message, MessageHeader, MessageRoute
from kedge.transport.link import LANE_NATIVE, Link


class SimNode:
    __slots__ = ("acks", "closed", "index", "link", "name", "native", "sim")

    def __init__(self, sim: Sim, index: int, name: str) -> None:
        self.sim = sim
        self.index = index
        self.name = name
        self.link: Link | None = None
        self.native = True
        self.acks: list[str] = []
        self.closed: asyncio.Future[str] | None = None

    def bind(self, link: Link) -> None:
        self.link = link
        self.native = link.peer.lane == LANE_NATIVE

    def on_batch(self, messages: list[Message], acks: list[str]) -> None:
        sim = self.sim
        sim.received += len(messages)
        replies: list[Message] = []
        for m in messages:
            r = m.route
            if needs_ack(m) and m.header.msg_id:
                if self.native:
                    self.acks.append(m.header.msg_id)
                else:
                    replies.append(
                        Message(
                            MessageHeader("a-%d" % sim.seq(), m.header.msg_id, 0),
                            MessageRoute(r.source, "", r.group, c.RESPONSE, r.resource),
                            c.ACK_OK,
                        )
                    )
        if replies and self.link is not None:
            self.link.send(replies)
            sim.acked += len(replies)
        if self.acks:
            sim.mark(self)

    def on_close(self, reason: str) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(reason)


class Sim:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        info = json.loads((Path(args.pki) / "pki.json").read_text())
        self.info = info
        host, _, port = args.server.rpartition(":")
        self.host, self.port = host, int(port)
        self.nodes = [
            SimNode(self, i, node_name(info["prefix"], i)) for i in range(args.first, args.first + args.nodes)
        ]
        self.received = 0
        self.acked = 0
        self.connected = 0
        self.connects = 0
        self.failures = 0
        self.disconnects = 0
        self.connect_ms: list[float] = []
        self.first_connect = 0.0
        self.last_connect = 0.0
        self._dirty: set[SimNode] = set()
        self._flush_scheduled = False
        self._seq = 0
        self._sem = asyncio.Semaphore(args.concurrency)
        self.rng = random.Random(args.first)

    def seq(self) -> int:
        self._seq += 1
        return self._seq

    def mark(self, node: SimNode) -> None:
        self._dirty.add(node)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, set()
        for node in dirty:
            acks, node.acks = node.acks, []
            if node.link is not None and not node.link.closed:
                node.link.send((), acks)
                self.acked += len(acks)

    def _ssl(self, node: SimNode) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.info["ca"])
        ctx.load_cert_chain(os.path.join(self.info["nodes"], node.name + ".crt"), self.info["node_key"])
        return ctx

    async def _connect(self, node: SimNode) -> Link:
        a = self.args
        if a.protocol == "quic":
            from kedge.transport.quic_client import connect_quic

            return await connect_quic(
                self.host,
                self.port,
                ca_path=self.info["ca"],
                cert_path=os.path.join(self.info["nodes"], node.name + ".crt"),
                key_path=self.info["node_key"],
                node_id=node.name,
                project_id=c.DEFAULT_PROJECT_ID,
                handler=node,
                timeout=60.0,
            )
        from kedge.transport.ws_client import connect_ws

        return await connect_ws(
            self.host,
            self.port,
            ssl_context=self._ssl(node),
            node_id=node.name,
            project_id=c.DEFAULT_PROJECT_ID,
            handler=node,
            native=a.lane == "native",
            timeout=60.0,
        )

    async def run_node(self, node: SimNode) -> None:
        delay = 1.0
        while True:
            loop = asyncio.get_running_loop()
            node.closed = loop.create_future()
            async with self._sem:
                t0 = time.perf_counter()
                try:
                    await self._connect(node)
                except Exception as e:  # count it, back off with jitter, retry
                    self.failures += 1
                    if self.failures <= 5:
                        print(
                            json.dumps({"event": "connect_failed", "node": node.name, "error": str(e)}),
                            flush=True,
                        )
                    await asyncio.sleep(self.rng.uniform(0, delay))
                    delay = min(delay * 2, 30.0)
                    continue
            t1 = time.perf_counter()
            self.connect_ms.append((t1 - t0) * 1000)
            if not self.first_connect:
                self.first_connect = t1
            self.last_connect = t1
            self.connects += 1
            self.connected += 1
            delay = 1.0
            reason = await node.closed
            self.connected -= 1
            self.disconnects += 1
            node.link = None
            if not self.args.reconnect:
                return
            del reason
            await asyncio.sleep(self.rng.uniform(0, delay))

    async def heartbeats(self) -> None:
        hb = self.args.heartbeat
        n = len(self.nodes)
        step = hb / max(n, 1)
        i = 0
        next_t = time.monotonic()
        while True:
            node = self.nodes[i]
            if node.link is not None and not node.link.closed:
                node.link.send([keepalive_message()])
            i = (i + 1) % n
            next_t += step
            delay = next_t - time.monotonic()
            if delay > 0.001:
                await asyncio.sleep(delay)
            elif i % 64 == 0:
                await asyncio.sleep(0)

    def report(self, event: str = "stats") -> None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        ms = sorted(self.connect_ms)
        out = {
            "event": event,
            "t": time.time(),
            "connected": self.connected,
            "connects": self.connects,
            "failures": self.failures,
            "disconnects": self.disconnects,
            "received": self.received,
            "acked": self.acked,
            "cpu": ru.ru_utime + ru.ru_stime,
            "connect_ms_p50": ms[len(ms) // 2] if ms else None,
            "connect_ms_p99": ms[int(len(ms) * 0.99)] if ms else None,
            "connect_span_s": (self.last_connect - self.first_connect) if self.connects > 1 else 0.0,
        }
        print(json.dumps(out), flush=True)


async def main_async(args: argparse.Namespace) -> None:
    sim = Sim(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(sim.run_node(n)) for n in sim.nodes]
    if args.heartbeat > 0:
        tasks.append(asyncio.create_task(sim.heartbeats()))
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), args.report)
            except TimeoutError:
                pass
            sim.report()
    finally:
        for n in sim.nodes:
            if n.link is not None:
                n.link.close("simulator stopping")
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        sim.report("final")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pki", required=True)
    p.add_argument("--server", required=True, help="host:port of the hub")
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--first", type=int, default=0, help="index of the first node (several simulators)")
    p.add_argument("--protocol", choices=("websocket", "quic"), default="websocket")
    p.add_argument("--lane", choices=("native", "json"), default="native")
    p.add_argument("--heartbeat", type=float, default=15.0, help="seconds between keepalives (0: none)")
    p.add_argument("--concurrency", type=int, default=100, help="handshakes in flight")
    p.add_argument("--report", type=float, default=1.0)
    p.add_argument("--reconnect", action="store_true", help="reconnect (with jittered backoff) when dropped")
    args = p.parse_args(argv)
    run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
