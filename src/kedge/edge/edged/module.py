"""Edged, the beehive module (KubeEdge's `edged`, group `edged`): pods from MetaManager to the PodManager,
their statuses back up as `podpatch`, and the node itself: registration, lease and status.

Everything Edged sends goes to MetaManager (as in KubeEdge, where the kubelet's client calls become
metamanager messages): requests that need the cloud (registration, lease, status patches) are sync and
fail fast while the cloud is away; Edged keeps the newest status of each pod and sends it once the cloud
is back. A pod whose graceful deletion finished is confirmed with a durable `delete`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from kedge.beehive import Context, Module
from kedge.edge.edged import nodeinfo, podstatus
from kedge.edge.edged.manager import PodManager
from kedge.edge.edged.manifests import load_static_pods, mirror_pod
from kedge.edge.edged.podworker import PodWorker
from kedge.edge.edged.runtime.base import PodRuntime, RuntimeFailure
from kedge.edge.edgehub.hub import CLOUD_CONNECTED, CLOUD_DISCONNECTED
from kedge.model import constants as c
from kedge.model.message import Message, new_message
from kedge.model.podrefs import pod_references
from kedge.model.resource import ResourceError, parse_wire

log = logging.getLogger(__name__)

#: how long Edged waits for the cloud's answer to a registration, lease or status patch
REMOTE_TIMEOUT = 30.0
#: status patches in flight at once
STATUS_PARALLEL = 16
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder(order="sorted").encode


@dataclass(slots=True)
class EdgedSettings:
    node: str
    register_namespace: str = "default"
    node_ip: str = ""
    cloud_host: str = ""  # the node IP defaults to the local address that reaches it
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, Any]] = field(default_factory=list)
    max_pods: int = 110
    status_update: float = 10.0  # nodeStatusUpdateFrequency
    status_report: float = 300.0  # nodeStatusReportFrequency
    lease_duration: int = 40  # nodeLeaseDurationSeconds; renewed every quarter of it
    static_pod_path: str = ""
    file_check: float = 20.0
    root_dir: str = "/var/lib/kubelet"
    kubelet_version: str = ""


def _content(msg: Message) -> Any:
    content = msg.content
    if type(content) is msgspec.Raw:
        return _decode(content)
    if isinstance(content, bytes | str) and content[:1] in ("{", b"{"):
        return _decode(content)
    return content


class Edged(Module):
    name = c.EDGED
    group = c.EDGED_GROUP

    def __init__(
        self,
        settings: EdgedSettings,
        make_manager: Callable[[Edged], PodManager],
        restore_source: Callable[[], list[bytes]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.restore_source = restore_source
        self.clock = clock
        self.ctx: Context | None = None
        self.connected = asyncio.Event()
        self.runtime_ready = False
        self.runtime_message = "container runtime is not started"
        self.registered = False
        self.node_uid = ""
        self.facts: nodeinfo.HostFacts | None = None
        self._statuses: dict[str, tuple[str, str, str, dict[str, Any]]] = {}  # uid -> (ns, name, uid, status)
        self._status_wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._static: dict[str, dict[str, Any]] = {}
        self._mirrored: set[str] = set()  # static pods whose mirror pod the API has
        self._asked: dict[str, float] = {}
        self.manager = make_manager(self)
        self.runtime: PodRuntime = self.manager.runtime
        #: time the last restore finished (monotonic), for the restore benchmark
        self.restored_at: float | None = None

    # -- beehive ---------------------------------------------------------------------------------------

    async def start(self, ctx: Context) -> None:
        self.ctx = ctx
        loop = asyncio.get_running_loop()
        try:
            s = self.settings
            host, _, port = s.cloud_host.rpartition(":")
            # a few /proc and /etc reads: done inline, a worker thread would cost more memory than it saves
            self.facts = nodeinfo.host_facts(
                node_ip=s.node_ip,
                cloud_host=host.strip("[]"),
                cloud_port=int(port) if port.isdigit() else 10000,
                storage_dir=s.root_dir,
                max_pods=s.max_pods,
                hostname=s.node,
            )
            self.manager.host_ip = self.facts.node_ip
            await self._start_runtime()
            pods = []
            for raw in self.restore_source():
                try:
                    pods.append(_decode(raw))
                except msgspec.DecodeError as e:
                    log.warning("stored pod is not JSON (%s); skipped", e)
            pods.extend(self._load_static())
            await self.manager.restore(pods)
            self.restored_at = self.clock()
            log.info("edged: %d pods restored from the local store", len(self.manager.workers))
            self.manager.start_polling()
            self._tasks = [
                loop.create_task(self._node_loop(), name="edged-node"),
                loop.create_task(self._status_loop(), name="edged-status"),
            ]
            if self.settings.static_pod_path:
                self._tasks.append(loop.create_task(self._static_loop(), name="edged-static"))
            while True:
                for msg in await ctx.receive_many(self.name, 256):
                    try:
                        self.handle(msg)
                    except Exception:
                        log.exception("edged: cannot handle %s %s", msg.route.operation, msg.route.resource)
        finally:
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.manager.close()
            await self.runtime.close()

    async def _start_runtime(self) -> None:
        try:
            await self.runtime.start()
            self.runtime_ready = True
            self.runtime_message = ""
        except RuntimeFailure as e:  # the node reports NotReady; pods wait for the runtime
            self.runtime_ready = False
            self.runtime_message = e.message
            log.error("container runtime not ready: %s", e.message)

    def handle(self, msg: Message) -> None:
        r = msg.route
        if r.operation == c.CONNECT and r.group == c.EDGEHUB_GROUP:
            if msg.content == CLOUD_CONNECTED:
                self.connected.set()
                # the cloud may have marked the node Unknown meanwhile: send the status and every pod's again
                self._force_node_status = True
                # (the pods' copies from the cloud are not resynced yet: all of them, not only the changed)
                self._queue_statuses(only_unapplied=False)
                self._status_wake.set()
            elif msg.content == CLOUD_DISCONNECTED:
                self.connected.clear()
            return
        try:
            res = parse_wire(r.resource)
        except ResourceError as e:
            log.warning("edged: %s", e)
            return
        if res.type == c.POD:
            try:
                pod = _content(msg)
            except (ValueError, msgspec.DecodeError) as e:
                log.warning("pod %s is not JSON: %s", r.resource, e)
                return
            if not isinstance(pod, dict):
                log.warning("pod %s content is not an object; ignored", r.resource)
                return
            self.manager.apply(r.operation if r.operation == c.DELETE else c.UPDATE, pod)
        elif res.type in (c.CONFIGMAP, c.SECRET):
            self.manager.config_changed(res.type, res.namespace, res.name)
        elif res.type == c.NODE and r.operation != c.DELETE:
            try:
                node = _content(msg)
            except (ValueError, msgspec.DecodeError):
                return
            if isinstance(node, dict):
                self.node_uid = (node.get("metadata") or {}).get("uid") or self.node_uid

    # -- requests to MetaManager -----------------------------------------------------------------------

    async def request(self, operation: str, resource: str, content: Any, *, sync: bool = True) -> Any:
        """Send to MetaManager; sync: wait for the reply and return its content, raising RuntimeError on an
        error reply or when the cloud is away."""
        assert self.ctx is not None
        msg = new_message(
            source=c.EDGED, group=c.GROUP_META, operation=operation, resource=resource, content=content
        )
        if not sync:
            await self.ctx.send(c.METAMANAGER, msg)
            return None
        reply = await self.ctx.send_sync(c.METAMANAGER, msg, timeout=REMOTE_TIMEOUT)
        if reply.route.operation == c.ERROR:
            raise RuntimeError(str(reply.content))
        return _content(reply)

    # -- pod status ------------------------------------------------------------------------------------

    def report_status(self, worker: PodWorker, status: dict[str, Any]) -> None:
        # a static pod's status goes to its mirror pod, whose uid the API chose: patch it by name only
        uid = "" if worker.uid in self._static else worker.uid
        self._statuses[worker.uid] = (worker.namespace, worker.name, uid, status)
        self._status_wake.set()

    def pod_terminated(self, worker: PodWorker) -> None:
        self._statuses.pop(worker.uid, None)
        if worker.deleted or self.ctx is None:
            return  # already gone from the API
        options = {"gracePeriodSeconds": 0, "preconditions": {"uid": worker.uid}}
        resource = "%s/%s/%s" % (worker.namespace, c.POD, worker.name)
        asyncio.get_running_loop().create_task(self.request(c.DELETE, resource, options, sync=False))

    def ask_missing(self, pod: dict[str, Any]) -> None:
        """A pod waits for configmaps/secrets this node does not hold: ask the cloud (at most every 10 s
        per object); when one arrives, the pods using it are woken."""
        if self.ctx is None or not self.connected.is_set():
            return
        ns = (pod.get("metadata") or {}).get("namespace") or "default"
        now = self.clock()
        for kind, name in pod_references(pod):
            if self.manager.lookup(kind, ns, name) is not None:
                continue
            resource = "%s/%s/%s" % (ns, kind, name)
            if now - self._asked.get(resource, -1e9) < 10.0:
                continue
            self._asked[resource] = now
            asyncio.get_running_loop().create_task(self._ask(kind, ns, name, resource))

    async def _ask(self, kind: str, namespace: str, name: str, resource: str) -> None:
        try:
            await self.request(c.QUERY, resource, None)
        except (RuntimeError, TimeoutError) as e:
            log.info("%s %s/%s is not available: %s", kind, namespace, name, e)
            return
        self.manager.config_changed(kind, namespace, name)

    async def _status_loop(self) -> None:
        last_full = self.clock()
        while True:
            try:
                await asyncio.wait_for(self._status_wake.wait(), self.settings.status_report)
            except TimeoutError:
                pass
            self._status_wake.clear()
            await self.connected.wait()
            if self.clock() - last_full >= self.settings.status_report:
                last_full = self.clock()
                self._queue_statuses(only_unapplied=True)
            batch, self._statuses = self._statuses, {}
            items = list(batch.values())
            for i in range(0, len(items), STATUS_PARALLEL):
                await asyncio.gather(*(self._send_status(*item) for item in items[i : i + STATUS_PARALLEL]))
            if self._statuses:
                await asyncio.sleep(1.0)  # failed ones were put back: retry soon, not in a tight loop

    def _queue_statuses(self, *, only_unapplied: bool) -> None:
        """Queue the pods' statuses for the cloud: all of them, or only those the cloud's copy of the pod
        does not hold yet (its status patch was lost, or someone else changed it since)."""
        for w in self.manager.workers.values():
            if w.status is None:
                continue
            if only_unapplied and podstatus.status_applied(w.status, w.pod.get("status")):
                continue
            uid = "" if w.uid in self._static else w.uid  # a static pod's mirror is patched by name
            self._statuses.setdefault(w.uid, (w.namespace, w.name, uid, w.status))

    async def _send_status(self, namespace: str, name: str, uid: str, status: dict[str, Any]) -> None:
        body: dict[str, Any] = {"metadata": {"uid": uid}, "status": status} if uid else {"status": status}
        patch = _encode(body).decode()
        try:
            await self.request(c.PATCH, "%s/%s/%s" % (namespace, c.PODPATCH, name), patch)
        except (RuntimeError, TimeoutError, Exception) as e:
            if "not found" in str(e):
                return  # the cloud deleted it; its delete message follows
            log.info("status of pod %s/%s not reported (%s); retrying", namespace, name, e)
            self._statuses.setdefault(
                uid or "static/%s/%s" % (namespace, name), (namespace, name, uid, status)
            )

    # -- node ------------------------------------------------------------------------------------------

    def node_object(self) -> dict[str, Any]:
        s = self.settings
        runtime_version = "%s://unknown" % self.runtime.kind
        assert self.facts is not None
        return nodeinfo.node_object(
            s.node,
            self.facts,
            labels=s.labels,
            taints=s.taints,
            runtime_version=self._runtime_version or runtime_version,
            kubelet_version=s.kubelet_version,
            conditions=self._conditions(None),
        )

    _runtime_version = ""
    _force_node_status = True
    _last_conditions: list[dict[str, Any]] | None = None

    def _conditions(self, previous: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        now = dt.datetime.now(dt.UTC)
        if self.runtime_ready:
            return nodeinfo.node_conditions(
                now,
                ready=True,
                reason="KubeletReady",
                message="kubelet is posting ready status",
                previous=previous,
            )
        return nodeinfo.node_conditions(
            now,
            ready=False,
            reason="KubeletNotReady",
            message="container runtime is down: %s" % self.runtime_message,
            previous=previous,
        )

    async def _node_loop(self) -> None:
        s = self.settings
        lease_every = max(1.0, s.lease_duration / 4)
        next_status = next_lease = 0.0
        last_status: str = ""
        last_report = 0.0
        while True:
            await self.connected.wait()
            now = self.clock()
            try:
                if not self.runtime_ready:
                    await self._start_runtime()
                if not self._runtime_version and self.runtime_ready:
                    try:
                        self._runtime_version = await self.runtime.version()
                    except RuntimeFailure:
                        pass
                if not self.registered:
                    node = await self.request(
                        c.INSERT, "%s/%s/%s" % (s.register_namespace, c.NODE, s.node), self.node_object()
                    )
                    self.registered = True
                    if isinstance(node, dict):
                        self.node_uid = (node.get("metadata") or {}).get("uid") or self.node_uid
                    log.info("node %s registered", s.node)
                    last_report = now
                for uid, pod in list(self._static.items()):
                    if uid not in self._mirrored:
                        meta = pod["metadata"]
                        resource = "%s/%s/%s" % (meta["namespace"], c.POD, meta["name"])
                        await self.request(c.INSERT, resource, mirror_pod(pod, self.node_uid or None))
                        self._mirrored.add(uid)
                if now >= next_lease:
                    lease = nodeinfo.lease_object(
                        s.node, dt.datetime.now(dt.UTC), s.lease_duration, node_uid=self.node_uid or None
                    )
                    await self.request(c.UPDATE, "kube-node-lease/%s/%s" % (c.LEASE, s.node), lease)
                    next_lease = now + lease_every
                if self._force_node_status:
                    next_status, last_status = now, ""
                    self._force_node_status = False
                if now >= next_status:
                    next_status = now + s.status_update
                    conditions = self._conditions(self._last_conditions)
                    # only a changed status, or one per report period, goes up (lastHeartbeatTime aside)
                    key = _encode(
                        [{k: v for k, v in cnd.items() if k != "lastHeartbeatTime"} for cnd in conditions]
                    ).decode()
                    if key != last_status or now - last_report >= s.status_report:
                        assert self.facts is not None
                        status = nodeinfo.node_status(
                            self.facts,
                            conditions=conditions,
                            runtime_version=self._runtime_version,
                            kubelet_version=s.kubelet_version,
                            hostname=s.node,
                        )
                        await self.request(
                            c.PATCH,
                            "%s/%s/%s" % (s.register_namespace, c.NODEPATCH, s.node),
                            nodeinfo.node_status_patch(status),
                        )
                        self._last_conditions = conditions
                        last_status, last_report = key, now
            except (RuntimeError, TimeoutError) as e:
                log.warning("node %s: cloud request failed: %s", s.node, e)
                await asyncio.sleep(min(5.0, lease_every))
                continue
            await asyncio.sleep(max(0.05, min(next_lease, next_status) - self.clock()))

    # -- static pods -----------------------------------------------------------------------------------

    def _load_static(self) -> list[dict[str, Any]]:
        if not self.settings.static_pod_path:
            return []
        pods, errors = load_static_pods(self.settings.static_pod_path, self.settings.node)
        for err in errors:
            log.warning("static pod: %s", err)
        self._static = {p["metadata"]["uid"]: p for p in pods}
        return pods

    async def _static_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.file_check)
            before = dict(self._static)
            now = {p["metadata"]["uid"]: p for p in self._load_static()}
            for uid, pod in before.items():
                if uid not in now:
                    self.manager.apply(c.DELETE, pod)
                    if uid in self._mirrored:  # the manifest is gone: so is its mirror pod
                        self._mirrored.discard(uid)
                        meta = pod["metadata"]
                        resource = "%s/%s/%s" % (meta["namespace"], c.POD, meta["name"])
                        await self.request(c.DELETE, resource, {"gracePeriodSeconds": 0}, sync=False)
            for uid, pod in now.items():
                if uid not in before:
                    self.manager.apply(c.INSERT, pod)
