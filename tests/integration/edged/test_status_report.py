"""Edged's full status report (every nodeStatusReportFrequency) sends only the pod statuses the cloud's copy
of the pod lacks; after a reconnect it sends all of them (the cloud's copies are not resynced yet)."""

from __future__ import annotations

import asyncio
import copy
import uuid
from pathlib import Path

from kedge.edge.edged.manager import PodManager
from kedge.edge.edged.module import Edged, EdgedSettings
from kedge.edge.edged.runtime.process import ProcessRuntime

NODE = "n1"


def pod(name: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4())},
        "spec": {
            "nodeName": NODE,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "busybox", "command": ["/bin/sh", "-c", "sleep 60"]}],
        },
    }


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


async def test_the_full_report_skips_statuses_the_cloud_holds(tmp_path: Path) -> None:
    edged = edged_on(tmp_path)
    await edged.runtime.start()
    try:
        pods = [pod("a"), pod("b"), pod("c")]
        for p in pods:
            edged.manager.apply("insert", p)
        async with asyncio.timeout(20):
            while (
                not all((w.status or {}).get("phase") == "Running" for w in edged.manager.workers.values())
                or len(edged.manager.workers) < 3
            ):
                await asyncio.sleep(0.05)
        edged._statuses.clear()  # as if all were sent

        # the cloud echoed a's and b's statuses back (with fields of its own); c's patch was lost
        for p in pods[:2]:
            w = edged.manager.workers[p["metadata"]["uid"]]
            echoed = copy.deepcopy(p)
            echoed["status"] = {**copy.deepcopy(w.status), "qosClass": "BestEffort"}
            edged.manager.apply("update", echoed)
        edged._queue_statuses(only_unapplied=True)
        assert [name for _, name, _, _ in edged._statuses.values()] == ["c"]

        # someone else changed a's status in the cloud (the node lifecycle while the node was away)
        wa = edged.manager.workers[pods[0]["metadata"]["uid"]]
        changed = copy.deepcopy(wa.pod)
        changed["status"]["phase"] = "Unknown"
        edged.manager.apply("update", changed)
        edged._statuses.clear()
        edged._queue_statuses(only_unapplied=True)
        assert sorted(name for _, name, _, _ in edged._statuses.values()) == ["a", "c"]

        edged._statuses.clear()
        edged._queue_statuses(only_unapplied=False)  # the reconnect
        assert sorted(name for _, name, _, _ in edged._statuses.values()) == ["a", "b", "c"]
    finally:
        await edged.manager.close()
        for sb in await edged.runtime.list_sandboxes():
            await edged.runtime.stop_sandbox(sb.id)
