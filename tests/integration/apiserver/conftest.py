"""An in-process embedded API server on an ephemeral loopback port, one per test, and the real kubectl
against it."""

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from kedge.cloud.embedded import EmbeddedSettings, start_embedded
from tests.conftest import require_binary


class Embedded:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server = None
        self.kubeconfig: Path | None = None
        self.port = 0

    async def start(self) -> None:
        self.server, self.kubeconfig = await start_embedded(
            EmbeddedSettings(self.data_dir, "127.0.0.1", self.port)
        )
        self.port = self.server.port  # a restart reuses it, as a real restart would

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[Embedded]:
    e = Embedded(tmp_path / "data")
    await e.start()
    yield e
    await e.stop()


# -- the real kubectl against the embedded server (device and rule CRD tests) --------------------------


def _kubectl_binary() -> str:
    local = Path(sys.executable).parent / "kubectl"
    return str(local) if local.exists() else require_binary("kubectl")


class Kubectl:
    """The real kubectl, run without blocking the loop the in-process server serves on."""

    def __init__(self, kubeconfig: Path, cache: Path) -> None:
        self.base = [_kubectl_binary(), "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache)]

    async def __call__(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.base,
            *args,
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(input.encode() if input is not None else None), 60)
        code = proc.returncode
        assert code is not None
        if check and code != 0:
            raise AssertionError(
                "kubectl %s failed (%d):\n%s%s" % (" ".join(args), code, out.decode(), err.decode())
            )
        return code, out.decode(), err.decode()

    async def get(self, *args: str) -> dict:
        return yaml.safe_load((await self("get", *args, "-o", "yaml"))[1])

    async def refused(self, manifest: str) -> str:
        """kubectl apply of manifest, which must fail; its stderr."""
        code, _, err = await self("apply", "-f", "-", input=manifest, check=False)
        assert code != 0, "kubectl apply was expected to be refused"
        return err


@pytest.fixture
def kubectl(embedded, tmp_path: Path) -> Kubectl:
    return Kubectl(embedded.kubeconfig, tmp_path / "kube-cache")
