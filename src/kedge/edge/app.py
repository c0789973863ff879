"""edgecore: EdgeHub and MetaManager on beehive, with join and certificate rotation (more modules come with
their issues)."""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import time
from pathlib import Path

from kedge.beehive import Context, Runtime
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
    hub = EdgeHub(
        node_name(cfg),
        make_connector(hub_target(cfg)),
        ctx,
        heartbeat=float(eh.heartbeat),
        qps=float(eh.message_qps),
        burst=float(eh.message_burst),
        outbox=outbox,
    )
    runtime = Runtime(ctx)
    runtime.register(EdgeHubModule(hub))
    runtime.register(MetaManager(store))
    tasks = []
    if eh.rotate_certificates:
        tasks.append(
            asyncio.create_task(rotate_certificates(cfg, hub, random.Random()), name="cert-rotation")
        )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.stop)
    try:
        await runtime.run(handle_signals=False)
    finally:
        for t in tasks:
            t.cancel()
        try:
            outbox.close()
        finally:
            store.close()
