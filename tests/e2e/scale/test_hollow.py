"""Hollow edge nodes against a real cloudcore: `python -m bench.scale.sim` joins 20 nodes with the real
join flow, they register Ready through CloudHub, run 40 pods spread by nodeSelector on the fake runtime
(Running in the API, and reported by the simulator when each reached its node's store), stop cleanly on
SIGTERM; a second run on the same state directory reuses the identities instead of joining again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.apiserver.conftest import kubectl_path
from tests.e2e.procs import ENV, Proc, cloudcore_config, kedge, start_cloudcore, until

pytestmark = [pytest.mark.system, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
NODES = 20
PODS = 40


class SimProc:
    """`python -m bench.scale.sim` with its JSON events (stdout) and logs (stderr) in files."""

    def __init__(self, tmp: Path, run: int, *args: str) -> None:
        self.out = tmp / ("sim-%d.jsonl" % run)
        self.err = tmp / ("sim-%d.log" % run)
        env = {**ENV, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), ENV.get("PYTHONPATH", "")) if p)}
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "bench.scale.sim", *args], stdout=out, stderr=err, env=env, cwd=ROOT
            )

    def events(self) -> list[dict[str, Any]]:
        lines = self.out.read_text().splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def wait_event(self, name: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events():
                if e["event"] == name:
                    return e
                assert e["event"] != "error", e
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "no %r event (exit %s):\n%s\n%s"
                    % (
                        name,
                        self.popen.returncode,
                        self.out.read_text()[-2000:],
                        self.err.read_text()[-4000:],
                    )
                )
            time.sleep(0.1)

    def stop(self) -> int:
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            raise AssertionError(
                "the simulator ignored SIGTERM:\n%s" % self.err.read_text()[-4000:]
            ) from None


def test_hollow_nodes_join_register_and_run_pods(tmp_path: Path, procs: list[Proc]) -> None:
    cloud_dir = tmp_path / "cloud"
    cloudcore_config(tmp_path / "cloudcore.yaml", cloud_dir)
    ready = start_cloudcore(procs, tmp_path / "cloudcore.yaml", cloud_dir, tmp_path / "cloudcore.log")
    token = kedge("gettoken", "--data-dir", str(cloud_dir))
    assert token.returncode == 0, token.stderr
    kubeconfig = ready.get("kubeconfig") or str(cloud_dir / "admin.kubeconfig")

    def kubectl(*args: str, input: str | None = None) -> str:
        out = subprocess.run(
            [kubectl_path(), "--kubeconfig", kubeconfig, "--cache-dir", str(tmp_path / "kube-cache"), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, "kubectl %s: %s" % (" ".join(args), out.stderr)
        return out.stdout

    state = tmp_path / "state"
    args = [
        "--hub", "127.0.0.1:%d" % ready["ports"]["websocket"],
        "--certport", str(ready["ports"]["https"]),
        "--token", token.stdout.strip(),
        "--prefix", "hollow-", "--first", "0", "--count", str(NODES),
        "--state-dir", str(state),
        "--pod-delay", "0.5",
        "--ramp", "100",
        "--report", "1",
    ]  # fmt: skip
    sim = SimProc(tmp_path, 1, *args)
    joined = sim.wait_event("joined")
    assert joined["nodes"] == NODES and joined["reused"] == 0
    assert sim.wait_event("started")["nodes"] == NODES
    names = ["hollow-%05d" % i for i in range(NODES)]

    def ready_nodes() -> set[str]:
        items = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
        return {
            n["metadata"]["name"]
            for n in items
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (n.get("status") or {}).get("conditions", [])
            )
        }

    until(lambda: set(names) <= ready_nodes(), timeout=30, what="all hollow nodes Ready")

    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p-%02d" % i, "namespace": "default"},
            "spec": {
                "nodeSelector": {"kubernetes.io/hostname": names[i % NODES]},
                "containers": [{"name": "c", "image": "registry.local/pause:3.9"}],
            },
        }
        for i in range(PODS)
    ]
    kubectl("apply", "-f", "-", input="\n---\n".join(yaml.safe_dump(p) for p in pods))

    def running() -> bool:
        items = json.loads(kubectl("get", "pods", "-n", "default", "-o", "json"))["items"]
        ok = [p for p in items if (p.get("status") or {}).get("phase") == "Running"]
        return len(ok) == PODS and all(
            p["spec"]["nodeName"] == names[int(p["metadata"]["name"][2:]) % NODES] for p in ok
        )

    until(running, timeout=40, what="all pods Running in the API")

    def seen() -> set[str]:
        return {
            name for e in sim.events() if e["event"] == "pods" for ns, name, _ in e["seen"] if ns == "default"
        }

    until(lambda: seen() >= {p["metadata"]["name"] for p in pods}, timeout=10, what="pods reported seen")
    stats = until(
        lambda: [e for e in sim.events() if e["event"] == "stats" and e["running"] == PODS],
        timeout=30,
        what="stats running",
    )[-1]
    assert stats["connected"] == NODES and stats["pods"] == PODS and stats["rss_kb"] > 0
    assert sim.stop() == 0
    assert sim.events()[-1] == {"event": "stopped"}

    # the same state directory again: identities are reused, nobody joins
    again = SimProc(tmp_path, 2, *args)
    joined = again.wait_event("joined")
    assert joined["reused"] == NODES
    again.wait_event("started")
    until(
        lambda: any(e["event"] == "stats" and e["connected"] == NODES for e in again.events()),
        timeout=30,
        what="reconnected with the reused identities",
    )
    assert again.stop() == 0
    assert again.events()[-1] == {"event": "stopped"}
