"""Density test in the style of ClusterLoader2's (KubeEdge's 100,000-node report): hollow edge nodes, then
pods created at a fixed rate through the API server with a real client, each timed from create to
scheduled, to stored at the edge, to Running seen by a watcher.

    python -m bench.scale.density --nodes 1000 [--pods 10000] [--pod-rate 100] [--apiserver separate]
        [--protocol websocket] [--idle 60] [--out bench/results/density-1000.json]

Processes: `kedge apiserver` (or cloudcore's embedded one), `kedge cloudcore`, and simulator processes
(`bench.scale.sim`, at most --per-sim nodes each); this process drives the API and watches. Everything
shares this machine, as in the issue's targets.

Reported (one run; `bench.scale.results` gives the schema):
  startup latency    create call sent → pod Running in a watch (p50/p90/p99/max); SLO p99 ≤ 5 s
  phases             create → scheduled (nodeName in a watch), create → stored at the edge (the hollow
                     node's MetaManager has it), edge → Running
  API call latency   mutating (the pod creates) and read-only (GET a node, LIST a namespace's pods with
                     a limit, a few per second) as this client sees them; SLO mutating p99 ≤ 1 s
  resources          CPU seconds and peak RSS of cloudcore, the API server and the simulators; cloudcore RSS
                     per connected node; API server SQLite size; bytes on the wire (TCP payload both ways on
                     CloudHub's port, from the kernel's tcp_info via `ss`) per node per minute, idle and
                     under load (WebSocket only: QUIC's datagrams have no per-connection counters)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.scale import results as res
from bench.scale.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
LABEL = "kedge-density"
#: seconds a broken point still waits for its pods to run (the figures of what did start)
BROKEN_SETTLE_S = 15.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- process accounting ------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (/proc/<pid>/stat fields 14 and 15)."""
    try:
        fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_kb(pid: int, key: str = "VmRSS") -> int:
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


_SS_BYTES = re.compile(r"bytes_(sent|received):(\d+)")


def wire_bytes(port: int) -> int | None:
    """TCP payload bytes, both ways, of the established connections on local port `port` (kernel
    tcp_info through `ss`); None without `ss`."""
    try:
        out = subprocess.run(
            ["ss", "-tinH", "state", "established", "( sport = :%d )" % port],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return sum(int(n) for _, n in _SS_BYTES.findall(out))


# -- the processes -----------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    popen: subprocess.Popen
    log: Path
    lines: asyncio.Queue | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid


@dataclass
class Cluster:
    work: Path
    args: argparse.Namespace
    children: list[Child] = field(default_factory=list)
    kubeconfig: Path | None = None
    hub_port: int = 0
    cert_port: int = 0
    apiserver: Child | None = None
    cloudcore: Child | None = None
    sims: list[Child] = field(default_factory=list)
    sim_stats: dict[str, dict] = field(default_factory=dict)  # the latest "stats" line of each simulator
    readers: list[asyncio.Future] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], *, pipe: bool = False) -> Child:
        log = self.work / ("%s.log" % name)
        out = open(log, "wb")  # noqa: SIM115 - the child holds it for its life
        popen = subprocess.Popen(
            argv, stdout=subprocess.PIPE if pipe else out, stderr=out, env=_env(), start_new_session=True
        )
        child = Child(name, popen, log)
        self.children.append(child)
        return child

    def check(self) -> None:
        for c in self.children:
            if c.popen.poll() is not None:
                tail = "\n".join(c.log.read_text(errors="replace").splitlines()[-20:])
                raise RuntimeError("%s exited with %s:\n%s" % (c.name, c.popen.returncode, tail))

    def stop(self) -> None:
        for group in (self.sims, [self.cloudcore], [self.apiserver]):
            live = [c for c in group if c is not None and c.popen.poll() is None]
            for c in live:
                c.popen.send_signal(signal.SIGTERM)
            for c in live:
                try:
                    c.popen.wait(60)
                except subprocess.TimeoutExpired:
                    c.popen.kill()
                    c.popen.wait()


async def start_control_plane(cl: Cluster) -> None:
    a = cl.args
    cloud_dir = cl.work / "cloud"
    out = subprocess.run(
        [PY, "-m", "kedge", "cloudcore", "--defaultconfig"], capture_output=True, text=True, check=True
    )
    cfg = yaml.safe_load(out.stdout)
    cfg["dataDir"] = str(cloud_dir)
    cfg["commonConfig"]["monitorServer"]["bindAddress"] = "127.0.0.1:%d" % free_port()
    hub = cfg["modules"]["cloudHub"]
    hub["nodeLimit"] = a.nodes + 100
    cl.hub_port, cl.cert_port = free_port(), free_port()
    quic_port = free_port(socket.SOCK_DGRAM)
    hub["websocket"].update(address="127.0.0.1", port=cl.hub_port)
    hub["https"].update(address="127.0.0.1", port=cl.cert_port)
    hub["quic"].update(enable=a.protocol == "quic", address="127.0.0.1", port=quic_port)
    if a.protocol == "quic":
        cl.hub_port = quic_port
    hub["unixsocket"]["enable"] = False
    if a.apiserver == "separate":
        api_dir = cl.work / "api"
        cl.apiserver = cl.spawn(
            "apiserver",
            [
                PY,
                "-m",
                "kedge",
                "apiserver",
                "--listen",
                "127.0.0.1:%d" % free_port(),
                "--data-dir",
                str(api_dir),
            ],
        )
        cl.kubeconfig = api_dir / "admin.kubeconfig"
        await _until(cl, lambda: cl.kubeconfig.exists(), 60, "the API server's kubeconfig")
        cfg["kubeAPIConfig"]["kubeConfig"] = str(cl.kubeconfig)
    else:
        cfg["embeddedAPIServer"]["port"] = free_port()
        cl.kubeconfig = cloud_dir / "admin.kubeconfig"
    path = cl.work / "cloudcore.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cl.cloudcore = cl.spawn("cloudcore", [PY, "-m", "kedge", "cloudcore", "--config", str(path)])
    ready = cloud_dir / "cloudcore.ready.json"
    await _until(cl, ready.exists, 120, "cloudcore ready")


async def _until(cl: Cluster, cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        cl.check()
        if time.monotonic() > deadline:
            raise TimeoutError("no %s within %g s" % (what, timeout))
        await asyncio.sleep(0.1)


async def _read_lines(child: Child) -> None:
    assert child.lines is not None
    reader = asyncio.StreamReader(limit=1 << 24)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), child.popen.stdout)
    while line := await reader.readline():
        try:
            await child.lines.put(json.loads(line))
        except ValueError:
            continue


async def start_sims(cl: Cluster, token: str, edge_seen: dict[tuple[str, str], float]) -> dict[str, float]:
    a = cl.args
    per = a.per_sim
    count = math.ceil(a.nodes / per)
    state = Path(a.state_dir) if a.state_dir else cl.work / "identities"
    t0 = time.monotonic()
    for i in range(count):
        first, n = i * per, min(per, a.nodes - i * per)
        child = cl.spawn(
            "sim-%d" % i,
            [
                PY, "-m", "bench.scale.sim", "--hub", "127.0.0.1:%d" % cl.hub_port,
                "--certport", str(cl.cert_port), "--token", token, "--prefix", a.prefix,
                "--first", str(first), "--count", str(n), "--protocol", a.protocol,
                "--pod-delay", str(a.pod_delay), "--state-dir", str(state), "--ramp", str(a.ramp),
            ],
            pipe=True,
        )  # fmt: skip
        child.lines = asyncio.Queue()
        cl.readers.append(asyncio.ensure_future(_read_lines(child)))
        cl.sims.append(child)
    timing = {"join_s": float("nan"), "started_s": float("nan")}
    joined = started = 0
    with Progress(len(cl.sims), "simulators started") as bar:
        while started < len(cl.sims):
            cl.check()
            for c in cl.sims:
                assert c.lines is not None
                while not c.lines.empty():
                    ev = c.lines.get_nowait()
                    kind = ev.get("event")
                    if kind == "joined":
                        joined += 1
                        if joined == len(cl.sims):
                            timing["join_s"] = time.monotonic() - t0
                    elif kind == "started":
                        started += 1
                        bar.update_to(started)
                    elif kind == "error":
                        raise RuntimeError("%s: %s" % (c.name, ev.get("message")))
                    elif kind == "stats":
                        cl.sim_stats[c.name] = ev
                    elif kind == "pods":
                        _seen(edge_seen, ev)
            await asyncio.sleep(0.1)
    timing["started_s"] = time.monotonic() - t0
    for c in cl.sims:
        cl.readers.append(asyncio.ensure_future(_drain(cl, c, edge_seen)))
    return timing


def _seen(edge_seen: dict[tuple[str, str], float], ev: dict) -> None:
    for ns, name, t in ev.get("seen", ()):
        edge_seen.setdefault((ns, name), t)


async def _drain(cl: Cluster, c: Child, edge_seen: dict[tuple[str, str], float]) -> None:
    assert c.lines is not None
    while True:
        ev = await c.lines.get()
        if ev.get("event") == "pods":
            _seen(edge_seen, ev)
        elif ev.get("event") == "stats":
            cl.sim_stats[c.name] = ev


# -- the API side ------------------------------------------------------------------------------------


class Kube:
    """The client side: kubernetes_asyncio (the client library kedge's cloudcore uses) for the timed calls,
    and aiohttp streams for the watches (decoded with msgspec: a watch of 100,000 pods must not cost the
    test more than the system it measures)."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        cfg = yaml.safe_load(kubeconfig.read_text())
        cluster = cfg["clusters"][0]["cluster"]
        self.server = cluster["server"]
        self.token = cfg["users"][0]["user"]["token"]
        self.ssl = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
        )
        self.api: Any = None
        self.http: Any = None

    async def open(self) -> None:
        import aiohttp

        from kedge.k8s.client import open_api

        self.api = await open_api(str(self.kubeconfig))
        self.http = aiohttp.ClientSession(
            headers={"Authorization": "Bearer %s" % self.token},
            connector=aiohttp.TCPConnector(ssl=self.ssl, limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
        )

    async def close(self) -> None:
        if self.api is not None:
            await self.api.close()
        if self.http is not None:
            await self.http.close()

    async def watch(self, path: str, on_event: Any, stop: asyncio.Event) -> None:
        """List then watch `path` (e.g. /api/v1/nodes), calling on_event(type, obj) for each; resumes
        from the last resourceVersion when the stream ends."""
        import msgspec

        decoder = msgspec.json.Decoder()
        sep = "&" if "?" in path else "?"
        async with self.http.get(self.server + path) as r:
            body = decoder.decode(await r.read())
        rv = body["metadata"]["resourceVersion"]
        for obj in body.get("items") or []:
            on_event("ADDED", obj)
        while not stop.is_set():
            url = "%s%s%swatch=1&allowWatchBookmarks=true&resourceVersion=%s" % (self.server, path, sep, rv)
            try:
                async with self.http.get(url) as r:
                    async for line in r.content:
                        ev = decoder.decode(line)
                        obj = ev["object"]
                        rv = obj.get("metadata", {}).get("resourceVersion", rv)
                        if ev["type"] != "BOOKMARK":
                            on_event(ev["type"], obj)
            except (TimeoutError, OSError) as e:
                if stop.is_set():
                    return
                print("watch %s: %s; resuming" % (path, e), file=sys.stderr)
                await asyncio.sleep(0.5)


def _node_ready(obj: dict) -> bool:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


@dataclass
class PodTimes:
    created: dict[tuple[str, str], float] = field(default_factory=dict)  # wall clock, before the call
    scheduled: dict[tuple[str, str], float] = field(default_factory=dict)
    running: dict[tuple[str, str], float] = field(default_factory=dict)
    mutating: list[float] = field(default_factory=list)
    readonly: list[float] = field(default_factory=list)
    failed: int = 0


def pod_body(name: str, ns: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": LABEL}},
        "spec": {
            "containers": [
                {
                    "name": "pause",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
                }
            ],
            "tolerations": [{"key": "node-role.kubernetes.io/edge", "operator": "Exists"}],
        },
    }


async def create_pods(
    kube: Kube, a: argparse.Namespace, times: PodTimes, halt: asyncio.Event | None = None
) -> float:
    """Creates a.pods pods at a.pod_rate per second (open loop: each create starts at its slot whatever
    the earlier ones are doing, as ClusterLoader2's qps-limited creation), at most a.inflight at once.
    Stops starting new ones once `halt` is set (the cluster broke: more load measures nothing) or after
    a.max_load seconds (a slow cluster would otherwise take hours over a 100,000-pod point)."""
    from kubernetes_asyncio import client

    core = client.CoreV1Api(kube.api)
    sem = asyncio.Semaphore(a.inflight)
    namespaces = ["density-%d" % i for i in range(a.namespaces)]

    async def one(i: int) -> None:
        ns = namespaces[i % len(namespaces)]
        name = "pod-%06d" % i
        async with sem:
            if stopped():
                return
            t_wall, t0 = time.time(), time.perf_counter()
            times.created[(ns, name)] = t_wall
            try:
                resp = await core.create_namespaced_pod(ns, pod_body(name, ns), _preload_content=False)
                await resp.read()
                resp.release()
            except Exception as e:  # counted and reported: a failed create is a test result
                times.failed += 1
                times.created.pop((ns, name), None)
                if times.failed <= 5:
                    print("create %s/%s: %s" % (ns, name, e), file=sys.stderr)
                return
            times.mutating.append(time.perf_counter() - t0)

    t0 = time.monotonic()

    def stopped() -> bool:
        return (halt is not None and halt.is_set()) or bool(a.max_load and time.monotonic() - t0 > a.max_load)

    tasks = []
    with Progress(a.pods, "pods created") as bar:
        for i in range(a.pods):
            delay = t0 + i / a.pod_rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if stopped():
                break
            tasks.append(asyncio.ensure_future(one(i)))
            if i % 100 == 0:
                bar.update_to(i)
        await asyncio.gather(*tasks)
        bar.update_to(len(tasks))
    return time.monotonic() - t0


def not_ready_limit(nodes: int, fraction: float) -> int:
    """How many NotReady nodes mean the cluster broke: more than `fraction` of them, at least one."""
    return max(1, int(nodes * fraction))


async def watch_for_break(
    ready: set[str], a: argparse.Namespace, phase: str, halt: asyncio.Event, every: float = 1.0
) -> None:
    """Sets `halt` with the reason (in a.broke) when more nodes than a.break_not_ready allows are NotReady:
    their leases were not renewed within the grace period, so the node lifecycle starts evicting and the
    cluster spirals (what happened at 5,000 nodes before); the point is recorded as broken."""
    limit = not_ready_limit(a.nodes, a.break_not_ready)
    t0 = time.monotonic()
    while not halt.is_set():
        down = a.nodes - len(ready)
        if down >= limit:
            a.broke = "%d of %d nodes NotReady %.0f s into the %s (leases late past the grace period)" % (
                down, a.nodes, time.monotonic() - t0, phase,
            )  # fmt: skip
            a.broke_at = time.monotonic()
            print("broke: %s" % a.broke, file=sys.stderr)
            halt.set()
            return
        await asyncio.sleep(every)


async def probe_reads(
    kube: Kube, nodes: list[str], times: PodTimes, stop: asyncio.Event, a: argparse.Namespace
) -> None:
    """Read-only calls, a few per second: GET a node, LIST one namespace's pods (limit 50)."""
    from kubernetes_asyncio import client

    core = client.CoreV1Api(kube.api)
    rng = random.Random(1)
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            if rng.random() < 0.5:
                r = await core.read_node(rng.choice(nodes), _preload_content=False)
            else:
                ns = "density-%d" % rng.randrange(a.namespaces)
                r = await core.list_namespaced_pod(ns, limit=50, _preload_content=False)
            await r.read()
            r.release()
            times.readonly.append(time.perf_counter() - t0)
        except Exception as e:
            print("read-only probe: %s" % e, file=sys.stderr)
        await asyncio.sleep(0.2)


# -- the run -----------------------------------------------------------------------------------------


def _resources(cl: Cluster) -> dict[str, Any]:
    def one(c: Child | None) -> dict[str, float] | None:
        if c is None:
            return None
        return {"cpu_s": round(cpu_seconds(c.pid), 2), "peak_rss_mb": round(rss_kb(c.pid, "VmHWM") / 1024, 1)}

    sims = [one(c) for c in cl.sims]
    return {
        "cloudcore": one(cl.cloudcore),
        "apiserver": one(cl.apiserver),
        "simulators": {
            "cpu_s": round(sum(s["cpu_s"] for s in sims if s), 2),
            "peak_rss_mb": round(sum(s["peak_rss_mb"] for s in sims if s), 1),
        },
    }


def _cpu_now(cl: Cluster) -> dict[str, float]:
    procs = (("apiserver", cl.apiserver), ("cloudcore", cl.cloudcore))
    out = {name: cpu_seconds(c.pid) for name, c in procs if c is not None}
    out["simulators"] = sum(cpu_seconds(c.pid) for c in cl.sims)
    return out


async def timeline(
    cl: Cluster, ready: set[str], times: PodTimes, into: list[dict[str, Any]], every: float = 5.0
) -> None:
    """Every `every` seconds: nodes Ready, pods created and Running, and each process's CPU share over
    the period. Where a point breaks, this says what ran out first and when."""
    t0, last_t, last = time.monotonic(), time.monotonic(), _cpu_now(cl)
    while True:
        await asyncio.sleep(every)
        now_t, now = time.monotonic(), _cpu_now(cl)
        span = now_t - last_t
        into.append(
            {
                "t": round(now_t - t0, 1),
                "ready": len(ready),
                "created": len(times.created),
                "running": len(times.running),
                "cpu": {k: round((now[k] - last.get(k, 0.0)) / span, 2) for k in now},
            }
        )
        last_t, last = now_t, now


def _sqlite_mb(cl: Cluster) -> float:
    base = cl.work / ("api" if cl.apiserver is not None else "cloud") / "apiserver"
    total = sum(p.stat().st_size for p in base.glob("apiserver.db*") if p.is_file())
    return round(total / 1e6, 1)


async def run(a: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="kedge-density-"))
    cl = Cluster(work, a)
    print(
        "density: %d nodes, %d pods at %g/s; work dir %s" % (a.nodes, a.pods, a.pod_rate, work),
        file=sys.stderr,
    )
    kube: Kube | None = None
    stop = asyncio.Event()
    try:
        await start_control_plane(cl)
        token = subprocess.run(
            [PY, "-m", "kedge", "gettoken", "--data-dir", str(work / "cloud")],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        kube = Kube(cl.kubeconfig)
        await kube.open()
        from kubernetes_asyncio import client

        core = client.CoreV1Api(kube.api)
        for i in range(a.namespaces):
            await core.create_namespace({"metadata": {"name": "density-%d" % i}})

        ready: set[str] = set()

        def on_node(kind: str, obj: dict) -> None:
            name = obj["metadata"]["name"]
            if kind != "DELETED" and _node_ready(obj):
                ready.add(name)
            else:
                ready.discard(name)

        watches = [asyncio.ensure_future(kube.watch("/api/v1/nodes", on_node, stop))]
        rss_before = rss_kb(cl.cloudcore.pid)
        trace: list[dict[str, Any]] = []
        times = PodTimes()  # empty until the load starts
        edge_seen: dict[tuple[str, str], float] = {}
        t_connect = time.monotonic()
        timing = await start_sims(cl, token, edge_seen)
        with Progress(a.nodes, "nodes Ready") as bar:
            while len(ready) < a.nodes:
                cl.check()
                bar.update_to(len(ready))
                if time.monotonic() - t_connect > a.connect_timeout:
                    raise TimeoutError(
                        "%d of %d nodes Ready after %g s" % (len(ready), a.nodes, a.connect_timeout)
                    )
                await asyncio.sleep(0.5)
            bar.update_to(len(ready))
        connect_s = time.monotonic() - t_connect
        rss_connected = rss_kb(cl.cloudcore.pid)

        # idle: every node connected, heartbeating and renewing its lease, no pods
        tracer = asyncio.ensure_future(timeline(cl, ready, times, trace))
        cpu0 = _resources(cl)
        wire0 = wire_bytes(cl.hub_port) if a.protocol == "websocket" else None
        print("idle for %g s" % a.idle, file=sys.stderr)
        a.broke = None
        halt = asyncio.Event()
        ready_min = {"idle": len(ready), "load": len(ready)}
        sampler = asyncio.ensure_future(_sample_ready(ready, ready_min, "idle"))
        guard = asyncio.ensure_future(watch_for_break(ready, a, "idle minute", halt))
        t_idle = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(halt.wait(), a.idle)
        idle_s = time.monotonic() - t_idle
        guard.cancel()
        sampler.cancel()
        wire1 = wire_bytes(cl.hub_port) if a.protocol == "websocket" else None
        cpu1 = _resources(cl)

        def on_pod(kind: str, obj: dict) -> None:
            meta = obj["metadata"]
            key = (meta["namespace"], meta["name"])
            now = time.time()
            if obj.get("spec", {}).get("nodeName") and key not in times.scheduled:
                times.scheduled[key] = now
            if (obj.get("status") or {}).get("phase") == "Running" and key not in times.running:
                times.running[key] = now

        watches.append(
            asyncio.ensure_future(kube.watch("/api/v1/pods?labelSelector=app%%3D%s" % LABEL, on_pod, stop))
        )
        node_names = sorted(ready)
        reads = asyncio.ensure_future(probe_reads(kube, node_names, times, stop, a))
        t_load = time.monotonic()
        sampler = asyncio.ensure_future(_sample_ready(ready, ready_min, "load"))
        if not halt.is_set():
            guard = asyncio.ensure_future(watch_for_break(ready, a, "load", halt))
            created_s = await create_pods(kube, a, times, halt)
        else:
            created_s = 0.0
        with Progress(len(times.created), "pods Running") as bar:
            deadline = time.monotonic() + a.settle
            while len(times.running) < len(times.created) and time.monotonic() < deadline:
                if halt.is_set():  # broken: what still starts is not worth a long wait
                    deadline = min(deadline, a.broke_at + BROKEN_SETTLE_S)
                cl.check()
                bar.update_to(len(times.running))
                await asyncio.sleep(0.5)
            bar.update_to(len(times.running))
        load_s = time.monotonic() - t_load
        guard.cancel()
        sampler.cancel()
        tracer.cancel()
        wire2 = wire_bytes(cl.hub_port) if a.protocol == "websocket" else None
        stop.set()
        reads.cancel()
        await asyncio.sleep(1.5)  # the sims' last "pods" lines
        resources = _resources(cl)
        resources["idle_cpu_s"] = {
            k: round(cpu1[k]["cpu_s"] - cpu0[k]["cpu_s"], 2) for k in ("cloudcore", "simulators") if cpu0[k]
        }
        if cpu0["apiserver"]:
            resources["idle_cpu_s"]["apiserver"] = round(
                cpu1["apiserver"]["cpu_s"] - cpu0["apiserver"]["cpu_s"], 2
            )
        resources["sqlite_mb"] = _sqlite_mb(cl)
        resources["cloudcore_rss_per_node_kb"] = round((rss_connected - rss_before) / a.nodes, 1)
        per_node_min = None
        if wire0 is not None and wire1 is not None and wire2 is not None:
            per_node_min = {
                "idle": round((wire1 - wire0) / a.nodes / (idle_s / 60), 1),
                "load": round((wire2 - wire1) / a.nodes / (load_s / 60), 1) if load_s >= 1 else None,
            }
        resources["wire_bytes_per_node_min"] = per_node_min

        keys = list(times.created)
        startup = [times.running[k] - times.created[k] for k in keys if k in times.running]
        sched = [times.scheduled[k] - times.created[k] for k in keys if k in times.scheduled]
        to_edge = [edge_seen[k] - times.created[k] for k in keys if k in edge_seen]
        edge_run = [times.running[k] - edge_seen[k] for k in keys if k in times.running and k in edge_seen]
        run_ = {
            "nodes": a.nodes,
            "pods": a.pods,
            "pod_rate": a.pod_rate,
            "achieved_create_rate": round(len(keys) / created_s, 1) if created_s else None,
            "protocol": a.protocol,
            "apiserver": a.apiserver,
            "pod_delay_s": a.pod_delay,
            "created": len(keys),
            # the time limit stopped the creation before a.pods (the rate the cluster took was lower)
            "max_load_reached": not a.broke and len(keys) + times.failed < a.pods,
            "create_failures": times.failed,
            "running": len(startup),
            "startup_latency_s": res.percentiles(startup),
            "phases_s": {
                "create_to_scheduled": res.percentiles(sched),
                "create_to_edge": res.percentiles(to_edge),
                "edge_to_running": res.percentiles(edge_run),
            },
            "api_latency_s": {
                "mutating": res.percentiles(times.mutating),
                "readonly": res.percentiles(times.readonly),
            },
            "nodes_ready_min": ready_min,
            "timeline": trace,
            "broke": a.broke,
            "join_s": round(timing["join_s"], 1),
            "connect_s": round(connect_s, 1),
            "resources": resources,
        }
        run_["slo"] = res.slo(run_)
        return run_
    finally:
        stop.set()
        if kube is not None:
            await kube.close()
        for t in cl.readers:
            t.cancel()
        cl.stop()
        if not a.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


async def _sample_ready(ready: set[str], into: dict[str, int], phase: str) -> None:
    """The fewest Ready nodes seen during `phase`, sampled each second."""
    while True:
        into[phase] = min(into[phase], len(ready))
        await asyncio.sleep(1.0)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.scale.density", description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--pods", type=int, default=None, help="pods to create (default 10 per node)")
    p.add_argument("--pod-rate", type=float, default=100.0, help="pod creates per second (default 100)")
    p.add_argument("--namespaces", type=int, default=10)
    p.add_argument("--inflight", type=int, default=64, help="creates in flight at most")
    p.add_argument("--protocol", choices=("websocket", "quic"), default="websocket")
    p.add_argument(
        "--apiserver",
        choices=("separate", "embedded"),
        default="separate",
        help="`kedge apiserver` as its own process (default) or cloudcore's embedded one",
    )
    p.add_argument("--per-sim", type=int, default=2500, help="hollow nodes per simulator process")
    p.add_argument("--ramp", type=float, default=500.0, help="nodes connected per second per simulator")
    p.add_argument(
        "--pod-delay", type=float, default=1.0, help="seconds a hollow node's container takes to start"
    )
    p.add_argument(
        "--idle", type=float, default=60.0, help="idle seconds measured before the pods (default 60)"
    )
    p.add_argument("--settle", type=float, default=120.0, help="seconds to wait for the last pods to run")
    p.add_argument(
        "--max-load",
        type=float,
        default=900.0,
        help="seconds after which no more pods are created (0: no limit; default 900)",
    )
    p.add_argument("--connect-timeout", type=float, default=900.0)
    p.add_argument(
        "--break-not-ready",
        type=float,
        default=0.01,
        help="fraction of nodes NotReady at which the point is broken and the load stops (default 0.01)",
    )
    p.add_argument("--prefix", default="hollow-")
    p.add_argument("--state-dir", help="keep hollow-node identities here between runs (joins are skipped)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    p.add_argument("--out", help="write the results JSON here")
    return p


def stop_on_sigterm() -> None:
    """SIGTERM does what Ctrl-C does: asyncio's runner cancels the run, so its finally blocks stop the
    cluster's processes (they run in sessions of their own and would outlive an abrupt exit). SIGINT gets
    Python's handler back first: a process started with SIGINT ignored (a shell's background job, or a
    pytest-xdist worker's child) keeps it ignored, the runner installs no handler, and SIGTERM is lost."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))


def main(argv: list[str] | None = None) -> int:
    stop_on_sigterm()
    a = parser().parse_args(argv)
    if a.pods is None:
        a.pods = 10 * a.nodes
    from kedge.aio.loops import run as run_loop

    result = res.new_results()
    result["runs"] = [run_loop(run(a))]
    text = json.dumps(result, indent=2)
    if a.out:
        res.write_results(Path(a.out), result)
    print(text)
    r = result["runs"][0]
    print(
        "startup p50/p90/p99 %.2f/%.2f/%.2f s, mutating p99 %.3f s, read-only p99 %.3f s"
        % (
            r["startup_latency_s"]["p50"], r["startup_latency_s"]["p90"], r["startup_latency_s"]["p99"],
            r["api_latency_s"]["mutating"]["p99"], r["api_latency_s"]["readonly"]["p99"],
        ),
        file=sys.stderr,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
