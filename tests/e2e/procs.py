"""Helpers for end-to-end tests that run real kedge processes: free ports, `kedge ...` commands, long-running
processes with their logs, and a cloudcore on free ports with its embedded API server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

READY = "cloudcore.ready.json"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(cond: Callable[[], Any], timeout: float = 60, what: str = "condition", every: float = 0.2) -> Any:
    """cond()'s first truthy value, polled every `every` s; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %g s waiting for %s" % (timeout, what))
        time.sleep(every)


def processes_naming(needle: str) -> list[str]:
    """Command lines of this machine's processes (this one excepted) that contain `needle`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            found.append("%s %s" % (proc.name, cmdline))
    return found


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


def cloudcore_config(path: Path, data_dir: Path) -> dict:
    out = kedge("cloudcore", "--defaultconfig")
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    cfg["dataDir"] = str(data_dir)
    cfg["embeddedAPIServer"]["port"] = free_port()
    cfg["commonConfig"]["monitorServer"]["bindAddress"] = "127.0.0.1:%d" % free_port()
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


def keep_edge_local(config: Path, base: Path, *, cri_socket: str = "") -> None:
    """Point a joined node's Edged at directories under `base` (and at `cri_socket`), so a test touches
    nothing of the host's /var/lib/kubelet or /var/log/pods."""
    cfg = yaml.safe_load(config.read_text())
    edged = cfg["modules"]["edged"]
    edged["rootDirectory"] = str(base / "kubelet")
    kubelet = edged["tailoredKubeletConfig"]
    kubelet["podLogsDir"] = str(base / "pod-logs")
    kubelet["staticPodPath"] = str(base / "manifests")
    if cri_socket:
        kubelet["containerRuntimeEndpoint"] = kubelet["imageServiceEndpoint"] = "unix://" + cri_socket
    cfg.setdefault("monitorServer", {})["bindAddress"] = "127.0.0.1:%d" % free_port()
    config.write_text(yaml.safe_dump(cfg))
