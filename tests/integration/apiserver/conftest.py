"""An in-process embedded API server on an ephemeral loopback port, one per test."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kedge.cloud.embedded import EmbeddedSettings, start_embedded


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
