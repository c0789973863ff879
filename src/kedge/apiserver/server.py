"""The API server's lifecycle: open the store, restore and install CRDs, create the standard namespaces,
serve HTTP(S), run the control loops, stop cleanly.

TLS material and tokens come from the caller (kedge.cloud.embedded builds them), so this package needs
no knowledge of where certificates live.
"""

import asyncio
import copy
import logging
import ssl
import time
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from kedge.apiserver.app import Api
from kedge.apiserver.builtin import new_registry
from kedge.apiserver.controllers import Controllers
from kedge.apiserver.errors import ApiError
from kedge.apiserver.nodelifecycle import NodeLifecycleSettings
from kedge.apiserver.registry import Registry
from kedge.apiserver.request import Target
from kedge.apiserver.rest import Rest
from kedge.apiserver.storage import Event, Storage
from kedge.apiserver.watch import WatchHub

log = logging.getLogger(__name__)

#: Namespaces that exist from the start (Kubernetes' own plus KubeEdge's).
STANDARD_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "kubeedge")
CRDS = "customresourcedefinitions.apiextensions.k8s.io"
_SYSTEM_AGENT = "kedge-apiserver"


def crd_manifests() -> list[dict[str, Any]]:
    """kedge's CRDs: shipped in the package (wheel builds copy cloud/crds there) or, from a source
    checkout, read from cloud/crds."""
    packaged = resources.files("kedge.apiserver").joinpath("crds")
    if packaged.is_dir():
        files = sorted((f for f in packaged.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
        texts = [f.read_text() for f in files]
    else:
        source = Path(__file__).resolve().parents[3] / "cloud" / "crds"
        texts = [p.read_text() for p in sorted(source.glob("*.yaml"))]
    return [d for t in texts for d in yaml.safe_load_all(t) if d]


class ApiServer:
    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 6443,
        ssl_context: ssl.SSLContext | None = None,
        tokens: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        install_crds: bool = True,
        node_lifecycle: NodeLifecycleSettings | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.tokens = tuple(tokens)
        if not self.tokens:
            raise ValueError("the API server needs at least one bearer token")
        self.clock = clock
        self.install_crds = install_crds
        self.node_lifecycle = node_lifecycle or NodeLifecycleSettings()
        self.storage: Storage | None = None
        self.registry: Registry = new_registry()
        self.hub = WatchHub()
        self._runner: web.AppRunner | None = None
        self._controllers: Controllers | None = None
        self.api: Api | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % (scheme, host, self.port)

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        storage = self.storage = Storage(str(self.data_dir / "apiserver.db"))
        rest = Rest(storage, self.registry, clock=self.clock, on_crd=self._on_crd)
        controllers = self._controllers = Controllers(rest, node_lifecycle=self.node_lifecycle)

        def on_commit(event: Event) -> None:
            rest.observe(event)
            self.hub.publish(event)
            controllers.notify(event)

        storage.listener = on_commit
        self._restore_crds()
        self._bootstrap(rest)
        self.api = Api(storage, self.registry, rest, self.hub, tokens=self.tokens, clock=self.clock)
        runner = self._runner = web.AppRunner(
            self.api.application(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context, backlog=1024)
        await site.start()
        if self.port == 0:  # an ephemeral port was asked for: report the one we got
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        controllers.start()
        self.api.ready = True
        log.info("API server listening on %s (revision %d)", self.url, storage.revision)

    async def stop(self) -> None:
        if self.api is not None:
            self.api.ready = False
        self.hub.close_all()  # watches end cleanly; clients re-watch elsewhere or later
        if self._controllers is not None:
            await self._controllers.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.storage is not None:
            self.storage.close()
            self.storage = None

    async def __aenter__(self) -> "ApiServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        await asyncio.Event().wait()

    # -- start-up -----------------------------------------------------------------------------

    def _restore_crds(self) -> None:
        assert self.storage is not None
        for stored in self.storage.list(CRDS).items:
            try:
                self.registry.add_crd(stored.obj)
            except ApiError as e:  # a stored CRD the registry now rejects must not stop the server
                log.error("stored CRD %s is not served: %s", stored.obj["metadata"]["name"], e.message)

    def _bootstrap(self, rest: Rest) -> None:
        namespaces = self.registry.get("", "v1", "namespaces")
        assert namespaces is not None and self.storage is not None
        for name in STANDARD_NAMESPACES:
            if self.storage.get("namespaces", "", name) is None:
                rest.create(Target(namespaces), {"metadata": {"name": name}}, {}, _SYSTEM_AGENT)
        if not self.install_crds:
            return
        crds = self.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert crds is not None
        for manifest in crd_manifests():
            name = manifest["metadata"]["name"]
            stored = self.storage.get(CRDS, "", name)
            if stored is None:
                rest.create(Target(crds), copy.deepcopy(manifest), {}, _SYSTEM_AGENT)
            elif stored.obj.get("spec") != manifest.get("spec"):
                log.info("updating CRD %s to the shipped definition", name)
                new = copy.deepcopy(stored.obj)
                new["spec"] = copy.deepcopy(manifest["spec"])
                rest.update(Target(crds, "", name), new, {}, _SYSTEM_AGENT)

    def _on_crd(self, name: str, crd: dict[str, Any] | None) -> None:
        """A CRD was written or deleted: serve its resources, or stop serving them and drop their objects."""
        assert self.storage is not None
        if crd is not None:
            self.registry.add_crd(crd)
            return
        infos = self.registry.crd_resources(name)
        self.registry.remove_crd(name)
        for key in {i.storage_key for i in infos}:
            with self.storage.transaction():
                for stored in self.storage.list(key).items:
                    meta = stored.obj["metadata"]
                    self.storage.delete(key, meta.get("namespace", ""), meta["name"], now=self.clock())
