"""cloudcore (embedded API server) + edgecore on real containerd, with kubectl against the cloud."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.apiserver.conftest import kubectl_path
from tests.e2e.procs import Proc, cloudcore_config, kedge, keep_edge_local, start_cloudcore, until
from tests.integration.system.conftest import containerd  # noqa: F401  (the fixture)


@dataclass
class Cluster:
    tmp: Path
    procs: list[Proc]
    cloud_config: Path
    cloud_dir: Path
    edge_dir: Path
    node: str
    socket: str
    cloud: Proc | None = None
    edge: Proc | None = None
    runs: int = 0

    # -- processes -------------------------------------------------------------------------------------

    def start_cloud(self) -> None:
        self.runs += 1
        start_cloudcore(
            self.procs, self.cloud_config, self.cloud_dir, self.tmp / ("cloudcore-%d.log" % self.runs)
        )
        self.cloud = self.procs[-1]

    def stop_cloud(self) -> None:
        assert self.cloud is not None
        assert self.cloud.stop() == 0
        self.cloud = None

    def start_edge(self) -> Proc:
        self.runs += 1
        p = Proc(
            self.tmp / ("edgecore-%d.log" % self.runs),
            "-v",
            "edgecore",
            "--config",
            str(self.edge_dir / "edgecore.yaml"),
        )
        self.procs.append(p)
        self.edge = p
        return p

    def stop_edge(self) -> None:
        assert self.edge is not None
        assert self.edge.stop(timeout=30) == 0
        self.edge = None

    # -- kubectl ---------------------------------------------------------------------------------------

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [
                kubectl_path(),
                "--kubeconfig",
                str(self.cloud_dir / "admin.kubeconfig"),
                "--cache-dir",
                str(self.tmp / "kube-cache"),
                *args,
            ],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert out.returncode == 0, "kubectl %s: %s" % (" ".join(args), out.stderr)
        return out

    def apply(self, *objects: dict) -> None:
        self.kubectl("apply", "-f", "-", input="\n---\n".join(yaml.safe_dump(o) for o in objects))

    def get(self, kind: str, name: str, namespace: str = "default") -> dict | None:
        out = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        if out.returncode != 0:
            assert "NotFound" in out.stderr, out.stderr
            return None
        return json.loads(out.stdout)

    def pod_status(self, name: str) -> dict:
        pod = self.get("pod", name)
        return (pod or {}).get("status") or {}

    def wait_running(self, name: str, timeout: float = 60) -> dict:
        def running() -> dict | None:
            st = self.pod_status(name)
            ok = st.get("phase") == "Running" and all(
                c.get("ready") for c in st.get("containerStatuses") or [{}]
            )
            return st if ok else None

        return until(running, timeout, "pod %s Running" % name)

    # -- the runtime, seen directly ---------------------------------------------------------------------

    def sandboxes(self) -> list[Any]:
        from kedge.edge.edged.runtime.cri import CRIClient

        async def go() -> list[Any]:
            async with CRIClient(self.socket) as cri:
                return await cri.list_pod_sandbox()

        return asyncio.run(go())

    def containers(self) -> list[Any]:
        from kedge.edge.edged.runtime.cri import CRIClient

        async def go() -> list[Any]:
            async with CRIClient(self.socket) as cri:
                return await cri.list_containers()

        return asyncio.run(go())

    def log_of(self, pod: dict, container: str, attempt: int = 0) -> str:
        meta = pod["metadata"]
        path = (
            self.tmp
            / "pod-logs"
            / ("%s_%s_%s" % (meta["namespace"], meta["name"], meta["uid"]))
            / container
            / ("%d.log" % attempt)
        )
        return path.read_text() if path.exists() else ""


@pytest.fixture
def cluster(tmp_path: Path, procs: list[Proc], containerd: str) -> Iterator[Cluster]:  # noqa: F811
    cloud_dir = tmp_path / "cloud"
    config = tmp_path / "cloudcore.yaml"
    cloudcore_config(config, cloud_dir)
    c = Cluster(tmp_path, procs, config, cloud_dir, tmp_path / "edge", "edge-pods", containerd)
    c.start_cloud()
    ready = json.loads((cloud_dir / "cloudcore.ready.json").read_text())
    token = kedge("gettoken", "--data-dir", str(cloud_dir))
    assert token.returncode == 0, token.stderr
    joined = kedge(
        "join",
        "--cloudcore-ipport",
        "127.0.0.1:%d" % ready["ports"]["websocket"],
        "--certport",
        str(ready["ports"]["https"]),
        "--token",
        token.stdout.strip(),
        "--edgenode-name",
        c.node,
        "--runtime",
        "cri",
        "--data-dir",
        str(c.edge_dir),
    )
    assert joined.returncode == 0, joined.stderr
    (tmp_path / "manifests").mkdir()
    keep_edge_local(c.edge_dir / "edgecore.yaml", tmp_path, cri_socket=containerd)
    try:
        yield c
    finally:
        for p in procs:
            if p.popen.poll() is None:
                p.stop(timeout=30)
        # pods this test left in the shared containerd would be "not owned" by the next node: remove them
        from kedge.edge.edged.runtime.cri import CRIClient

        async def clean() -> None:
            async with CRIClient(containerd) as cri:
                for sb in await cri.list_pod_sandbox():
                    await cri.stop_pod_sandbox(sb.id)
                    await cri.remove_pod_sandbox(sb.id)

        asyncio.run(clean())
