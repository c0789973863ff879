"""The containerd that Edged's tests run on (ci/containerd.sh): it starts from a private config, serves
its socket, has the offline-built test images, and runs a container with runc on this VM."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.system


def _ctr(sock: str, *args: str) -> str:
    out = subprocess.run(
        ["ctr", "--address", sock, "--timeout", "20s", "-n", "k8s.io", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_test_images_are_imported(containerd: str) -> None:
    names = _ctr(containerd, "images", "ls", "-q").split()
    assert "localhost/busybox:1" in names and "localhost/pause:1" in names


def test_a_busybox_container_runs_with_runc(containerd: str) -> None:
    out = _ctr(
        containerd, "run", "--rm", "localhost/busybox:1", "kedge-smoke", "/bin/sh", "-c", "echo hi $((6*7))"
    )
    assert out.strip() == "hi 42"
