"""Pod benchmarks (issue 5): cloudcore in this process (so CloudHub's ack hook timestamps each pod's ack),
a real `kedge edgecore` process on containerd (CRI) or on the process runtime.

    python -m bench.pods.run [--runtime cri|process] [--pods 50] [--out bench/results/pods-cri.json]

Reports:
  create→ack     p50/p99 from the API create call to the edge's ack of the pod (persisted at the edge)
  create→Running p50/p99 from the API create call to the pod's Ready status in the API
  edgecore RSS   idle (node registered, no pods) and with N pods running (VmRSS and Pss)
  restore        edgecore restarted with the cloud down: process start → "pods restored" (containers adopted);
                 and a cold restore (runtime emptied, as after a reboot) → all N containers running again
With --runtime cri, containerd is started from ci/containerd.sh (root needed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
VERBOSITY = os.environ.get("KEDGE_BENCH_VERBOSITY", "-v")  # -vv: debug logs of the edge


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


def mem(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            out["rss_mb"] = int(line.split()[1]) / 1024
        elif line.startswith(("RssAnon:", "RssFile:")):
            out[line.split(":")[0].lower() + "_mb"] = int(line.split()[1]) / 1024
        elif line.startswith("Threads:"):
            out["threads"] = int(line.split()[1])
    try:
        for line in Path("/proc/%d/smaps_rollup" % pid).read_text().splitlines():
            if line.startswith("Pss:"):
                out["pss_mb"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def kedge(*args: str) -> str:
    out = subprocess.run([PY, "-m", "kedge", *args], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise SystemExit("kedge %s failed: %s" % (" ".join(args), out.stderr))
    return out.stdout


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Edge:
    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.proc: subprocess.Popen | None = None
        self.started = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                [PY, "-m", "kedge", VERBOSITY, "edgecore", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        self.proc = None

    async def wait_log(self, needle: str, since: int, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log.read_text()[since:]:
                return time.monotonic()
            await asyncio.sleep(0.01)
        raise SystemExit("edgecore did not log %r:\n%s" % (needle, self.log.read_text()[-3000:]))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", choices=("cri", "process"), default="cri")
    ap.add_argument("--pods", type=int, default=50)
    ap.add_argument("--serial", type=int, default=10, help="pods created one at a time before the burst")
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    from kubernetes_asyncio import client, watch

    from kedge.cloud.app import start_cloudcore
    from kedge.config import default_cloudcore
    from kedge.edge.edged.runtime.cri import CRIClient
    from kedge.k8s.client import open_api

    tmp = Path(tempfile.mkdtemp(prefix="kedge-bench-pods-"))
    sock = ""
    if args.runtime == "cri":
        subprocess.run(["bash", str(ROOT / "ci/containerd.sh"), "install"], check=True)
        out = subprocess.run(
            ["bash", str(ROOT / "ci/containerd.sh"), "start", str(tmp / "ctrd")],
            check=True,
            capture_output=True,
            text=True,
        )
        sock = out.stdout.strip().splitlines()[-1]
    results: dict[str, Any] = {"runtime": args.runtime, "pods": args.pods, "machine": platform.node()}
    cfg = default_cloudcore()
    cfg.embedded_api_server.port = free_port()
    hub = cfg.modules.cloud_hub
    hub.websocket.address = hub.https.address = hub.quic.address = "127.0.0.1"
    hub.websocket.port, hub.https.port, hub.quic.port = free_port(), free_port(), free_port()
    hub.quic.enable = False
    hub.unixsocket.enable = False
    cloud_dir = tmp / "cloud"
    edge = None
    try:
        core = await start_cloudcore(cfg, cloud_dir)
        acks: dict[str, float] = {}

        def on_ack(node: str, msg: Any) -> None:
            r = msg.route
            if r.operation == "insert" and "/pod/" in r.resource:
                acks.setdefault(r.resource.rsplit("/", 1)[1], time.monotonic())

        core.hub.on_ack = on_ack
        token = (cloud_dir / "token").read_text().strip() if (cloud_dir / "token").exists() else ""
        if not token:
            token = kedge("gettoken", "--data-dir", str(cloud_dir)).strip()
        edge_dir = tmp / "edge"
        await asyncio.to_thread(
            kedge,
            "join",
            "--cloudcore-ipport",
            "127.0.0.1:%d" % hub.websocket.port,
            "--certport",
            str(hub.https.port),
            "--token",
            token,
            "--edgenode-name",
            "bench",
            "--runtime",
            args.runtime,
            "--data-dir",
            str(edge_dir),
        )
        config = edge_dir / "edgecore.yaml"
        ecfg = yaml.safe_load(config.read_text())
        edged = ecfg["modules"]["edged"]
        edged["rootDirectory"] = str(tmp / "kubelet")
        kubelet = edged["tailoredKubeletConfig"]
        if sock:
            kubelet["containerRuntimeEndpoint"] = kubelet["imageServiceEndpoint"] = "unix://" + sock
        kubelet["podLogsDir"] = str(tmp / "pod-logs")
        config.write_text(yaml.safe_dump(ecfg))
        edge = Edge(config, tmp / "edgecore.log")
        edge.start()

        api = await open_api(core.kubeconfig)
        v1 = client.CoreV1Api(api)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                node = await v1.read_node("bench")
                if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or []):
                    break
            except client.ApiException:
                pass
            await asyncio.sleep(0.2)
        else:
            raise SystemExit("node never Ready:\n" + edge.log.read_text()[-3000:])
        await asyncio.sleep(10)
        assert edge.proc is not None
        results["edgecore_idle"] = mem(edge.proc.pid)
        if os.environ.get("KEDGE_BENCH_PAUSE"):  # time to inspect the idle edgecore (smaps, py-spy)
            pause = float(os.environ["KEDGE_BENCH_PAUSE"])
            print("edgecore pid %d; pausing %g s" % (edge.proc.pid, pause), flush=True)
            await asyncio.sleep(pause)
        print("idle:", results["edgecore_idle"], flush=True)

        # watch pods become Ready; first SERIAL pods one at a time (each waits for the previous to run),
        # then the rest of N in a burst of create calls
        running: dict[str, float] = {}
        created: dict[str, float] = {}
        ready_event = asyncio.Event()

        async def watch_pods() -> None:
            w = watch.Watch()
            async with w.stream(v1.list_namespaced_pod, "default", timeout_seconds=600) as stream:
                async for ev in stream:
                    pod = ev["object"]
                    conds = {c.type: c.status for c in (pod.status.conditions or [])}
                    if conds.get("Ready") == "True" and pod.metadata.name not in running:
                        running[pod.metadata.name] = time.monotonic()
                        ready_event.set()
                    if len(running) >= args.pods:
                        return

        def body(name: str) -> dict:
            return {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name},
                "spec": {
                    "nodeName": "bench",
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {"name": "main", "image": "localhost/busybox:1", "command": ["sleep", "100000"]}
                    ],
                },
            }

        watcher = asyncio.create_task(watch_pods())
        await asyncio.sleep(0.5)
        serial = min(args.serial, args.pods)
        for i in range(serial):
            name = "s%03d" % i
            ready_event.clear()
            created[name] = time.monotonic()
            await v1.create_namespaced_pod("default", body(name))
            while name not in running:
                await asyncio.wait_for(ready_event.wait(), 60)
                ready_event.clear()
        burst_start = time.monotonic()
        for i in range(args.pods - serial):
            name = "p%03d" % i
            created[name] = time.monotonic()
            await v1.create_namespaced_pod("default", body(name))
        await asyncio.wait_for(watcher, 600)

        def figures(names: list[str]) -> dict:
            to_ack = [(acks[n] - created[n]) * 1000 for n in names if n in acks]
            to_run = [(running[n] - created[n]) * 1000 for n in names if n in running]
            return {
                "create_to_ack_ms": {"p50": pct(to_ack, 50), "p99": pct(to_ack, 99), "n": len(to_ack)},
                "create_to_running_ms": {"p50": pct(to_run, 50), "p99": pct(to_run, 99), "n": len(to_run)},
            }

        results["one_at_a_time"] = figures([n for n in created if n.startswith("s")])
        results["burst"] = figures([n for n in created if n.startswith("p")])
        results["burst"]["all_running_s"] = max(running.values()) - burst_start
        print("one at a time:", results["one_at_a_time"], flush=True)
        print("burst:", results["burst"], flush=True)
        await asyncio.sleep(10)
        results["edgecore_with_pods"] = mem(edge.proc.pid)
        print("with pods:", results["edgecore_with_pods"], flush=True)
        await api.close()

        # restore with the cloud down
        await core.stop()
        edge.stop()
        since = len(edge.log.read_text())
        edge.start()
        t = await edge.wait_log("pods restored from the local store", since)
        results["restore_adopt_s"] = t - edge.started
        print("restore (adopt):", results["restore_adopt_s"], flush=True)
        if sock:
            edge.stop()
            async with CRIClient(sock) as cri:
                for sb in await cri.list_pod_sandbox():
                    await cri.stop_pod_sandbox(sb.id)
                    await cri.remove_pod_sandbox(sb.id)
                since = len(edge.log.read_text())
                edge.start()
                while True:
                    ctrs = [c for c in await cri.list_containers() if c.state == 1]
                    if len(ctrs) >= args.pods:
                        break
                    if time.monotonic() - edge.started > 300:
                        raise SystemExit("cold restore incomplete: %d running" % len(ctrs))
                    await asyncio.sleep(0.05)
                results["restore_cold_s"] = time.monotonic() - edge.started
                print("restore (cold):", results["restore_cold_s"], flush=True)
    finally:
        if edge is not None:
            edge.stop()
        if sock:
            async with CRIClient(sock) as cri:
                for _ in range(5):  # a container still starting cannot be removed yet: try again
                    left = await cri.list_pod_sandbox()
                    for sb in left:
                        try:
                            await cri.stop_pod_sandbox(sb.id)
                            await cri.remove_pod_sandbox(sb.id)
                        except Exception as e:
                            print("cleanup: %s" % e, file=sys.stderr)
                    if not left:
                        break
                    await asyncio.sleep(1)
            subprocess.run(["bash", str(ROOT / "ci/containerd.sh"), "stop", str(tmp / "ctrd")], check=False)
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
