"""Hub benchmarks (issue 4): one cloud process (`cloudbench`) against edge simulator processes (`edgesim`).

    python -m bench.hub.run [--scenario all|sessions|tput|json|quic|restart] [--nodes 10000] [--quick]
                            [--out bench/results/hub.json]

Scenarios:
  sessions  N mTLS WebSocket sessions: handshakes/s and server CPU per handshake during the ramp, RSS per
            session, then idle CPU with every edge sending a keepalive each 15 s.
  restart   the cloud process is killed and restarted with N edges connected: time until all are back.
  tput      1,000 nodes, native lane: ack-required messages/s, CPU, enqueue-to-ack p50/p99.
  json      the same on the KubeEdge JSON lane.
  quic      QUIC: concurrent sessions (RSS, handshakes/s) and batched throughput across 500 nodes.
Each simulator process holds at most 5,000 sessions (the per-process file limit here is 20,000).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.hub.pki import make_pki

PER_SIM = 5000
PY = sys.executable


def _env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


class Proc:
    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.last: dict = {}
        self.events: asyncio.Queue[dict] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            try:
                ev = json.loads(line)
            except ValueError:
                sys.stderr.write("[%s] %s" % (self.name, line.decode(errors="replace")))
                continue
            if ev.get("event") in ("stats", "final"):
                self.last = ev
            else:
                await self.events.put(ev)

    async def command(self, cmd: dict, timeout: float = 600) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        return await asyncio.wait_for(self.events.get(), timeout)

    async def quit(self) -> None:
        """Ask the cloud process to end (it answers nothing), then make sure it did."""
        if self.proc.returncode is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write(b'{"cmd": "quit"}\n')
                await self.proc.stdin.drain()
                await asyncio.wait_for(self.proc.wait(), 30)
            except (TimeoutError, ConnectionError):
                pass
        await self.stop()

    async def stop(self, kill: bool = False) -> None:
        if self.proc.returncode is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self.reader


async def start_cloud(pki: str, protocol: str, port: int = 0) -> tuple[Proc, int]:
    proc = await asyncio.create_subprocess_exec(
        PY, "-m", "bench.hub.cloudbench", "--pki", pki, "--protocol", protocol, "--port", str(port),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env(),
    )  # fmt: skip
    p = Proc(proc, "cloud")
    ready = await asyncio.wait_for(p.events.get(), 60)
    return p, ready["port"]


async def start_sims(pki: str, port: int, nodes: int, *, protocol: str, lane: str, heartbeat: float,
                     reconnect: bool = False, concurrency: int = 100) -> list[Proc]:  # fmt: skip
    sims = []
    for i in range(math.ceil(nodes / PER_SIM)):
        first = i * PER_SIM
        count = min(PER_SIM, nodes - first)
        args = [
            PY, "-m", "bench.hub.edgesim", "--pki", pki, "--server", "127.0.0.1:%d" % port,
            "--nodes", str(count), "--first", str(first), "--protocol", protocol, "--lane", lane,
            "--heartbeat", str(heartbeat), "--concurrency", str(concurrency),
        ]  # fmt: skip
        if reconnect:
            args.append("--reconnect")
        proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE, env=_env())
        sims.append(Proc(proc, "sim%d" % i))
    return sims


async def wait_connected(sims: list[Proc], want: int, timeout: float) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if sum(s.last.get("connected", 0) for s in sims) >= want:
            return time.perf_counter() - t0
        await asyncio.sleep(0.2)
    got = sum(s.last.get("connected", 0) for s in sims)
    raise TimeoutError("only %d of %d sessions connected after %.0f s" % (got, want, timeout))


async def scenario_sessions(pki: str, nodes: int, protocol: str, idle: float) -> dict:
    cloud, port = await start_cloud(pki, protocol)
    try:
        m0 = await cloud.command({"cmd": "mark"})
        sims = await start_sims(pki, port, nodes, protocol=protocol, lane="native", heartbeat=15.0)
        try:
            ramp = await wait_connected(sims, nodes, timeout=max(120.0, nodes / 20))
            m1 = await cloud.command({"cmd": "mark"})
            idle_r = await cloud.command({"cmd": "idle", "seconds": idle}, timeout=idle + 60)
            m2 = await cloud.command({"cmd": "mark"})
        finally:
            for s in sims:
                await s.stop()
        cpu_ramp = m1["cpu"] - m0["cpu"]
        return {
            "protocol": protocol,
            "sessions": m1["sessions"],
            "ramp_s": round(ramp, 2),
            "handshakes_per_s": round(nodes / ramp, 1),
            "server_cpu_ms_per_handshake": round(1000 * cpu_ramp / nodes, 3),
            "handshakes_per_cpu_s": round(nodes / cpu_ramp, 1) if cpu_ramp else None,
            "rss_mb": round(m1["rss_kb"] / 1024, 1),
            "rss_kb_per_session": round((m1["rss_kb"] - m0["rss_kb"]) / nodes, 2),
            "idle_cpu_pct_with_heartbeats": round(idle_r["cpu_pct"], 2),
            "idle_seconds": idle,
            "rss_kb_per_session_after_idle": round((m2["rss_kb"] - m0["rss_kb"]) / nodes, 2),
        }
    finally:
        await cloud.quit()


async def scenario_tput(pki: str, nodes: int, protocol: str, lane: str, seconds: float, depth: int) -> dict:
    cloud, port = await start_cloud(pki, protocol)
    try:
        sims = await start_sims(pki, port, nodes, protocol=protocol, lane=lane, heartbeat=15.0)
        try:
            await wait_connected(sims, nodes, timeout=300)
            r = await cloud.command({"cmd": "tput", "seconds": seconds, "nodes": nodes, "depth": depth})
            sim_cpu = sum(s.last.get("cpu", 0) for s in sims)
            # Latency under load: a quarter of the closed-loop maximum, offered open-loop (spread over all
            # nodes, so frames carry few messages each: the per-frame cost is what this exercises).
            quarter = round(r["msgs_per_s"] / 4)
            lr = await cloud.command({"cmd": "load", "seconds": seconds, "nodes": nodes, "rate": quarter})
            lr.pop("event", None)
            r["at_quarter_load"] = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in lr.items()}
        finally:
            for s in sims:
                await s.stop()
        r.pop("event", None)
        r.update({"protocol": protocol, "lane": lane, "depth": depth, "sim_cpu_s_total": round(sim_cpu, 1)})
        r["msgs_per_s"] = round(r["msgs_per_s"])
        r["cpu_pct"] = round(r["cpu_pct"], 1)
        return r
    finally:
        await cloud.quit()


async def scenario_restart(pki: str, nodes: int) -> dict:
    cloud, port = await start_cloud(pki, "websocket")
    sims = await start_sims(
        pki, port, nodes, protocol="websocket", lane="native", heartbeat=15.0, reconnect=True
    )
    try:
        await wait_connected(sims, nodes, timeout=max(120.0, nodes / 20))
        await cloud.stop(kill=True)
        t_kill = time.perf_counter()
        while sum(s.last.get("connected", 0) for s in sims) > 0:
            await asyncio.sleep(0.1)
        cloud, _ = await start_cloud(pki, "websocket", port)
        t_up = time.perf_counter()
        back = await wait_connected(sims, nodes, timeout=300)
        return {
            "nodes": nodes,
            "all_back_after_restart_s": round(back, 2),
            "kill_to_all_back_s": round(time.perf_counter() - t_kill, 2),
            "cloud_start_s": round(t_up - t_kill, 2),
        }
    finally:
        for s in sims:
            await s.stop()
        await cloud.quit()


async def main_async(args: argparse.Namespace) -> dict:
    nodes = args.nodes
    quick = args.quick
    tmp = Path(tempfile.mkdtemp(prefix="kedge-hubbench-pki-"))
    pki = make_pki(tmp, "bench", max(nodes, args.tput_nodes, args.quic_nodes))["dir"]
    res: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        import subprocess as sp

        res["git"] = sp.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        pass
    s = args.scenario
    secs = 3.0 if quick else 10.0
    if s in ("all", "sessions"):
        res["sessions"] = await scenario_sessions(pki, nodes, "websocket", idle=5.0 if quick else 30.0)
        print(json.dumps(res["sessions"]), flush=True)
    if s in ("all", "tput"):
        res["tput_native"] = await scenario_tput(pki, args.tput_nodes, "websocket", "native", secs, 128)
        print(json.dumps(res["tput_native"]), flush=True)
    if s in ("all", "json"):
        res["tput_json"] = await scenario_tput(pki, args.tput_nodes, "websocket", "json", secs, 64)
        print(json.dumps(res["tput_json"]), flush=True)
    if s in ("all", "quic"):
        res["quic_sessions"] = await scenario_sessions(
            pki, args.quic_nodes, "quic", idle=5.0 if quick else 20.0
        )
        print(json.dumps(res["quic_sessions"]), flush=True)
        res["quic_tput"] = await scenario_tput(pki, min(500, args.quic_nodes), "quic", "native", secs, 32)
        print(json.dumps(res["quic_tput"]), flush=True)
    if s in ("all", "restart"):
        res["restart"] = await scenario_restart(pki, nodes)
        print(json.dumps(res["restart"]), flush=True)
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--scenario", default="all", choices=("all", "sessions", "tput", "json", "quic", "restart")
    )
    p.add_argument("--nodes", type=int, default=10000, help="sessions for the sessions/restart scenarios")
    p.add_argument("--tput-nodes", type=int, default=1000)
    p.add_argument("--quic-nodes", type=int, default=5000)
    p.add_argument("--quick", action="store_true", help="short windows (a smoke run, not a measurement)")
    p.add_argument("--out", help="write the results JSON here")
    args = p.parse_args(argv)
    from kedge.aio.loops import run

    res = run(main_async(args))
    text = json.dumps(res, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
