"""cloudcore: the Kubernetes API (embedded or a real cluster), CloudHub and its listeners, on beehive."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedge.aio.loops import tune_gc
from kedge.beehive import Context, Runtime
from kedge.cloud.cloudhub.certs import CloudCerts, run_token_rotation
from kedge.cloud.cloudhub.certserver import start_cert_server
from kedge.cloud.cloudhub.cursors import CursorStore
from kedge.cloud.cloudhub.hub import CloudHub, CloudHubModule, HubSettings
from kedge.cloud.cloudhub.listeners import start_listeners
from kedge.config.cloudcore import CloudCoreConfig

log = logging.getLogger(__name__)

READY_FILE = "cloudcore.ready.json"


def hub_settings(cfg: CloudCoreConfig) -> HubSettings:
    hub = cfg.modules.cloud_hub
    auth = hub.authorization
    return HubSettings(
        node_limit=hub.node_limit,
        keepalive_interval=float(hub.keepalive_interval),
        # KubeEdge's debug mode logs denials and lets messages through; kedge enforces otherwise.
        enforce_authorization=not (auth.enable and auth.debug),
    )


@dataclass
class CloudCore:
    """A running cloudcore; `ports` holds the bound ports (useful when the config asked for port 0)."""

    cfg: CloudCoreConfig
    data_dir: Path
    hub: CloudHub
    kubeconfig: str
    ports: dict[str, int] = field(default_factory=dict)
    _closers: list[Callable[[], Any]] = field(default_factory=list)
    _tasks: list[asyncio.Task] = field(default_factory=list)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        for close in reversed(self._closers):
            res = close()
            if asyncio.iscoroutine(res):
                await res


#: Connections to the API server besides the EdgeController's pools: informers' watches and lists, the
#: DeviceController, the router, node registration checks.
OTHER_API_CONNECTIONS = 100


def api_connections(cfg: CloudCoreConfig) -> int:
    """Connections to the API server: one per call in flight, so each EdgeController pool can fill up
    without the others' calls queueing for a connection (a shared FIFO would undo the pools)."""
    n = OTHER_API_CONNECTIONS + cfg.modules.device_controller.status_write_concurrency
    if cfg.modules.edge_controller.enable:
        from kedge.cloud.edgecontroller.module import limits_from

        n += sum(limits_from(cfg.modules.edge_controller.load).values())
    return n


async def start_cloudcore(
    cfg: CloudCoreConfig, data_dir: Path, *, kubeconfig: str | None = None
) -> CloudCore:
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    closers: list[Callable[[], Any]] = []
    tasks: list[asyncio.Task] = []
    try:
        # -- Kubernetes API
        kube = kubeconfig or cfg.kube_api_config.kube_config
        storage = None  # the embedded API server's, for its commit latency metric
        if not kube:
            from kedge.cloud.embedded import EmbeddedSettings, start_embedded

            emb = cfg.embedded_api_server
            server, path = await start_embedded(EmbeddedSettings(data_dir, emb.address, emb.port))
            storage = server.storage
            closers.append(server.stop)
            kube = str(path)
        from kedge.k8s.client import node_exists, open_api
        from kedge.k8s.ops import KubeOps

        api = await open_api(kube, max_connections=api_connections(cfg))
        closers.append(api.close)

        # -- certificates and tokens
        hubcfg = cfg.modules.cloud_hub
        listen_hosts = [hubcfg.websocket.address, hubcfg.quic.address, hubcfg.https.address]
        certs = CloudCerts.load_or_create(
            hubcfg, data_dir, now=dt.datetime.now(dt.UTC), listen_hosts=listen_hosts
        )
        ring = certs.token_ring(hubcfg.token_refresh_duration)
        tasks.append(asyncio.create_task(run_token_rotation(ring, certs.token_path), name="token-rotation"))

        # -- hub on beehive
        cursors = CursorStore(data_dir / "cloudhub" / "cursors.db")
        closers.append(cursors.close)
        ctx = Context()
        hub = CloudHub(ctx, hub_settings(cfg), cursors)
        runtime = Runtime(ctx)
        runtime.register(CloudHubModule(hub))
        # readiness: every controller has listed what it watches (until then it sends nothing)
        synced: list[tuple[str, Callable[[], bool]]] = []
        device_module = None
        if cfg.modules.edge_controller.enable:
            from kedge.cloud.edgecontroller.downstream import Downstream
            from kedge.cloud.edgecontroller.module import EdgeControllerModule, limits_from
            from kedge.cloud.edgecontroller.upstream import Upstream

            kube_ops = KubeOps(api)
            downstream = Downstream(kube_ops, hub)
            # without it the hub resyncs nobody: an edge would keep objects deleted while it was away
            hub.add_sync_source(downstream.sync_source)
            runtime.register(
                EdgeControllerModule(
                    Upstream(kube_ops, hub, downstream), limits=limits_from(cfg.modules.edge_controller.load)
                )
            )
            tasks.append(asyncio.create_task(downstream.run(), name="edgecontroller-informers"))
            synced.append(("edgecontroller", lambda: downstream.ready))
        if cfg.modules.device_controller.enable:
            from kedge.cloud.devicecontroller.downstream import DeviceDownstream
            from kedge.cloud.devicecontroller.module import DeviceControllerModule

            dc = cfg.modules.device_controller
            kube_ops = KubeOps(api)
            devices = DeviceDownstream(kube_ops, hub)
            hub.add_sync_source(devices.sync_source)
            device_module = DeviceControllerModule(
                kube_ops,
                devices,
                interval=dc.status_update_interval,
                concurrency=dc.status_write_concurrency,
            )
            runtime.register(device_module)
            tasks.append(asyncio.create_task(devices.run(), name="devicecontroller-informers"))
            synced.append(("devicecontroller", lambda: devices.ready))
        router = None
        if cfg.modules.router.enable:
            from kedge.cloud.router.module import Router, RouterSettings

            rc = cfg.modules.router
            settings = RouterSettings(
                rc.address,
                rc.port,
                float(rc.rest_timeout),
                tls_cert_file=rc.tls_cert_file,
                tls_private_key_file=rc.tls_private_key_file,
            )
            router = Router(KubeOps(api), hub, settings)
            await router.start_http()
            runtime.register(router)
        tasks.append(asyncio.create_task(runtime.run(handle_signals=False), name="beehive"))

        ports: dict[str, int] = {}
        listeners = await start_listeners(
            hub,
            ca_cert=certs.ca_cert,
            ca_path=str(certs.ca_cert_path),
            cert_path=str(certs.cert_path),
            key_path=str(certs.key_path),
            ws=(hubcfg.websocket.address, hubcfg.websocket.port) if hubcfg.websocket.enable else None,
            quic=(hubcfg.quic.address, hubcfg.quic.port) if hubcfg.quic.enable else None,
        )
        closers.append(listeners.close)
        ports.update(listeners.ports)
        if router is not None:
            ports["router"] = router.port

        # -- /metrics, /healthz, /readyz (KubeEdge's commonConfig.monitorServer)
        from prometheus_client import CollectorRegistry

        from kedge.aio.statusserver import StatusServer
        from kedge.cloud.metrics import CloudCollector

        registry = CollectorRegistry()
        registry.register(CloudCollector(hub, devices=device_module, router=router, api=api, storage=storage))

        def ready() -> str | None:
            waiting = [name for name, ok in synced if not ok()]
            return "waiting for %s to sync with the API server" % ", ".join(waiting) if waiting else None

        status = StatusServer(cfg.common_config.monitor_server.bind_address, registry, ready)
        ports["metrics"] = await status.start()
        closers.append(status.close)
        if hubcfg.https.enable:

            async def exists(name: str) -> bool:
                return await node_exists(api, name)

            certserver = await start_cert_server(
                hubcfg.https.address,
                hubcfg.https.port,
                certs,
                ring,
                node_exists=exists,
                signing_days=hubcfg.edge_cert_signing_duration,
            )
            closers.append(certserver.close)
            ports["https"] = certserver.port
    except BaseException:
        for t in tasks:
            t.cancel()
        for close in reversed(closers):
            res = close()
            if asyncio.iscoroutine(res):
                await res
        raise
    core = CloudCore(cfg, data_dir, hub, kube, ports, closers, tasks)
    tune_gc()
    ready = {
        "ports": ports,
        "kubeconfig": kube,
        "ca": str(certs.ca_cert_path),
        "token": str(certs.token_path),
    }
    (data_dir / READY_FILE).write_text(json.dumps(ready))
    log.info("cloudcore ready: %s", ready)
    return core


async def run_cloudcore(cfg: CloudCoreConfig, data_dir: Path, *, kubeconfig: str | None = None) -> None:
    """Run until SIGINT/SIGTERM."""
    core = await start_cloudcore(cfg, data_dir, kubeconfig=kubeconfig)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("cloudcore running: %s" % json.dumps(core.ports), flush=True)
    try:
        await stop.wait()
    finally:
        core.hub.close_all("cloudcore shutting down")
        await core.stop()
        # a ready file left behind would announce the next start before it is ready
        (core.data_dir / READY_FILE).unlink(missing_ok=True)
