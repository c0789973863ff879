"""The pods of this node: one PodWorker each, a poll of the runtime (containerd 1.6 has no event stream:
kubelet's PLEG relist, once a second), reconciliation at start (adopt what runs, remove what nobody wants),
and the status of each pod handed to a reporter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kedge.edge.edged.podworker import PodWorker
from kedge.edge.edged.runtime.base import ContainerInfo, PodRuntime, RuntimeFailure
from kedge.edge.edged.volumes import remove_pod_dir
from kedge.model.podrefs import pod_references

log = logging.getLogger(__name__)

#: the PLEG relist period (kubelet: 1 s)
RELIST = 1.0
#: pods started at once (sandbox + containers): more only makes the runtime slower for each of them
START_SLOTS = 4
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

Lookup = Callable[[str, str, str], dict[str, Any] | None]


class PodManager:
    def __init__(
        self,
        runtime: PodRuntime,
        node: str,
        *,
        root_dir: str | Path,
        log_dir: str | Path,
        lookup: Lookup,
        report: Callable[[PodWorker, dict[str, Any]], None],
        on_terminated: Callable[[PodWorker], None],
        ask_missing: Callable[[dict[str, Any]], None] = lambda pod: None,
        host_ip: str = "",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_pods: int = 110,
    ) -> None:
        self.runtime = runtime
        self.node = node
        self.root_dir = Path(root_dir)
        self.log_dir = Path(log_dir)
        self.lookup = lookup
        self._report = report
        self._on_terminated = on_terminated
        self.ask_missing = ask_missing
        self.host_ip = host_ip
        self.clock = clock
        self.wall = wall
        self.max_pods = max_pods
        self.workers: dict[str, PodWorker] = {}
        self.start_slots = asyncio.Semaphore(START_SLOTS)
        self._refs: dict[str, frozenset[tuple[str, str]]] = {}
        self._poller: asyncio.Task | None = None
        # Set while there are pods: an idle node's relist loop sleeps on it instead of waking every second.
        self._busy = asyncio.Event()

    # -- inputs ----------------------------------------------------------------------------------------

    def apply(self, operation: str, pod: dict[str, Any]) -> None:
        """A pod from the cloud (or restored): insert/update/delete."""
        meta = pod.get("metadata") if isinstance(pod, dict) else None
        uid = meta.get("uid") if isinstance(meta, dict) else None
        if not uid or not isinstance(uid, str):
            log.warning("pod message without metadata.uid ignored: %.200r", pod)
            return
        if (meta.get("annotations") or {}).get(MIRROR_ANNOTATION):
            return  # the API's mirror of a static pod this node runs from its manifest
        w = self.workers.get(uid)
        if operation == "delete":
            if w is not None:
                w.delete()
            else:  # not running here (deleted before it started, or a resend)
                self._on_terminated_unknown(pod)
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if node and node != self.node:
            ns, name = meta.get("namespace"), meta.get("name")
            log.warning("pod %s/%s is bound to node %s, not %s; ignored", ns, name, node, self.node)
            return
        self._refs.pop(uid, None)
        if w is not None:
            w.update(pod)
            return
        if meta.get("deletionTimestamp"):
            self._on_terminated_unknown(pod)
            return
        w = PodWorker(self, pod)
        if len(self.workers) >= self.max_pods:
            w.pod_error = ("OutOfpods", "Node didn't have enough resource: pods (maxPods %d)" % self.max_pods)
            w._report()
            return
        self.workers[uid] = w
        self._busy.set()
        w.task = asyncio.get_running_loop().create_task(w.run(), name="pod-%s" % meta.get("name"))

    def _on_terminated_unknown(self, pod: dict[str, Any]) -> None:
        w = PodWorker(self, pod)
        w.terminating = True
        w.deleted = not pod["metadata"].get("deletionTimestamp")
        w.done = True
        self._on_terminated(w)

    def references(self, pod: dict[str, Any]) -> frozenset[tuple[str, str]]:
        uid = pod["metadata"]["uid"]
        refs = self._refs.get(uid)
        if refs is None:
            refs = self._refs[uid] = frozenset(pod_references(pod))
        return refs

    def config_changed(self, kind: str, namespace: str, name: str) -> int:
        """A configmap/secret changed or arrived: wake the pods that use it (volumes, env of new starts)."""
        n = 0
        for w in self.workers.values():
            if w.references(kind, namespace, name):
                w.wake.set()
                n += 1
        return n

    # -- outputs ---------------------------------------------------------------------------------------

    def report(self, worker: PodWorker, status: dict[str, Any]) -> None:
        self._report(worker, status)

    def terminated(self, worker: PodWorker) -> None:
        if self.workers.get(worker.uid) is worker:
            del self.workers[worker.uid]
            if not self.workers:
                self._busy.clear()
        self._refs.pop(worker.uid, None)
        self._on_terminated(worker)

    def cleanup_volumes(self, uid: str) -> None:
        for problem in remove_pod_dir(self.root_dir, uid):
            log.warning("pod %s: volume cleanup: %s", uid, problem)

    def pod_log_dir(self, namespace: str, name: str, uid: str) -> str:
        return str(self.log_dir / ("%s_%s_%s" % (namespace, name, uid)))

    # -- start, poll, stop -----------------------------------------------------------------------------

    async def restore(self, pods: list[dict[str, Any]]) -> None:
        """Start from the pods the store holds: adopt their sandboxes and containers (a running container
        keeps running across an edgecore restart), remove sandboxes of pods that are gone, start workers."""
        desired = {}
        for pod in pods:
            meta = pod.get("metadata") if isinstance(pod, dict) else None
            if isinstance(meta, dict) and meta.get("uid"):
                desired[meta["uid"]] = pod
        try:
            sandboxes = await self.runtime.list_sandboxes()
            containers = await self.runtime.list_containers()
        except RuntimeFailure as e:
            log.warning("cannot list the runtime's pods (%s); starting without adoption", e)
            sandboxes, containers = [], []
        by_uid: dict[str, list] = {}
        for sb in sandboxes:
            by_uid.setdefault(sb.uid, []).append(sb)
        for uid, sbs in by_uid.items():
            pod = desired.get(uid)
            keep = None
            if pod is not None and not pod["metadata"].get("deletionTimestamp"):
                ready = sorted((s for s in sbs if s.ready), key=lambda s: s.attempt)
                keep = ready[-1] if ready else None
            for sb in sbs:
                if sb is keep:
                    continue
                log.info(
                    "removing sandbox %s of pod %s/%s: %s",
                    sb.id,
                    sb.namespace,
                    sb.name,
                    "not ready" if pod is not None else "no such pod on this node",
                )
                try:
                    await self.runtime.stop_sandbox(sb.id)
                    await self.runtime.remove_sandbox(sb.id)
                except RuntimeFailure as e:
                    log.warning("cannot remove sandbox %s: %s", sb.id, e)
                if pod is None:
                    self.cleanup_volumes(uid)
            if keep is not None:
                self._adopt(pod, keep, [c for c in containers if c.sandbox_id == keep.id])
        for uid, pod in desired.items():
            if uid not in self.workers:
                self.apply("insert", pod)

    def _adopt(self, pod: dict[str, Any], sandbox: Any, containers: list[ContainerInfo]) -> None:
        self.apply("insert", pod)
        w = self.workers.get(pod["metadata"]["uid"])
        if w is None:
            return
        w.sandbox = sandbox
        w.sandbox_attempt = sandbox.attempt
        w.containers = containers
        for c in containers:
            w.backoff_n[c.name] = max(w.backoff_n.get(c.name, 0), c.attempt)

    def start_polling(self) -> None:
        if self._poller is None:
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name="edged-pleg")

    async def _poll(self) -> None:
        last: dict[str, tuple] = {}
        sandbox_every = 10
        n = 0
        while True:
            await self._busy.wait()
            await asyncio.sleep(RELIST)
            if not self.workers:
                continue
            try:
                containers = await self.runtime.list_containers()
                sandboxes = await self.runtime.list_sandboxes() if n % sandbox_every == 0 else None
            except RuntimeFailure as e:
                log.warning("runtime relist failed: %s", e)
                continue
            n += 1
            by_sandbox: dict[str, list[ContainerInfo]] = {}
            for c in containers:
                by_sandbox.setdefault(c.sandbox_id, []).append(c)
            ready = None if sandboxes is None else {s.id: s for s in sandboxes}
            for uid, w in list(self.workers.items()):
                sb = w.sandbox
                if sb is None or w.terminating:
                    continue
                if ready is not None:
                    now_sb = ready.get(sb.id)
                    if now_sb is None or not now_sb.ready:
                        sb.ready = False
                        w.wake.set()
                        continue
                mine = by_sandbox.get(sb.id, [])
                sig = tuple(sorted((c.id, c.state, c.exit_code) for c in mine))
                if last.get(uid) != sig:
                    last[uid] = sig
                    w.observe(mine)
            for uid in list(last):
                if uid not in self.workers:
                    del last[uid]

    async def close(self) -> None:
        """Stop the workers (containers keep running: edgecore may restart and adopt them)."""
        tasks = [w.task for w in self.workers.values() if w.task is not None]
        if self._poller is not None:
            tasks.append(self._poller)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._poller = None
