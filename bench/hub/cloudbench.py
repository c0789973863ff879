"""The cloud side of the hub benchmarks: a real CloudHub (sessions, delivery windows, cursors persisted to
SQLite) behind the WebSocket or QUIC listener, driven by JSON commands on stdin, answering on stdout.

Commands (one JSON object per line):
  {"cmd": "mark"}                               → rss_kb, cpu seconds, sessions
  {"cmd": "idle", "seconds": S}                 → CPU % of one core over S seconds
  {"cmd": "tput", "seconds": S, "nodes": N, "depth": D, "objects": K}
      closed-loop producer: D ack-required messages queued per node for N connected nodes, one more for
      a node each time the node acks one, over K objects per node (latest-wins keys); reports messages
      acked per second, CPU %, and enqueue-to-ack latency p50/p99.
  {"cmd": "quit"}
Message ids come from a counter (the producer is not what is measured; uuid4 would cost ~1.5 µs each).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from kedge.aio.loops import run, tune_gc
from kedge.cloud.cloudhub.cursors import CursorStore
from kedge.cloud.cloudhub.hub import CloudHub, HubSettings
from kedge.cloud.cloudhub.listeners import client_verifier, hub_ssl_context
from kedge.model.codec import raw_json
from kedge.model.message import Message, MessageHeader, MessageRoute

CONTENT = raw_json(
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bench", "namespace": "default", "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}]},
    }
)


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


_SEQ = itertools.count(1)


class Producer:
    """Closed loop: `depth` messages per node up front, then one more each time the node acks one."""

    def __init__(self, hub: CloudHub, objects: int) -> None:
        self.hub = hub
        self.objects = objects
        self.seq = 0
        self.acked = 0
        self.lat: list[int] = []
        self.active = False
        self.per_node: dict[str, int] = {}
        self.results: dict[int, int] = {}

    def one(self, node: str) -> None:
        # Each node cycles through its own `objects` keys, so a key is never queued or in flight twice
        # (objects > depth): no coalescing, every message is acked, the loop keeps its depth.
        self.seq += 1
        s = next(_SEQ)  # resourceVersions keep growing across commands (the cursors remember them)
        k = self.per_node[node] = self.per_node.get(node, 0) + 1
        msg = Message(
            MessageHeader("m%d" % s, "", time.time_ns() // 1_000_000, str(s)),
            MessageRoute("edgecontroller", "", "resource", "update", "default/pod/o-%d" % (k % self.objects)),
            CONTENT,
        )
        r = self.hub.publish(node, msg)
        self.results[r] = self.results.get(r, 0) + 1

    def on_ack(self, node: str, msg: Message) -> None:
        if not self.active:
            return
        self.acked += 1
        if self.acked & 15 == 0:
            self.lat.append(time.time_ns() // 1_000_000 - msg.header.timestamp)
        self.one(node)


async def tput(hub: CloudHub, seconds: float, nodes: int, depth: int, objects: int) -> dict:
    names = list(hub.sessions)[:nodes]
    prod = Producer(hub, objects)
    hub.on_ack = prod.on_ack
    s0 = dict(hub.stats)
    prod.active = True
    c0, t0 = cpu(), time.perf_counter()
    for _ in range(depth):
        for n in names:
            prod.one(n)
    await asyncio.sleep(seconds)
    outs = [hub.nodes[n].outbound for n in names]
    depth_now = {
        "in_flight_avg": sum(o.in_flight for o in outs) / max(len(outs), 1),
        "queued_avg": sum(o.pending() for o in outs) / max(len(outs), 1),
    }
    prod.active = False
    c1, t1 = cpu(), time.perf_counter()
    hub.on_ack = None
    lat = sorted(prod.lat)
    await asyncio.sleep(1.0)  # let the in-flight tail drain before the next command
    frames = hub.stats["frames"] - s0["frames"]
    delivered = hub.stats["delivered"] - s0["delivered"]
    return {
        "nodes": len(names),
        "acked": prod.acked,
        "seconds": t1 - t0,
        "msgs_per_s": prod.acked / (t1 - t0),
        "cpu_pct": 100 * (c1 - c0) / (t1 - t0),
        "lat_ms_p50": lat[len(lat) // 2] if lat else None,
        "lat_ms_p99": lat[int(len(lat) * 0.99)] if lat else None,
        "msgs_per_frame": round(delivered / frames, 1) if frames else None,
        "resent": sum(st.outbound.resent for st in hub.nodes.values()),
        **depth_now,
        "publish_results": prod.results,
    }


async def load(hub: CloudHub, seconds: float, nodes: int, rate: float, objects: int) -> dict:
    """Open loop: `rate` messages/s offered round-robin over `nodes`, in 10 ms ticks; the latency of
    each ack (enqueue to ack) at a load the hub can carry."""
    names = list(hub.sessions)[:nodes]
    outs = [hub.nodes[n].outbound for n in names]
    for _ in range(100):  # let what an earlier command queued drain first (up to 10 s)
        if not any(o.in_flight or o.pending() for o in outs):
            break
        await asyncio.sleep(0.1)
    prod = Producer(hub, objects)
    lat: list[int] = []

    def on_ack(node: str, msg: Message) -> None:
        prod.acked += 1
        lat.append(time.time_ns() // 1_000_000 - msg.header.timestamp)

    hub.on_ack = on_ack
    c0, t0 = cpu(), time.perf_counter()
    sent = 0
    i = 0
    while (now := time.perf_counter()) - t0 < seconds:
        due = int(rate * (now - t0)) - sent
        for _ in range(due):
            prod.one(names[i])
            i = (i + 1) % len(names)
        sent += due
        await asyncio.sleep(0.01)
    c1, t1 = cpu(), time.perf_counter()
    await asyncio.sleep(2.0)
    hub.on_ack = None
    lat.sort()
    return {
        "nodes": len(names),
        "offered_per_s": rate,
        "sent": sent,
        "acked": prod.acked,
        "cpu_pct": 100 * (c1 - c0) / (t1 - t0),
        "lat_ms_p50": lat[len(lat) // 2] if lat else None,
        "lat_ms_p99": lat[int(len(lat) * 0.99)] if lat else None,
    }


async def main_async(args: argparse.Namespace) -> None:
    info = json.loads((Path(args.pki) / "pki.json").read_text())
    tmp = tempfile.mkdtemp(prefix="kedge-hubbench-")
    cursors = None if args.no_cursors else CursorStore(Path(tmp) / "cursors.db")
    hub = CloudHub(
        None,
        HubSettings(node_limit=1_000_000, keepalive_interval=args.keepalive, window=args.window),
        cursors,
    )
    timer = asyncio.create_task(hub.run())
    if args.protocol == "quic":
        from cryptography import x509

        from kedge.transport.quic_server import serve_quic

        ca = x509.load_pem_x509_certificate(Path(info["ca"]).read_bytes())
        server = await serve_quic(
            "127.0.0.1",
            args.port,
            cert_path=info["server_cert"],
            key_path=info["server_key"],
            verify_client=client_verifier(ca),
            acceptor=hub.acceptor,
        )
    else:
        from kedge.transport.ws_server import serve_ws

        ctx = hub_ssl_context(info["server_cert"], info["server_key"], info["ca"])
        server = await serve_ws("127.0.0.1", args.port, ctx, hub.acceptor)
    if not args.default_gc:
        tune_gc()  # as cloudcore does
    print(json.dumps({"event": "ready", "port": server.port, "rss_kb": rss_kb()}), flush=True)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = json.loads(line)
            name = cmd.get("cmd")
            if name == "mark":
                import gc

                gc.collect()
                out = {"rss_kb": rss_kb(), "cpu": cpu(), "sessions": len(hub.sessions)}
            elif name == "idle":
                c0, t0 = cpu(), time.perf_counter()
                await asyncio.sleep(cmd["seconds"])
                out = {
                    "cpu_pct": 100 * (cpu() - c0) / (time.perf_counter() - t0),
                    "sessions": len(hub.sessions),
                }
            elif name == "tput":
                out = await tput(
                    hub, cmd["seconds"], cmd["nodes"], cmd.get("depth", 128), cmd.get("objects", 1024)
                )
            elif name == "load":
                out = await load(hub, cmd["seconds"], cmd["nodes"], cmd["rate"], cmd.get("objects", 1024))
            elif name == "quit":
                break
            else:
                out = {"error": "unknown command %r" % name}
            out["event"] = name
            print(json.dumps(out), flush=True)
    finally:
        hub.close_all("benchmark over")
        server.close()
        await server.wait_closed()
        timer.cancel()
        try:
            await timer
        except asyncio.CancelledError:
            pass
        if cursors is not None:
            cursors.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pki", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--protocol", choices=("websocket", "quic"), default="websocket")
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--keepalive", type=float, default=30.0)
    p.add_argument("--default-gc", action="store_true", help="keep CPython's default GC thresholds")
    p.add_argument("--no-cursors", action="store_true", help="do not persist delivery cursors (isolates it)")
    args = p.parse_args(argv)
    run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
