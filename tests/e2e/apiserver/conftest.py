"""A real `kedge apiserver` process per test session (and fresh ones for restart tests), and a kubectl
runner bound to its admin kubeconfig."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_binary

_URL = re.compile(r"kedge API server on (https://\S+); kubeconfig: (\S+)")


@dataclass
class Server:
    proc: subprocess.Popen
    data_dir: Path
    url: str
    kubeconfig: Path
    log: Path

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(5)
        return self.proc.returncode


def start_server(data_dir: Path, listen: str = "127.0.0.1:0") -> Server:
    log = data_dir.with_suffix(".log")
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "kedge", "apiserver", "--listen", listen, "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = _URL.search(log.read_text())
        if m:
            return Server(proc, data_dir, m.group(1), Path(m.group(2)), log)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("kedge apiserver did not start:\n" + log.read_text())


def kubectl_path() -> str:
    local = Path(sys.executable).parent / "kubectl"
    if local.exists():
        return str(local)
    return require_binary("kubectl")


class Kubectl:
    def __init__(self, server: Server, tmp: Path) -> None:
        self.binary = kubectl_path()
        self.server = server
        self.cache = tmp / "kube-cache"

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        cmd = [
            self.binary,
            "--kubeconfig",
            str(self.server.kubeconfig),
            "--cache-dir",
            str(self.cache),
            *args,
        ]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                "kubectl %s failed (%d):\n%s%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr)
            )
        return proc

    def popen(self, *args: str) -> subprocess.Popen:
        cmd = [
            self.binary,
            "--kubeconfig",
            str(self.server.kubeconfig),
            "--cache-dir",
            str(self.cache),
            *args,
        ]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("apiserver") / "data")
    yield server
    code = server.stop()
    assert code == 0, "kedge apiserver exited with %s:\n%s" % (code, server.log.read_text()[-3000:])
    shutil.rmtree(server.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def kubectl(apiserver: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(apiserver, tmp_path_factory.mktemp("kubectl"))
