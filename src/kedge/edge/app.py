"""edgecore: EdgeHub, MetaManager and Edged on beehive, with join and certificate rotation (more modules
come with their issues)."""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from kedge.aio.loops import release_startup_memory
from kedge.beehive import Context, Runtime
from kedge.config import go_duration_seconds as duration_seconds
from kedge.config.edgecore import EdgeCoreConfig
from kedge.edge.edgehub.connect import QUIC, WEBSOCKET, HubTarget, make_connector
from kedge.edge.edgehub.hub import EdgeHub, EdgeHubModule
from kedge.edge.edgehub.outbox import Outbox
from kedge.edge.metamanager.module import MetaManager
from kedge.edge.metamanager.store import MetaStore

log = logging.getLogger(__name__)


def node_name(cfg: EdgeCoreConfig) -> str:
    import socket

    return cfg.modules.edged.hostname_override or socket.gethostname().lower()


def hub_target(cfg: EdgeCoreConfig) -> HubTarget:
    eh = cfg.modules.edge_hub
    protocol = QUIC if eh.quic.enable else WEBSOCKET
    server = eh.quic.server if protocol == QUIC else eh.websocket.server
    return HubTarget(
        protocol=protocol,
        server=server,
        node_id=node_name(cfg),
        project_id=eh.project_id,
        ca_file=eh.tls_ca_file,
        cert_file=eh.tls_cert_file,
        key_file=eh.tls_private_key_file,
        timeout=float(eh.websocket.handshake_timeout),
    )


async def ensure_certificates(cfg: EdgeCoreConfig) -> None:
    """Join with the token when the edge has no usable certificate (KubeEdge's certmanager start)."""
    from kedge.edge.edgehub import certmanager

    eh = cfg.modules.edge_hub
    node = node_name(cfg)
    if not certmanager.needs_join(eh.tls_cert_file, eh.tls_private_key_file, node, time.time()):
        return
    if not eh.token:
        raise RuntimeError(
            "no valid edge certificate at %s and no edgeHub.token to join with; run `kedge join`"
            % eh.tls_cert_file
        )
    await certmanager.join(
        eh.http_server,
        eh.token,
        node,
        ca_file=eh.tls_ca_file,
        cert_file=eh.tls_cert_file,
        key_file=eh.tls_private_key_file,
    )


async def rotate_certificates(cfg: EdgeCoreConfig, hub: EdgeHub, rng: random.Random) -> None:
    """Renew the edge certificate at 70-90 % of its life, then reconnect with it (as KubeEdge does)."""
    from kedge.edge.edgehub import certmanager

    eh = cfg.modules.edge_hub
    while True:
        deadline = certmanager.rotation_deadline(eh.tls_cert_file, rng)
        await asyncio.sleep(max(0.0, deadline - time.time()))
        try:
            await certmanager.rotate(
                eh.http_server,
                node_name(cfg),
                ca_file=eh.tls_ca_file,
                cert_file=eh.tls_cert_file,
                key_file=eh.tls_private_key_file,
            )
        except Exception as e:  # keep the old certificate and try again later
            log.warning("certificate rotation failed: %s; retrying in 60 s", e)
            await asyncio.sleep(60)
            continue
        log.info("edge certificate rotated; reconnecting with it")
        sess = hub.session
        if sess is not None and sess.link is not None:
            sess.link.close("certificate rotated")


def make_runtime(cfg: EdgeCoreConfig, node: str):
    """The pod runtime edgecore.yaml asks for; `auto` takes containerd when its socket exists."""
    edged = cfg.modules.edged
    endpoint = edged.tailored_kubelet_config.container_runtime_endpoint
    kind = edged.runtime
    if kind == "auto":
        path = endpoint.partition("://")[2]
        kind = "cri" if path and Path(path).exists() else "process"
        log.info("runtime auto: %s (%s %s)", kind, endpoint, "found" if kind == "cri" else "not found")
    if kind == "cri":
        from kedge.edge.edged.runtime.cri import CRIClient
        from kedge.edge.edged.runtime.cri_runtime import CRIRuntime

        return CRIRuntime(CRIClient.from_endpoint(endpoint), node)
    from kedge.edge.edged.runtime.process import ProcessRuntime

    return ProcessRuntime(Path(edged.root_directory) / "process-runtime", node)


def make_hub(cfg: EdgeCoreConfig, ctx: Context, outbox: Outbox | None) -> EdgeHub:
    """EdgeHub with the connector and the keepalive/throttle settings edgecore.yaml asks for."""
    eh = cfg.modules.edge_hub
    return EdgeHub(
        node_name(cfg),
        make_connector(hub_target(cfg)),
        ctx,
        heartbeat=float(eh.heartbeat),
        qps=float(eh.message_qps),
        burst=float(eh.message_burst),
        outbox=outbox,
        upload_ttl=float(eh.upload_ttl),
    )


def make_edged(cfg: EdgeCoreConfig, store: MetaStore, pod_runtime: Callable[[], Any] | None = None):
    """Edged on `store`'s pods; `pod_runtime` builds the container runtime (default: make_runtime's
    choice; the scale harness passes a fake one)."""
    from kedge import __version__
    from kedge.edge.edged.manager import PodManager
    from kedge.edge.edged.module import Edged, EdgedSettings

    edged = cfg.modules.edged
    kubelet = edged.tailored_kubelet_config
    node = node_name(cfg)
    settings = EdgedSettings(
        node=node,
        register_namespace=edged.register_node_namespace,
        node_ip=edged.node_ip,
        cloud_host=hub_target(cfg).server,
        labels=dict(edged.node_labels),
        taints=list(kubelet.register_with_taints),
        max_pods=kubelet.max_pods,
        status_update=duration_seconds(kubelet.node_status_update_frequency),
        status_report=duration_seconds(kubelet.node_status_report_frequency),
        lease_duration=kubelet.node_lease_duration_seconds,
        static_pod_path=kubelet.static_pod_path if Path(kubelet.static_pod_path).is_dir() else "",
        file_check=duration_seconds(kubelet.file_check_frequency) or 20.0,
        root_dir=edged.root_directory,
        kubelet_version="v1.32.10-kedge-%s" % __version__,
    )

    def lookup(kind: str, namespace: str, name: str):
        row = store.get("%s/%s/%s" % (namespace, kind, name))
        return None if row is None else msgspec.json.decode(row[1])

    def restore_source() -> list[bytes]:
        return [value for _, _, value, _ in store.query_type("pod")]

    def make_manager(module: Edged) -> PodManager:
        return PodManager(
            make_runtime(cfg, node) if pod_runtime is None else pod_runtime(),
            node,
            root_dir=edged.root_directory,
            log_dir=kubelet.pod_logs_dir,
            lookup=lookup,
            report=module.report_status,
            on_terminated=module.pod_terminated,
            ask_missing=module.ask_missing,
            max_pods=kubelet.max_pods,
        )

    return Edged(settings, make_manager, restore_source)


def make_devicetwin(cfg: EdgeCoreConfig, store: MetaStore, runtime: Runtime):
    """DeviceTwin on its tables in the edge database; the devices and models MetaManager holds are read
    at its start. Returns the TwinStore (to close) and the module."""
    from kedge.edge.devicetwin.module import DeviceTwin
    from kedge.edge.devicetwin.store import TwinStore

    twin_store = TwinStore(cfg.database.data_source)

    def cloud_objects() -> tuple[list[bytes], list[bytes]]:
        return (
            [v for _, _, v, _ in store.query_type("device")],
            [v for _, _, v, _ in store.query_type("devicemodel")],
        )

    module = DeviceTwin(twin_store, node_name(cfg), cloud_objects)
    runtime.register(module)
    return twin_store, module


async def _trim_memory(first: float = 10.0, every: float = 300.0) -> None:
    """Return start-up (and burst) garbage to the system: the edge's budget is resident memory."""
    await asyncio.sleep(first)
    while True:
        release_startup_memory()
        await asyncio.sleep(every)


async def _start_status_server(
    cfg: EdgeCoreConfig, hub: EdgeHub, twin: Any, bus: Any, meta: MetaStore | None = None
) -> Any:
    """/metrics, /healthz, /readyz (monitorServer). A port in use costs the metrics, not the edge."""
    mon = cfg.monitor_server
    if not mon.enable:
        return None
    from prometheus_client import CollectorRegistry

    from kedge.aio.statusserver import StatusServer
    from kedge.edge.metrics import EdgeCollector

    registry = CollectorRegistry()
    registry.register(EdgeCollector(hub, twin=twin, bus=bus, meta=meta))
    # ready once the modules run; being offline is normal for an edge (kedge_edgehub_connected says it)
    server = StatusServer(mon.bind_address, registry, lambda: None)
    try:
        await server.start()
    except (OSError, ValueError) as e:
        log.error("monitorServer %s: %s; edgecore runs without /metrics", mon.bind_address, e)
        return None
    return server


async def run_edgecore(cfg: EdgeCoreConfig) -> None:
    await ensure_certificates(cfg)
    eh = cfg.modules.edge_hub
    # The outbox is a table of the edge database itself: one file to back up, and `kedge reset`, which
    # removes that database, leaves no orphaned outbox behind. MetaStore's `meta` table shares the file.
    db = Path(cfg.database.data_source)
    store = MetaStore(db)
    try:
        outbox = Outbox(db)
    except BaseException:
        store.close()
        raise
    ctx = Context()
    hub = make_hub(cfg, ctx, outbox)
    runtime = Runtime(ctx)
    closers: list = []
    runtime.register(EdgeHubModule(hub))
    runtime.register(MetaManager(store))
    if cfg.modules.edged.enable:
        runtime.register(make_edged(cfg, store))
    twin = bus = None
    if cfg.modules.device_twin.enable:
        twin_store, twin = make_devicetwin(cfg, store, runtime)
        closers.append(twin_store.close)
    if cfg.modules.event_bus.enable:
        from kedge.edge.eventbus.module import make_eventbus  # MQTT only on edges that use it

        bus = make_eventbus(cfg.modules.event_bus, node_name(cfg))
        runtime.register(bus)
    if cfg.modules.service_bus.enable:
        from kedge.edge.servicebus import make_servicebus  # HTTP server only on edges that use it

        runtime.register(make_servicebus(cfg.modules.service_bus, db))
    tasks = []
    if eh.rotate_certificates:
        tasks.append(
            asyncio.create_task(rotate_certificates(cfg, hub, random.Random()), name="cert-rotation")
        )
    tasks.append(asyncio.create_task(_trim_memory(), name="memory-trim"))
    status = await _start_status_server(cfg, hub, twin, bus, store)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.stop)
    try:
        await runtime.run(handle_signals=False)
    finally:
        if status is not None:
            await status.close()
        for t in tasks:
            t.cancel()
        for close in reversed(closers):
            try:
                close()
            except Exception as e:
                log.warning("closing %s: %s", close, e)
        try:
            outbox.close()
        finally:
            store.close()
