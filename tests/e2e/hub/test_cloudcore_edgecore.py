"""Real processes, used as an operator uses them: `kedge cloudcore` with its embedded API server,
`kedge gettoken`, `kedge join` (one node over WebSocket, one over QUIC), `kedge edgecore`, a cloudcore
restart the edges ride out, and `kedge reset`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

READY = "cloudcore.ready.json"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kedge(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kedge", *args], capture_output=True, text=True, timeout=timeout, env=ENV
    )


class Proc:
    """A long-running kedge process with its log (stdout and stderr) in a file."""

    def __init__(self, log: Path, *args: str) -> None:
        self.log = log
        with open(log, "w") as out:  # the child keeps its own copy of the descriptor
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "kedge", *args], stdout=out, stderr=subprocess.STDOUT, env=ENV
            )

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.popen.poll() is not None:
                raise AssertionError(
                    "%s exited (%s) before logging %r:\n%s"
                    % (self.log.name, self.popen.returncode, needle, self.text()[-4000:])
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    "%s: no %r within %g s:\n%s" % (self.log.name, needle, timeout, self.text()[-4000:])
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 20) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
                raise AssertionError(
                    "%s ignored SIGTERM for %g s:\n%s" % (self.log.name, timeout, self.text()[-4000:])
                ) from None
        return self.popen.returncode


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:  # whatever a failed test left running
        if p.popen.poll() is None:
            p.popen.kill()
            p.popen.wait(5)


def cloudcore_config(path: Path, data_dir: Path) -> dict:
    out = kedge("cloudcore", "--defaultconfig")
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    cfg["dataDir"] = str(data_dir)
    cfg["embeddedAPIServer"]["port"] = free_port()
    hub = cfg["modules"]["cloudHub"]
    for lane, kind in (
        ("websocket", socket.SOCK_STREAM),
        ("https", socket.SOCK_STREAM),
        ("quic", socket.SOCK_DGRAM),
    ):
        hub[lane]["address"] = "127.0.0.1"
        hub[lane]["port"] = free_port(kind)
    hub["quic"]["enable"] = True
    hub["unixsocket"]["enable"] = False
    path.write_text(yaml.safe_dump(cfg))
    return cfg


def start_cloudcore(procs: list[Proc], config: Path, data_dir: Path, log: Path) -> dict:
    ready = data_dir / READY
    assert not ready.exists(), "a stopped cloudcore left %s behind" % ready
    p = Proc(log, "-v", "cloudcore", "--config", str(config), "--data-dir", str(data_dir))
    procs.append(p)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if p.popen.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("cloudcore did not become ready:\n%s" % p.text()[-4000:])
        time.sleep(0.05)
    return json.loads(ready.read_text())


def test_cloudcore_join_edgecore_restart_and_reset(tmp_path: Path, procs: list[Proc]) -> None:
    cloud_dir = tmp_path / "cloud"
    config = tmp_path / "cloudcore.yaml"
    cfg = cloudcore_config(config, cloud_dir)
    hub = cfg["modules"]["cloudHub"]
    ready = start_cloudcore(procs, config, cloud_dir, tmp_path / "cloudcore-1.log")
    cloudcore = procs[-1]
    assert ready["ports"] == {
        "websocket": hub["websocket"]["port"],
        "quic": hub["quic"]["port"],
        "https": hub["https"]["port"],
    }

    token = kedge("gettoken", "--data-dir", str(cloud_dir))
    assert token.returncode == 0, token.stderr
    token_text = token.stdout.strip()
    assert token_text == Path(ready["token"]).read_text().strip()  # the token cloudcore hands out

    nodes = {"edge-ws": "websocket", "edge-quic": "quic"}
    edge_dirs = {node: tmp_path / node for node in nodes}
    for node, protocol in nodes.items():
        joined = kedge(
            "join",
            "--cloudcore-ipport", "127.0.0.1:%d" % hub["websocket"]["port"],
            "--token", token_text,
            "--edgenode-name", node,
            "--data-dir", str(edge_dirs[node]),
            "--certport", str(hub["https"]["port"]),
            "--quicport", str(hub["quic"]["port"]),
            "--hub-protocol", protocol,
            "--runtime", "process",
        )  # fmt: skip
        assert joined.returncode == 0, joined.stderr
        assert "node %s joined" % node in joined.stdout
    cloudcore.wait_for("issued a certificate for node edge-ws")

    edges = {
        node: Proc(
            tmp_path / ("%s.log" % node), "-v", "edgecore", "--config", str(edge_dirs[node] / "edgecore.yaml")
        )
        for node in nodes
    }
    procs.extend(edges.values())
    cloudcore.wait_for("node edge-ws connected (websocket, native lane, 127.0.0.1:")
    cloudcore.wait_for("node edge-quic connected (quic, native lane, 127.0.0.1:")
    for node, edge in edges.items():
        edge.wait_for("connected to the cloud as node %s (native)" % node)

    # cloudcore goes away and comes back on the same ports; the edges find it by themselves
    assert cloudcore.stop() == 0, cloudcore.text()[-4000:]
    assert not (cloud_dir / READY).exists()
    for edge in edges.values():
        edge.wait_for("cloud connection lost")
        assert edge.popen.poll() is None
    assert start_cloudcore(procs, config, cloud_dir, tmp_path / "cloudcore-2.log")["ports"] == ready["ports"]
    cloudcore = procs[-1]
    cloudcore.wait_for("node edge-ws connected (websocket, native lane, 127.0.0.1:", timeout=45)
    cloudcore.wait_for("node edge-quic connected (quic, native lane, 127.0.0.1:", timeout=45)
    for node, edge in edges.items():
        assert edge.text().count("connected to the cloud as node %s" % node) == 2

    for node, edge in edges.items():
        assert edge.stop() == 0, edge.text()[-4000:]
        cloudcore.wait_for("node %s disconnected: closed by peer" % node)
    assert cloudcore.stop() == 0, cloudcore.text()[-4000:]
    for p in procs:
        assert "Traceback" not in p.text(), p.text()[-4000:]

    for node in nodes:
        data = edge_dirs[node]
        assert (data / "edgecore.yaml").is_file() and (data / "edgecore.db").is_file()
        reset = kedge("reset", "--data-dir", str(data), "--force")
        assert reset.returncode == 0, reset.stderr
        assert sorted(p.name for p in data.rglob("*")) == [], reset.stdout
