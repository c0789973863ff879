"""HollowNode: one edge node inside a process shared with many others (KubeEdge's Edgemark).

Each node is what `kedge edgecore` builds (`kedge.edge.app`): EdgeHub with the real WebSocket/QUIC
connector and mTLS with the node's own certificate, MetaManager on its MetaStore, the outbox, and Edged
with its pod manager, status and lease loops, at edgecore's default intervals. Only the container runtime
is fake (`FakeRuntime`). No DeviceTwin, EventBus, ServiceBus, monitor server nor certificate rotation:
they are per-edge features the density test does not exercise.

Everything runs on the caller's event loop: no thread per node. The per-node cost is the modules' tasks,
two SQLite connections (in memory by default), a socket and its TLS state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from bench.scale.fakeruntime import FakeRuntime
from kedge.beehive import Context, Runtime
from kedge.config.edgecore import EdgeCoreConfig, default_edgecore
from kedge.edge.app import make_edged, make_hub
from kedge.edge.edged.module import Edged
from kedge.edge.edgehub.hub import EdgeHub, EdgeHubModule
from kedge.edge.edgehub.outbox import Outbox
from kedge.edge.metamanager.module import MetaManager
from kedge.edge.metamanager.store import MEMORY, MetaStore
from kedge.model import constants as c

log = logging.getLogger(__name__)

_replace = msgspec.structs.replace
#: called with (namespace, name, time.time()) when a pod first reaches a node's MetaStore
PodSeen = Callable[[str, str, float], None]

CA_FILE = "ca.crt"
CERT_FILE = "edge.crt"
KEY_FILE = "edge.key"


def node_files(state_dir: Path | str, node: str) -> tuple[Path, Path, Path]:
    """(CA, certificate, key) of `node` under the simulator's state directory."""
    d = Path(state_dir) / node
    return d / CA_FILE, d / CERT_FILE, d / KEY_FILE


def node_config(
    base: EdgeCoreConfig,
    node: str,
    state_dir: Path | str,
    *,
    hub: str,
    protocol: str = "websocket",
    certport: int = 10002,
    db: str = "memory",
) -> EdgeCoreConfig:
    """edgecore's configuration for one hollow node: `base` (edgecore's defaults) with the node's name,
    certificate files, database and directories. Sections it does not change are shared between nodes."""
    ca, cert, key = node_files(state_dir, node)
    d = Path(state_dir) / node
    mods = base.modules
    eh = mods.edge_hub
    host = hub.rpartition(":")[0]
    eh = _replace(
        eh,
        tls_ca_file=str(ca),
        tls_cert_file=str(cert),
        tls_private_key_file=str(key),
        http_server="https://%s:%d" % (host, certport),
        rotate_certificates=False,
        websocket=_replace(eh.websocket, enable=protocol == "websocket", server=hub),
        quic=_replace(eh.quic, enable=protocol == "quic", server=hub),
    )
    edged = _replace(mods.edged, hostname_override=node, root_directory=str(d / "kubelet"), runtime="process")
    data_source = MEMORY if db == "memory" else str(d / "edgecore.db")
    return _replace(
        base,
        database=_replace(base.database, data_source=data_source),
        modules=_replace(mods, edge_hub=eh, edged=edged),
    )


def base_config() -> EdgeCoreConfig:
    """edgecore's defaults, minus what reads the host's directories (static pods, pod logs)."""
    cfg = default_edgecore()
    edged = cfg.modules.edged
    kubelet = _replace(edged.tailored_kubelet_config, static_pod_path="")
    return _replace(
        cfg, modules=_replace(cfg.modules, edged=_replace(edged, tailored_kubelet_config=kubelet))
    )


class _SeenStore(MetaStore):
    """MetaStore that reports a pod the first time its key is stored (the cheapest point that is
    'stored at the edge': MetaManager puts, then commits and acks)."""

    on_pod: PodSeen | None = None

    def put(self, key: str, type: str, value: bytes, rv: int = 0) -> bool:
        new = type == c.POD and self.on_pod is not None and key not in self
        stored = super().put(key, type, value, rv)
        if new and stored:
            ns, _, name = key.split("/", 2)
            self.on_pod(ns, name, time.time())  # type: ignore[misc]
        return stored


class HollowNode:
    """One simulated edge node; start() and stop() in the running event loop."""

    def __init__(self, cfg: EdgeCoreConfig, *, pod_delay: float = 1.0, on_pod: PodSeen | None = None) -> None:
        self.cfg = cfg
        self.name = cfg.modules.edged.hostname_override
        self.pod_delay = pod_delay
        self.on_pod = on_pod
        self.store: MetaStore | None = None
        self.outbox: Outbox | None = None
        self.hub: EdgeHub | None = None
        self.edged: Edged | None = None
        self.fake: FakeRuntime | None = None
        self._runtime: Runtime | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Build the modules and start them (returns at once; EdgeHub connects in the background)."""
        cfg = self.cfg
        source = cfg.database.data_source
        store = _SeenStore(source)
        store.on_pod = self.on_pod
        try:
            # with a file, the outbox shares the edge database as in edgecore; in memory it is its own
            outbox = Outbox(source)
        except BaseException:
            store.close()
            raise
        self.store, self.outbox = store, outbox
        ctx = Context()
        self.hub = make_hub(cfg, ctx, outbox)
        self.fake = FakeRuntime(self.name, pod_delay=self.pod_delay)
        fake = self.fake
        self.edged = make_edged(cfg, store, lambda: fake)
        runtime = self._runtime = Runtime(ctx)
        runtime.register(EdgeHubModule(self.hub))
        runtime.register(MetaManager(store))
        runtime.register(self.edged)
        self._task = asyncio.get_running_loop().create_task(
            runtime.run(handle_signals=False), name="hollow:" + self.name
        )

    async def stop(self) -> None:
        """Stop the modules, then close the stores (MetaStore commits what is dirty)."""
        try:
            if self._runtime is not None and self._task is not None:
                self._runtime.stop()
                try:
                    await self._task
                except Exception as e:
                    log.warning("node %s: %s", self.name, e)
        finally:
            self._task = self._runtime = None
            try:
                if self.outbox is not None:
                    self.outbox.close()
            finally:
                self.outbox = None
                if self.store is not None:
                    self.store.close()
                self.store = None

    @property
    def connected(self) -> bool:
        return self.hub is not None and self.hub.connected.is_set()

    @property
    def running(self) -> int:
        """Pods whose last status Edged made says Running."""
        if self.edged is None:
            return 0
        return sum(
            1
            for w in self.edged.manager.workers.values()
            if w.status is not None and w.status.get("phase") == "Running"
        )

    @property
    def pods(self) -> int:
        """Pods Edged runs a worker for."""
        return 0 if self.edged is None else len(self.edged.manager.workers)
