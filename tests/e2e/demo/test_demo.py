"""`kedge demo` as a user runs it: the ready view, the commands it prints (run as printed, with the real
kubectl and curl), Ctrl-C stopping every process it started, and a failing step naming itself."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.e2e.procs import ENV, processes_naming

pytestmark = [pytest.mark.system, pytest.mark.slow]


def _children_gone(data_dir: Path) -> None:
    """No process of this demo is left: none has the demo directory on its command line."""
    assert processes_naming(str(data_dir)) == []


def test_demo_exit_after_ready(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    out = subprocess.run(
        [sys.executable, "-m", "kedge", "demo", "--data-dir", str(data_dir), "--exit-after-ready"],
        capture_output=True, text=True, timeout=300, env=ENV,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "kedge demo is ready" in out.stdout
    view = out.stdout.split("kedge demo is ready", 1)[1]
    assert re.search(r"kedge-edge-1\s+Ready\s+hello-edge-1 Running", view), view
    assert re.search(r"kedge-edge-2\s+Ready\s+hello-edge-2 Running", view), view
    assert re.search(r"desired ON, reported count [1-9]\d*", view), view
    assert re.search(r"MQTT topic 'demo' on kedge-edge-1: [\d.]+ ms", view), view
    assert "stopped; state and logs stay in" in out.stdout
    # the second edge got its own local ports from kedge join, written into its edgecore.yaml
    import yaml

    cfgs = [
        yaml.safe_load((data_dir / n / "edgecore.yaml").read_text()) for n in ("kedge-edge-1", "kedge-edge-2")
    ]
    brokers = {c["modules"]["eventBus"]["mqttServerInternal"] for c in cfgs}
    monitors = {c["monitorServer"]["bindAddress"] for c in cfgs}
    assert len(brokers) == 2 and len(monitors) == 2, (brokers, monitors)
    assert not (data_dir / "cloud" / "cloudcore.ready.json").exists()  # cloudcore stopped cleanly
    _children_gone(data_dir)


def test_the_printed_commands_work_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    kubectl = require_binary("kubectl")
    require_binary("curl")
    data_dir = tmp_path / "demo"
    log = tmp_path / "demo.out"
    env = {**ENV, "PATH": str(Path(kubectl).parent) + os.pathsep + ENV["PATH"]}
    with open(log, "w") as f:
        demo = subprocess.Popen(
            [sys.executable, "-m", "kedge", "demo", "--data-dir", str(data_dir)],
            stdout=f, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while "Ctrl-C stops everything" not in log.read_text():
            assert demo.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        text = log.read_text()
        tried = text.split("Try (kubeconfig", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
        assert len(tried) >= 6, text
        results = {}
        for cmd in tried:
            words = shlex.split(cmd)
            res = subprocess.run(words, capture_output=True, text=True, timeout=60, env=ENV)
            assert res.returncode == 0, "%s\n%s%s" % (cmd, res.stdout, res.stderr)
            results[cmd] = res.stdout
        by_verb = {
            " ".join(shlex.split(c)[3:5]) if "kubeconfig" in c else shlex.split(c)[0]: out
            for c, out in results.items()
        }
        assert "kedge-edge-1" in by_verb["get nodes"] and "kedge-edge-2" in by_verb["get nodes"]
        assert "hello-edge-1" in by_verb["get pods"] and "Running" in by_verb["get pods"]
        assert by_verb["get device"].strip().isdigit()
        assert "demo-rest-to-eventbus" in by_verb["get rules,ruleendpoints"]
        assert json.loads(by_verb["curl"] or "{}") is not None
        # the patch the demo suggests turned the counter off
        k = [kubectl, "--kubeconfig", str(data_dir / "cloud" / "admin.kubeconfig")]
        dev = json.loads(
            subprocess.run(
                [*k, "get", "device", "counter", "-o", "json"], capture_output=True, text=True, check=True
            ).stdout
        )
        assert dev["spec"]["properties"][0]["desired"]["value"] == "OFF"
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            code = demo.wait(60)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
    assert code == 0, log.read_text()
    assert "stopped; state and logs stay in" in log.read_text()
    _children_gone(data_dir)


def test_a_failing_step_names_itself(tmp_path: Path) -> None:
    taken = tmp_path / "not-a-demo"
    taken.mkdir()
    (taken / "precious.txt").write_text("keep me")
    out = subprocess.run(
        [sys.executable, "-m", "kedge", "demo", "--data-dir", str(taken), "--exit-after-ready"],
        capture_output=True, text=True, timeout=60, env=ENV,
    )  # fmt: skip
    assert out.returncode == 1
    assert (
        "error: step 'preparing %s' failed: %s exists and was not made by kedge demo" % (taken, taken)
        in out.stdout
    )
    assert (taken / "precious.txt").read_text() == "keep me"
