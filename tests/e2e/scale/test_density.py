"""The density test end to end at a small size: `python -m bench.scale.density` starts the API server,
cloudcore and a simulator, brings 10 hollow nodes Ready, creates 50 pods at 25/s and writes a results
file whose every figure is there and consistent, with every pod Running and no process left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.scale import results as res

from tests.e2e.procs import ENV, processes_naming

pytestmark = [pytest.mark.system, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


def test_small_density_run(tmp_path: Path) -> None:
    out = tmp_path / "density.json"
    env = {**ENV, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), ENV.get("PYTHONPATH", "")) if p)}
    run = subprocess.run(
        [
            sys.executable, "-m", "bench.scale.density", "--nodes", "10", "--pods", "50", "--pod-rate", "25",
            "--namespaces", "2", "--idle", "2", "--settle", "60", "--pod-delay", "0.2",
            "--state-dir", str(tmp_path / "ids"), "--out", str(out),
        ],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    results = res.load_results(out)
    assert results["core"] in ("compiled", "pure") and results["git"]["commit"]
    [r] = results["runs"]
    assert (r["nodes"], r["pods"], r["created"], r["create_failures"], r["running"]) == (10, 50, 50, 0, 50)
    startup = r["startup_latency_s"]
    assert (
        startup["count"] == 50 and 0.2 <= startup["p50"] <= startup["p90"] <= startup["p99"] <= startup["max"]
    )
    phases = r["phases_s"]
    assert phases["create_to_scheduled"]["count"] == phases["create_to_edge"]["count"] == 50
    assert phases["create_to_scheduled"]["p50"] <= phases["create_to_edge"]["p50"]  # bound before it travels
    assert phases["edge_to_running"]["p50"] >= 0.2  # the simulated pull
    api = r["api_latency_s"]
    assert api["mutating"]["count"] == 50 and api["readonly"]["count"] > 0
    resources = r["resources"]
    for proc in ("cloudcore", "apiserver", "simulators"):
        assert resources[proc]["cpu_s"] > 0 and resources[proc]["peak_rss_mb"] > 0
    assert resources["sqlite_mb"] > 0
    wire = resources["wire_bytes_per_node_min"]
    assert wire["idle"] >= 0 and wire["load"] > 0  # a 2 s idle window may hold no heartbeat
    assert r["slo"] == res.slo(r)
    assert json.loads(run.stdout)["runs"][0]["nodes"] == 10
    assert processes_naming(str(tmp_path / "ids")) == []  # the simulator (it names the state dir) stopped


def test_sigterm_stops_the_whole_cluster(tmp_path: Path) -> None:
    import signal
    import time

    ids = tmp_path / "ids"
    env = {**ENV, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), ENV.get("PYTHONPATH", "")) if p)}
    err = tmp_path / "density.err"
    with open(err, "w") as f:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "bench.scale.density", "--nodes", "5", "--pods", "10",
                "--idle", "60", "--state-dir", str(ids),
            ],
            stdout=subprocess.DEVNULL, stderr=f, env=env, cwd=ROOT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "idle for" not in err.read_text():  # the cluster is up, nodes Ready
            assert proc.poll() is None, err.read_text()[-3000:]
            assert time.monotonic() < deadline, err.read_text()[-3000:]
            time.sleep(0.2)
        work = err.read_text().split("work dir ", 1)[1].split()[0]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert processes_naming(work) == processes_naming(str(ids)) == []  # apiserver, cloudcore, simulator
    assert not Path(work).exists()  # and the work directory went with them
