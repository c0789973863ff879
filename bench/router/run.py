"""Router benchmarks (issue 7): REST requests through cloudcore's Router to an edge, on loopback.

    python -m bench.router.run [--broker internal|external] [--seconds 10] [--concurrency 16]
        [--skip-servicebus] [--message-qps N] [--out FILE]

  rest → eventbus     POST /<node>/default/a/<n> → the edge broker; per request, from the POST to an MQTT
                      subscriber on the edge broker receiving it (requests/s, p50/p99)
  rest → servicebus   GET /<node>/default/svc/<n> → an HTTP app on the edge's service_port and back
                      (round trips/s, p50/p99)
cloudcore (with the embedded API server) runs in this process, edgecore in its own, mosquitto from
ci/mosquitto.sh for the external broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from bench.devices.run import Mosquitto
from bench.pods.run import free_port, kedge, pct
from kedge.transport.mqtt_client import MqttClient

PY = sys.executable
NODE = "bench-router-node"
GROUP, VERSION = "rules.kubeedge.io", "v1"


def objects(service_port: int) -> list[tuple[str, dict[str, Any]]]:
    def endpoint(name: str, kind: str, **props: str) -> tuple[str, dict[str, Any]]:
        body = {
            "apiVersion": "%s/%s" % (GROUP, VERSION),
            "kind": "RuleEndpoint",
            "metadata": {"name": name},
            "spec": {"ruleEndpointType": kind, "properties": props},
        }
        return "ruleendpoints", body

    def rule(name: str, src: str, src_res: dict, dst: str, dst_res: dict) -> tuple[str, dict[str, Any]]:
        body = {
            "apiVersion": "%s/%s" % (GROUP, VERSION),
            "kind": "Rule",
            "metadata": {"name": name},
            "spec": {"source": src, "sourceResource": src_res, "target": dst, "targetResource": dst_res},
        }
        return "rules", body

    return [
        endpoint("rest", "rest"),
        endpoint("bus", "eventbus"),
        endpoint("svc", "servicebus", service_port=str(service_port)),
        rule("to-bus", "rest", {"path": "/a"}, "bus", {"topic": "bench"}),
        rule("to-svc", "rest", {"path": "/svc"}, "svc", {"path": "/echo"}),
    ]


async def echo_app(port: int) -> web.AppRunner:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read() or request.path.encode())

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def closed_loop(
    seconds: float, concurrency: int, one: Any, session: aiohttp.ClientSession
) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    seq = 0

    async def worker() -> None:
        nonlocal errors, seq
        while time.monotonic() < stop:
            seq += 1
            t0 = time.monotonic()
            ok = await one(session, seq)
            if ok:
                lat.append((time.monotonic() - t0) * 1000)
            else:
                errors += 1

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - t0
    return {
        "requests_per_s": round(len(lat) / elapsed),
        "p50_ms": round(pct(lat, 50), 2),
        "p99_ms": round(pct(lat, 99), 2),
        "errors": errors,
        "concurrency": concurrency,
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", choices=("internal", "external"), default="external")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--skip-servicebus", action="store_true")
    ap.add_argument(
        "--message-qps",
        type=int,
        default=None,
        help="the edge's edgeHub.messageQPS (KubeEdge's default 30 paces service responses; 0: unlimited)",
    )
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    from kubernetes_asyncio import client

    from kedge.cloud.app import start_cloudcore
    from kedge.config import default_cloudcore
    from kedge.k8s.client import open_api

    tmp = Path(tempfile.mkdtemp(prefix="kedge-bench-router-"))
    broker: Mosquitto | None = None
    port = free_port()
    if args.broker == "external":
        broker = Mosquitto(tmp / "mosquitto")
        port = broker.port
    cfg = default_cloudcore()
    cfg.embedded_api_server.port = free_port()
    cfg.common_config.monitor_server.bind_address = "127.0.0.1:0"
    hub = cfg.modules.cloud_hub
    hub.websocket.address = hub.https.address = hub.quic.address = "127.0.0.1"
    hub.websocket.port, hub.https.port, hub.quic.port = free_port(), free_port(), free_port()
    hub.quic.enable = False
    hub.unixsocket.enable = False
    cfg.modules.router.enable = True
    cfg.modules.router.address = "127.0.0.1"
    cfg.modules.router.port = router_port = free_port()
    core = await start_cloudcore(cfg, tmp / "cloud")
    edge: subprocess.Popen | None = None
    api = None
    app = None
    results: dict[str, Any] = {"machine": platform.node(), "python": platform.python_version()}
    try:
        token = (await asyncio.to_thread(kedge, "gettoken", "--data-dir", str(tmp / "cloud"))).strip()
        edge_dir = tmp / "edge"
        await asyncio.to_thread(
            kedge, "join", "--cloudcore-ipport", "127.0.0.1:%d" % hub.websocket.port,
            "--certport", str(hub.https.port), "--token", token, "--edgenode-name", NODE,
            "--runtime", "process", "--data-dir", str(edge_dir),
        )  # fmt: skip
        config = edge_dir / "edgecore.yaml"
        ecfg = yaml.safe_load(config.read_text())
        ecfg["modules"]["edged"]["rootDirectory"] = str(tmp / "kubelet")
        ecfg["modules"]["edged"]["tailoredKubeletConfig"]["podLogsDir"] = str(tmp / "pod-logs")
        bus = ecfg["modules"]["eventBus"]
        bus["mqttMode"] = 0 if args.broker == "internal" else 2
        bus["mqttServerInternal" if args.broker == "internal" else "mqttServerExternal"] = (
            "tcp://127.0.0.1:%d" % port
        )
        if not args.skip_servicebus:
            ecfg["modules"]["serviceBus"].update(enable=True, port=free_port())
        if args.message_qps is not None:
            ecfg["modules"]["edgeHub"]["messageQPS"] = args.message_qps
        results["edge_message_qps"] = ecfg["modules"]["edgeHub"]["messageQPS"]
        config.write_text(yaml.safe_dump(ecfg))
        with open(tmp / "edgecore.log", "w") as log:
            edge = subprocess.Popen(
                [PY, "-m", "kedge", "edgecore", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        api = await open_api(core.kubeconfig)
        custom = client.CustomObjectsApi(api)
        service_port = free_port()
        app = await echo_app(service_port)
        for plural, body in objects(service_port):
            await custom.create_namespaced_custom_object(GROUP, VERSION, "default", plural, body)
        base = "http://127.0.0.1:%d/%s/default" % (router_port, NODE)

        sub = MqttClient("127.0.0.1", port, client_id="bench-router-sub", max_queue=100_000)
        deadline = time.monotonic() + 60
        while True:
            try:
                await sub.connect()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("no broker on %d" % port) from None
                await asyncio.sleep(0.2)
        await sub.subscribe([("bench/#", 0)])
        waiting: dict[str, asyncio.Future[None]] = {}

        async def collect() -> None:
            while True:
                topic, _, _ = await sub.get_message()
                fut = waiting.pop(topic.rpartition("/")[2], None)
                if fut is not None and not fut.done():
                    fut.set_result(None)

        collector = asyncio.create_task(collect())
        async with aiohttp.ClientSession() as session:

            async def to_bus(session: aiohttp.ClientSession, n: int) -> bool:
                fut = asyncio.get_running_loop().create_future()
                waiting[str(n)] = fut
                async with session.post("%s/a/%d" % (base, n), data=b'{"n":%d}' % n) as resp:
                    await resp.read()
                    if resp.status != 200:
                        waiting.pop(str(n), None)
                        return False
                try:
                    await asyncio.wait_for(fut, 10)
                    return True
                except TimeoutError:
                    return False

            # until the node is connected and the router has its rules
            deadline = time.monotonic() + 60
            while not await to_bus(session, 0):
                if time.monotonic() > deadline:
                    raise SystemExit("rest → eventbus never worked; see %s" % (tmp / "edgecore.log"))
                await asyncio.sleep(0.5)
            results["rest_to_eventbus"] = await closed_loop(args.seconds, args.concurrency, to_bus, session)
            print("rest → eventbus", json.dumps(results["rest_to_eventbus"]), flush=True)

            if not args.skip_servicebus:

                async def to_svc(session: aiohttp.ClientSession, n: int) -> bool:
                    async with session.get("%s/svc/%d" % (base, n)) as resp:
                        body = await resp.read()
                        return resp.status == 200 and body == b"/echo/%d" % n

                deadline = time.monotonic() + 30
                while not await to_svc(session, 0):
                    if time.monotonic() > deadline:
                        raise SystemExit("rest → servicebus never worked; see %s" % (tmp / "edgecore.log"))
                    await asyncio.sleep(0.5)
                svc = await closed_loop(args.seconds, args.concurrency, to_svc, session)
                results["rest_to_servicebus"] = svc
                print("rest → servicebus", json.dumps(results["rest_to_servicebus"]), flush=True)
        collector.cancel()
        await sub.close()
    finally:
        if app is not None:
            await app.cleanup()
        if api is not None:
            await api.close()
        if edge is not None and edge.poll() is None:
            edge.send_signal(signal.SIGTERM)
            edge.wait(30)
        core.hub.close_all("bench done")
        await core.stop()
        if broker is not None:
            broker.stop()
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
