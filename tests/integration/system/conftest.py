"""A private containerd for the system tests (ci/containerd.sh), shared by every module that needs one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory):
    """Socket path of a running containerd with localhost/busybox:1 and localhost/pause:1 imported."""
    for name in ("containerd", "ctr", "runc", "busybox"):
        require_binary(name)
    base = tmp_path_factory.mktemp("containerd")
    script = str(ROOT / "ci" / "containerd.sh")
    out = subprocess.run(["bash", script, "start", str(base)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    sock = out.stdout.strip().splitlines()[-1]
    try:
        yield sock
    finally:
        subprocess.run(["bash", script, "stop", str(base)], capture_output=True, timeout=60)
