"""Device benchmarks (issue 6), the embedded broker and mosquitto in one run.

    python -m bench.devices.run [--brokers internal,external] [--devices 100] [--seconds 10]
        [--latency-devices 10] [--latency-seconds 30] [--out bench/results/devices.json]

Reports, per broker:
  twin updates/s   MQTT publish → stored in SQLite → `/twin/update/result` received, closed loop
                   (each publisher keeps `--window` updates unanswered), edge process = EventBus + DeviceTwin
  flood            10 publishers publish QoS 0 as fast as they can for `--seconds`: results/s and the edge
                   process's RSS sampled every 0.25 s (min/max/last) — bounded or not
  report → API     a mapper-like client reports each of `--latency-devices` devices once a second through a
                   real edgecore and cloudcore; p50/p99 from the publish to the Device status seen by a watch
The edge runs in its own process (bench/devices/edge.py) so its memory is the edge's alone; mosquitto is
started from ci/mosquitto.sh.
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

from bench.pods.run import free_port, kedge, mem, pct
from kedge.transport.mqtt_client import MqttClient

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
NODE = "bench-node"
RESULTS = "$hw/events/device/+/+/twin/update/result"


def update(device: int, value: int, event_id: str) -> bytes:
    return json.dumps(
        {"event_id": event_id, "timestamp": 0, "twin": {"value": {"actual": {"value": str(value)}}}}
    ).encode()


def topic(device: int, ns: str = "default", prefix: str = "dev-") -> str:
    return "$hw/events/device/%s/%s%d/twin/update" % (ns, prefix, device)


class Mosquitto:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        subprocess.run(["bash", str(ROOT / "ci/mosquitto.sh"), "install"], check=True)
        subprocess.run(
            ["bash", str(ROOT / "ci/mosquitto.sh"), "start", str(base), str(self.port)],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(["bash", str(ROOT / "ci/mosquitto.sh"), "stop", str(self.base)], check=False)


async def wait_ready(port: int, timeout: float = 30) -> None:
    """Until DeviceTwin answers a membership request through the broker."""
    client = MqttClient("127.0.0.1", port, client_id="bench-probe")
    deadline = time.monotonic() + timeout
    while True:
        try:
            await client.connect()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("no broker on port %d" % port) from None
            await asyncio.sleep(0.2)
    try:
        await client.subscribe([("$hw/events/node/%s/membership/get/result" % NODE, 0)])
        while True:
            await client.publish("$hw/events/node/%s/membership/get" % NODE, b'{"event_id":"probe"}')
            try:
                await asyncio.wait_for(client.get_message(), 0.5)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise SystemExit("DeviceTwin never answered on port %d" % port) from None
    finally:
        await client.close()


async def closed_loop(
    port: int, devices: int, publishers: int, window: int, seconds: float
) -> dict[str, Any]:
    sub = MqttClient("127.0.0.1", port, client_id="bench-results", max_queue=100_000)
    await sub.connect()
    await sub.subscribe([(RESULTS, 0)])
    pubs = [MqttClient("127.0.0.1", port, client_id="bench-pub-%d" % k) for k in range(publishers)]
    for p in pubs:
        await p.connect()
    credit = [asyncio.Semaphore(window) for _ in pubs]
    received = errors = 0
    stop = time.monotonic() + seconds

    async def publisher(k: int) -> None:
        seq = 0
        while time.monotonic() < stop:
            await credit[k].acquire()
            seq += 1
            dev = (k * 7919 + seq) % devices
            await pubs[k].publish(topic(dev), update(dev, seq, "%d-%d" % (k, seq)), qos=1)

    async def collector() -> None:
        nonlocal received, errors
        while True:
            _, body, _ = await sub.get_message()
            res = json.loads(body)
            if "code" in res:
                errors += 1
            k = int(res["event_id"].split("-", 1)[0])
            credit[k].release()
            received += 1

    col = asyncio.create_task(collector())
    t0 = time.monotonic()
    await asyncio.gather(*(publisher(k) for k in range(publishers)))
    elapsed = time.monotonic() - t0
    done = received
    col.cancel()
    await asyncio.gather(col, return_exceptions=True)
    for c in (*pubs, sub):
        await c.close()
    return {
        "updates_per_s": round(done / elapsed),
        "errors": errors,
        "publishers": publishers,
        "window": window,
    }


async def flood(port: int, devices: int, publishers: int, seconds: float, edge_pid: int) -> dict[str, Any]:
    sub = MqttClient("127.0.0.1", port, client_id="bench-flood-results", max_queue=100_000)
    await sub.connect()
    await sub.subscribe([(RESULTS, 0)])
    pubs = [MqttClient("127.0.0.1", port, client_id="bench-flood-%d" % k) for k in range(publishers)]
    for p in pubs:
        await p.connect()
    sent = received = 0
    rss: list[float] = []
    stop = time.monotonic() + seconds

    async def publisher(k: int) -> None:
        nonlocal sent
        seq = 0
        while time.monotonic() < stop:
            seq += 1
            dev = (k * 7919 + seq) % devices
            await pubs[k].publish(topic(dev), update(dev, seq, "f%d-%d" % (k, seq)), qos=0)
            sent += 1
            if seq % 64 == 0:
                await asyncio.sleep(0)

    async def collector() -> None:
        nonlocal received
        while True:
            await sub.get_message()
            received += 1

    async def sampler() -> None:
        while True:
            rss.append(mem(edge_pid).get("rss_mb", 0.0))
            await asyncio.sleep(0.25)

    tasks = [asyncio.create_task(collector()), asyncio.create_task(sampler())]
    t0 = time.monotonic()
    await asyncio.gather(*(publisher(k) for k in range(publishers)))
    elapsed = time.monotonic() - t0
    await asyncio.sleep(2)  # what the edge still works through after the flood stops
    rss.append(mem(edge_pid).get("rss_mb", 0.0))
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for c in (*pubs, sub):
        await c.close()
    return {
        "publishers": publishers,
        "published_per_s": round(sent / elapsed),
        "results_per_s": round(received / (elapsed + 2)),
        "edge_rss_mb": {"min": round(min(rss), 1), "max": round(max(rss), 1), "last": round(rss[-1], 1)},
    }


async def edge_bench(mode: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    broker: Mosquitto | None = None
    if mode == "external":
        broker = Mosquitto(tmp / "mosquitto")
        port = broker.port
    else:
        port = free_port()
    log = open(tmp / ("edge-%s.log" % mode), "w")  # noqa: SIM115  (closed in finally; the child keeps a copy)
    proc = subprocess.Popen(
        [PY, "-m", "bench.devices.edge", "--mode", mode, "--broker", "tcp://127.0.0.1:%d" % port,
         "--db", str(tmp / ("edge-%s.db" % mode)), "--devices", str(args.devices)],
        stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        await wait_ready(port)
        out: dict[str, Any] = {"edge_idle": mem(proc.pid)}
        out["closed_loop"] = await closed_loop(port, args.devices, args.publishers, args.window, args.seconds)
        out["after_closed_loop"] = mem(proc.pid)
        out["flood"] = await flood(port, args.devices, 10, args.seconds, proc.pid)
        return out
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            stdout, _ = proc.communicate(timeout=30)
            lines = [x for x in stdout.splitlines() if x.startswith("{")]
            if lines:
                print("  edge stats (%s): %s" % (mode, lines[-1]))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if broker is not None:
            broker.stop()


async def latency_bench(mode: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Reports through a real edgecore (subprocess) and cloudcore (this process) to a watch on Devices."""
    from kubernetes_asyncio import client, watch

    from kedge.cloud.app import start_cloudcore
    from kedge.config import default_cloudcore
    from kedge.k8s.client import open_api

    broker: Mosquitto | None = None
    port = free_port()
    if mode == "external":
        broker = Mosquitto(tmp / "mosquitto-lat")
        port = broker.port
    cfg = default_cloudcore()
    cfg.embedded_api_server.port = free_port()
    cfg.common_config.monitor_server.bind_address = "127.0.0.1:0"
    hub = cfg.modules.cloud_hub
    hub.websocket.address = hub.https.address = hub.quic.address = "127.0.0.1"
    hub.websocket.port, hub.https.port, hub.quic.port = free_port(), free_port(), free_port()
    hub.quic.enable = False
    hub.unixsocket.enable = False
    cloud_dir = tmp / ("cloud-%s" % mode)
    core = await start_cloudcore(cfg, cloud_dir)
    edge: subprocess.Popen | None = None
    api = None
    try:
        token = (await asyncio.to_thread(kedge, "gettoken", "--data-dir", str(cloud_dir))).strip()
        edge_dir = tmp / ("edge-%s" % mode)
        await asyncio.to_thread(
            kedge, "join", "--cloudcore-ipport", "127.0.0.1:%d" % hub.websocket.port,
            "--certport", str(hub.https.port), "--token", token, "--edgenode-name", NODE,
            "--runtime", "process", "--data-dir", str(edge_dir),
        )  # fmt: skip
        config = edge_dir / "edgecore.yaml"
        ecfg = yaml.safe_load(config.read_text())
        ecfg["modules"]["edged"]["rootDirectory"] = str(tmp / ("kubelet-%s" % mode))
        ecfg["modules"]["edged"]["tailoredKubeletConfig"]["podLogsDir"] = str(tmp / "pod-logs")
        bus = ecfg["modules"]["eventBus"]
        bus["enable"] = True
        bus["mqttMode"] = 0 if mode == "internal" else 2
        bus["mqttServerInternal" if mode == "internal" else "mqttServerExternal"] = (
            "tcp://127.0.0.1:%d" % port
        )
        config.write_text(yaml.safe_dump(ecfg))
        with open(tmp / ("edgecore-%s.log" % mode), "w") as log:
            edge = subprocess.Popen(
                [PY, "-m", "kedge", "edgecore", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        api = await open_api(core.kubeconfig)
        custom = client.CustomObjectsApi(api)
        v1 = client.CoreV1Api(api)
        deadline = time.monotonic() + 60
        while True:
            try:
                node = await v1.read_node(NODE)
                if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or []):
                    break
            except client.ApiException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("node never Ready")
            await asyncio.sleep(0.2)
        from bench.devices.edge import device, model

        group, version = "devices.kubeedge.io", "v1beta1"
        await custom.create_namespaced_custom_object(group, version, "default", "devicemodels", model())
        for i in range(args.latency_devices):
            dev = device(i)
            dev["metadata"].pop("resourceVersion")
            await custom.create_namespaced_custom_object(group, version, "default", "devices", dev)
        await wait_ready(port, timeout=60)
        # wait until every device is at the edge (twin/get answered)
        sent: dict[tuple[str, str], float] = {}
        seen: dict[tuple[str, str], float] = {}

        async def watcher() -> None:
            w = watch.Watch()
            async with w.stream(
                custom.list_namespaced_custom_object,
                group,
                version,
                "default",
                "devices",
                timeout_seconds=3600,
            ) as stream:
                async for ev in stream:
                    obj = ev["object"]
                    name = obj["metadata"]["name"]
                    for t in (obj.get("status") or {}).get("twins") or []:
                        value = (t.get("reported") or {}).get("value")
                        if value is not None:
                            seen.setdefault((name, value), time.monotonic())

        wt = asyncio.create_task(watcher())
        reporter = MqttClient("127.0.0.1", port, client_id="bench-mapper")
        await reporter.connect()
        seq = 0
        end = time.monotonic() + args.latency_seconds
        while time.monotonic() < end:
            seq += 1
            for i in range(args.latency_devices):
                sent[("dev-%d" % i, str(seq))] = time.monotonic()
                await reporter.publish(topic(i), update(i, seq, "l%d" % seq), qos=1)
            await asyncio.sleep(1.0)
        await asyncio.sleep(3)
        wt.cancel()
        await asyncio.gather(wt, return_exceptions=True)
        await reporter.close()
        lat = [(seen[k] - t) * 1000 for k, t in sent.items() if k in seen]
        return {
            "reports": len(sent),
            "seen": len(lat),
            "p50_ms": round(pct(lat, 50), 1),
            "p99_ms": round(pct(lat, 99), 1),
            "max_ms": round(max(lat), 1) if lat else None,
        }
    finally:
        if api is not None:
            await api.close()
        if edge is not None and edge.poll() is None:
            edge.send_signal(signal.SIGTERM)
            edge.wait(30)
        core.hub.close_all("bench done")
        await core.stop()
        if broker is not None:
            broker.stop()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", default="internal,external")
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--latency-devices", type=int, default=10)
    ap.add_argument("--latency-seconds", type=float, default=30)
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kedge-bench-devices-"))
    results: dict[str, Any] = {"machine": platform.node(), "python": platform.python_version()}
    for mode in args.brokers.split(","):
        print("== %s broker" % mode, flush=True)
        r = await edge_bench(mode, tmp, args)
        if not args.skip_latency:
            r["report_to_api"] = await latency_bench(mode, tmp, args)
        results[mode] = r
        print(json.dumps(r, indent=1), flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
