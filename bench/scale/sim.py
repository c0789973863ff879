"""The hollow-node simulator: many edge nodes in one process, joined with the real join flow.

    python -m bench.scale.sim --hub 127.0.0.1:10000 --certport 10002 --token T --count 1000

Nodes `<prefix><index:05d>` for index first .. first+count-1 join cloudcore (certmanager.join: CSR over
HTTPS with the token, `--join-concurrency` at once) unless --state-dir holds a valid identity of theirs
signed by the token's CA, then start at `--ramp` nodes per second. Stdout carries one JSON event per line
(bench/scale contract): joined, started, stats every `--report` s, pods (batched, once a second), error;
SIGTERM/SIGINT stops every node cleanly and prints `stopped`. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import hashlib
import json
import logging
import os
import resource
import signal
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from bench.scale.hollow import HollowNode, base_config, node_config, node_files
from kedge.aio.fdlimit import raise_open_files

log = logging.getLogger("bench.scale.sim")
T = TypeVar("T")
JOIN_ATTEMPTS = 3


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def lean_process() -> None:
    """Per-connection buffers sized for one edge per process, trimmed for thousands of them: asyncio's TLS
    read buffer (256 KiB, touched in full, per connection; a TLS record is at most 16 KiB; only with
    `--loop asyncio`, uvloop has its own TLS layer) and SQLite's lookaside (~120 KiB per connection, two
    per node). Neither changes what goes over the wire."""
    import asyncio.sslproto

    import apsw

    asyncio.sslproto.SSLProtocol.max_size = 32 * 1024
    try:
        apsw.shutdown()
        apsw.config(apsw.SQLITE_CONFIG_LOOKASIDE, 0, 0)
        apsw.initialize()
    except apsw.Error as e:  # only possible before any connection is open
        log.warning("cannot turn SQLite's lookaside off: %s", e)


def rss_kb() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cpu_seconds() -> float:
    t = os.times()
    return round(t.user + t.system, 3)


def node_names(prefix: str, first: int, count: int) -> list[str]:
    return ["%s%05d" % (prefix, i) for i in range(first, first + count)]


def identity_usable(state_dir: Path, node: str, ca_hash: str, now: float) -> bool:
    """A certificate from an earlier run that is valid now, for this node, with the CA the token names."""
    from kedge.edge.edgehub import certmanager
    from kedge.security import certdates
    from kedge.security.errors import PKIError

    ca, cert, key = node_files(state_dir, node)
    try:
        ca_der = certdates.pem_to_der(ca.read_bytes())
    except (OSError, PKIError):
        return False
    if hashlib.sha256(ca_der).hexdigest() != ca_hash:
        return False
    return not certmanager.needs_join(cert, key, node, now)


async def join_all(args: argparse.Namespace, names: list[str]) -> int:
    """Join the nodes without a usable identity, `--join-concurrency` at once; the number reused."""
    from kedge.edge.edgehub import certmanager
    from kedge.security import tokens

    ca_hash, _ = tokens.split_token(args.token.strip())
    now = time.time()
    todo = [n for n in names if not identity_usable(args.state_dir, n, ca_hash, now)]
    if not todo:
        return len(names)
    host = args.hub.rpartition(":")[0]
    server = "https://%s:%d" % (host, args.certport)
    sem = asyncio.BoundedSemaphore(args.join_concurrency)

    async def one(node: str) -> None:
        ca, cert, key = node_files(args.state_dir, node)
        async with sem:
            for attempt in range(1, JOIN_ATTEMPTS + 1):
                try:
                    await certmanager.join(server, args.token, node, ca_file=ca, cert_file=cert, key_file=key)
                    return
                except certmanager.JoinError as e:
                    if attempt == JOIN_ATTEMPTS:
                        raise RuntimeError("node %s cannot join: %s" % (node, e)) from None
                    log.warning("node %s: join failed (%s); retrying", node, e)
                    await asyncio.sleep(attempt)

    # certmanager.join runs in the default executor: size it to the join concurrency for the joins only
    loop = asyncio.get_running_loop()
    pool = concurrent.futures.ThreadPoolExecutor(args.join_concurrency, thread_name_prefix="join")
    loop.set_default_executor(pool)
    try:
        await asyncio.gather(*(one(n) for n in todo))
    finally:
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="sim"))
        pool.shutdown(wait=False, cancel_futures=True)
    return len(names) - len(todo)


class Sim:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.names = node_names(args.prefix, args.first, args.count)
        self.nodes: list[HollowNode] = []
        self.seen: list[list[Any]] = []
        self.seen_total = 0
        self.stopping = asyncio.Event()

    def pod_seen(self, namespace: str, name: str, t: float) -> None:
        self.seen.append([namespace, name, round(t, 6)])
        self.seen_total += 1

    async def _or_stop(self, aw: Awaitable[T]) -> tuple[bool, T | None]:
        """(True, result) when `aw` finished first, (False, None) when a signal came first."""
        task = asyncio.ensure_future(aw)
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if task.done():
            return True, task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False, None

    async def run(self) -> int:
        args = self.args
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        t0 = time.monotonic()
        try:
            finished, reused = await self._or_stop(join_all(args, self.names))
        except Exception as e:
            emit("error", message="join: %s" % e)
            return 1
        if not finished:
            emit("stopped")
            return 0
        emit("joined", nodes=len(self.names), seconds=round(time.monotonic() - t0, 3), reused=reused)
        t0 = time.monotonic()
        tasks: list[asyncio.Task] = []
        try:
            finished, _ = await self._or_stop(self._start_nodes())
            if finished:
                from kedge.aio.loops import release_startup_memory, tune_gc

                release_startup_memory()
                # thousands of nodes' objects, long-lived: out of the cyclic collector's view, as
                # cloudcore does with its start-up (a full collection of this heap took ~1 s, and
                # py-spy put a sixth of the load-time CPU on allocations that triggered one)
                tune_gc()
                emit("started", nodes=len(self.nodes), seconds=round(time.monotonic() - t0, 3))
                tasks = [
                    loop.create_task(self._stats_loop(), name="stats"),
                    loop.create_task(self._pods_loop(), name="pods"),
                ]
                await self.stopping.wait()
        except Exception as e:
            log.exception("simulator failed")
            emit("error", message=str(e))
            await self._stop_nodes()
            return 1
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._stop_nodes()
        self._flush_seen()
        emit("stopped")
        return 0

    async def _start_nodes(self) -> None:
        args = self.args
        base = base_config()
        t0 = time.monotonic()
        for i, name in enumerate(self.names):
            cfg = node_config(
                base,
                name,
                args.state_dir,
                hub=args.hub,
                protocol=args.protocol,
                certport=args.certport,
                db=args.db,
            )
            node = HollowNode(cfg, pod_delay=args.pod_delay, on_pod=self.pod_seen)
            node.start()
            self.nodes.append(node)
            ahead = t0 + (i + 1) / args.ramp - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
            elif i % 50 == 49:
                await asyncio.sleep(0)  # let the started ones run their first steps

    async def _stop_nodes(self) -> None:
        results = await asyncio.gather(*(n.stop() for n in self.nodes), return_exceptions=True)
        for node, r in zip(self.nodes, results, strict=True):
            if isinstance(r, BaseException):
                log.warning("stopping %s: %s", node.name, r)

    def stats(self) -> dict[str, Any]:
        return {
            "t": round(time.time(), 3),
            "connected": sum(1 for n in self.nodes if n.connected),
            "nodes": len(self.nodes),
            "pods": sum(n.pods for n in self.nodes),
            "running": sum(n.running for n in self.nodes),
            "rss_kb": rss_kb(),
            "cpu_s": cpu_seconds(),
        }

    async def _stats_loop(self) -> None:
        while True:
            emit("stats", **self.stats())
            await asyncio.sleep(self.args.report)

    def _flush_seen(self) -> None:
        if self.seen:
            seen, self.seen = self.seen, []
            emit("pods", seen=seen)

    async def _pods_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._flush_seen()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.scale.sim", description=__doc__.split("\n\n")[0])
    p.add_argument("--hub", required=True, help="cloudcore's CloudHub HOST:PORT (websocket, or quic)")
    p.add_argument("--certport", type=int, required=True, help="cloudcore's certificate (join) port")
    p.add_argument("--token", required=True, help="join token (kedge gettoken)")
    p.add_argument("--prefix", default="hollow-")
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--protocol", choices=("websocket", "quic"), default="websocket")
    p.add_argument("--pod-delay", type=float, default=1.0)
    p.add_argument("--db", choices=("memory", "file"), default="memory")
    p.add_argument("--state-dir", type=Path, default=Path("hollow-state"))
    p.add_argument("--join-concurrency", type=int, default=32)
    p.add_argument("--ramp", type=float, default=200.0, help="nodes started per second")
    p.add_argument("--report", type=float, default=5.0, help="seconds between stats lines")
    p.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop (default uvloop: the simulator's own cost shares the machine with what it measures;"
        " a real edgecore, one node per process, runs on asyncio's loop)",
    )
    p.add_argument("-v", "--verbose", action="count", default=0)
    return p


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.count < 1 or args.first < 0:
        p.error("--count must be >= 1 and --first >= 0")
    if args.join_concurrency < 1 or args.ramp <= 0 or args.report <= 0 or args.pod_delay < 0:
        p.error("--join-concurrency >= 1, --ramp > 0, --report > 0 and --pod-delay >= 0 are required")
    host, sep, port = args.hub.rpartition(":")
    if not sep or not host or not port.isdigit():
        p.error("--hub must be HOST:PORT, got %r" % args.hub)


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    check_args(p, args)
    level = logging.WARNING if not args.verbose else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    raise_open_files()
    lean_process()
    args.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        from kedge.aio.loops import loop_factory

        factory = loop_factory() if args.loop == "uvloop" else None
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(Sim(args).run())
    except Exception as e:  # anything fatal the run did not report itself
        log.exception("simulator failed")
        emit("error", message=str(e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
