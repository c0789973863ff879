"""Edged's full status report (every nodeStatusReportFrequency) sends only the pod statuses the cloud's copy
of the pod lacks; after a reconnect it sends all of them (the cloud's copies are not resynced yet). The
cloud's copies are what kedge's API server stores after the status patch cloudcore makes (a strategic
merge patch of the status subresource), as they come back to the edge."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from kedge.apiserver.builtin import new_registry
from kedge.apiserver.request import Target
from kedge.apiserver.rest import Rest
from kedge.apiserver.storage import Storage
from kedge.edge.edged.manager import PodManager
from kedge.edge.edged.module import Edged, EdgedSettings
from kedge.edge.edged.runtime.process import ProcessRuntime

NODE = "n1"
SMP = "application/strategic-merge-patch+json"


class Api:
    """kedge's API server storage and verbs, in process."""

    def __init__(self, tmp: Path) -> None:
        self.storage = Storage(str(tmp / "api.db"))
        self.registry = new_registry()
        self.rest = Rest(self.storage, self.registry)
        self.storage.listener = self.rest.observe
        self.pods = self.registry.get("", "v1", "pods")
        namespaces = self.registry.get("", "v1", "namespaces")
        self.rest.create(Target(namespaces), {"metadata": {"name": "default"}}, {}, "test")

    def bound_pod(self, name: str) -> dict[str, Any]:
        container = {"name": "main", "image": "busybox", "command": ["/bin/sh", "-c", "sleep 60"]}
        body = {"metadata": {"name": name, "namespace": "default"}, "spec": {"containers": [container]}}
        self.rest.create(Target(self.pods, "default"), body, {}, "test")
        self.rest.bind("default", name, NODE)
        return self.get(name)

    def get(self, name: str) -> dict[str, Any]:
        stored = self.storage.get("pods", "default", name)
        assert stored is not None
        return json.loads(stored.data)

    def patch_status(self, name: str, uid: str, status: dict[str, Any]) -> dict[str, Any]:
        """What cloudcore does with the edge's podpatch; returns the pod as the edge then receives it."""
        body = {"metadata": {"uid": uid}, "status": status}
        self.rest.patch(Target(self.pods, "default", name, "status"), body, SMP, {}, "cloudcore")
        return self.get(name)


def edged_on(tmp: Path) -> Edged:
    def make_manager(module: Edged) -> PodManager:
        return PodManager(
            ProcessRuntime(tmp / "rt", NODE),
            NODE,
            root_dir=tmp / "kubelet",
            log_dir=tmp / "logs",
            lookup=lambda kind, ns, name: None,
            report=module.report_status,
            on_terminated=lambda w: None,
            host_ip="192.0.2.10",
        )

    return Edged(EdgedSettings(node=NODE, root_dir=str(tmp / "kubelet")), make_manager, lambda: [])


def queued(edged: Edged) -> list[str]:
    return sorted(name for _, name, _, _ in edged._statuses.values())


async def test_the_full_report_skips_statuses_the_cloud_holds(tmp_path: Path) -> None:
    api = Api(tmp_path)
    edged = edged_on(tmp_path)
    await edged.runtime.start()
    try:
        pods = {name: api.bound_pod(name) for name in ("a", "b", "c")}
        for pod in pods.values():
            edged.manager.apply("insert", pod)
        workers = {p["metadata"]["name"]: edged.manager.workers[p["metadata"]["uid"]] for p in pods.values()}
        async with asyncio.timeout(20):
            while not all((w.status or {}).get("phase") == "Running" for w in workers.values()):
                await asyncio.sleep(0.05)
        edged._statuses.clear()  # as if all were sent

        # a's and b's patches reached the API server and their pods came back; c's patch was lost
        for name in ("a", "b"):
            echoed = api.patch_status(name, workers[name].uid, workers[name].status or {})
            edged.manager.apply("update", echoed)
        edged._queue_statuses(only_unapplied=True)
        assert queued(edged) == ["c"]

        # someone else changed a's status in the API (the node lifecycle while the node was away)
        changed = api.patch_status("a", workers["a"].uid, {"phase": "Unknown"})
        edged.manager.apply("update", changed)
        edged._statuses.clear()
        edged._queue_statuses(only_unapplied=True)
        assert queued(edged) == ["a", "c"]

        edged._statuses.clear()
        edged._queue_statuses(only_unapplied=False)  # the reconnect
        assert queued(edged) == ["a", "b", "c"]
    finally:
        await edged.manager.close()
        for sb in await edged.runtime.list_sandboxes():
            await edged.runtime.stop_sandbox(sb.id)
