"""Edgemark's fake container runtime: Edged's whole pod lifecycle with no containers behind it.

Sandboxes and containers live in two dicts; there are no processes. A pod's start costs `pod_delay`
seconds, spent where a real node spends it: pulling the image (ensure_image waits on the loop's timer, as
a pull waits on the registry). Creating and starting a container are then immediate, and a started
container is running, as with containerd: Edged sees the states a real runtime reports, in the same
order, with the pod ContainerCreating meanwhile. Stopping exits a container with code 0.

The ContainerInfo/SandboxInfo objects handed out are the runtime's own (Edged only reads them): no copy
per PLEG relist, which runs once a second on every node.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable

from kedge.edge.edged.runtime.base import (
    CREATED,
    EXITED,
    LABEL_NODE,
    RUNNING,
    ContainerInfo,
    ContainerSpec,
    RuntimeFailure,
    SandboxInfo,
    SandboxSpec,
)

VERSION = "fake://0.1.0"
_ids = itertools.count(1)  # one sequence for the process: ids stay unique across hollow nodes


def _new_id(prefix: str) -> str:
    return "%s%012x" % (prefix, next(_ids))


class FakeRuntime:
    """A `PodRuntime` keeping everything in memory. `sleep` (default asyncio.sleep) spends the pull time;
    `wall` gives the epoch times reported in statuses."""

    kind = "fake"

    __slots__ = ("_containers", "_ip_seq", "_sandboxes", "node", "pod_delay", "sleep", "wall")

    def __init__(
        self,
        node: str,
        *,
        pod_delay: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if pod_delay < 0:
            raise ValueError("pod_delay must be >= 0, got %r" % (pod_delay,))
        self.node = node
        self.pod_delay = pod_delay
        self.sleep = sleep
        self.wall = wall
        self._sandboxes: dict[str, SandboxInfo] = {}
        self._containers: dict[str, ContainerInfo] = {}
        self._ip_seq = 0

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def version(self) -> str:
        return VERSION

    async def ensure_image(self, image: str, pull_policy: str) -> str:
        if self.pod_delay:
            await self.sleep(self.pod_delay)  # the pull: a timer, no task of our own
        return image

    # -- sandboxes -------------------------------------------------------------------------------------

    async def run_sandbox(self, spec: SandboxSpec) -> SandboxInfo:
        ip = ""
        if not spec.host_network:
            self._ip_seq += 1
            ip = "10.%d.%d.%d" % (
                244 + (self._ip_seq >> 16) % 12,
                (self._ip_seq >> 8) & 255,
                self._ip_seq & 255,
            )
        info = SandboxInfo(
            id=_new_id("sb"),
            uid=spec.uid,
            namespace=spec.namespace,
            name=spec.name,
            attempt=spec.attempt,
            ready=True,
            ip=ip,
            created_at=self.wall(),
            labels={**spec.labels, LABEL_NODE: self.node},
        )
        self._sandboxes[info.id] = info
        return info

    async def stop_sandbox(self, sandbox_id: str) -> None:
        sb = self._sandboxes.get(sandbox_id)
        if sb is None:
            return
        for c in list(self._containers.values()):
            if c.sandbox_id == sandbox_id:
                self._exit(c)
        sb.ready = False

    async def remove_sandbox(self, sandbox_id: str) -> None:
        if self._sandboxes.pop(sandbox_id, None) is None:
            return
        for cid in [c.id for c in self._containers.values() if c.sandbox_id == sandbox_id]:
            del self._containers[cid]

    async def list_sandboxes(self) -> list[SandboxInfo]:
        return list(self._sandboxes.values())

    # -- containers ------------------------------------------------------------------------------------

    async def create_container(
        self, sandbox: SandboxInfo, sandbox_spec: SandboxSpec, spec: ContainerSpec
    ) -> str:
        if sandbox.id not in self._sandboxes:
            raise RuntimeFailure(
                "CreateContainerError", "container %s: sandbox %s does not exist" % (spec.name, sandbox.id)
            )
        info = ContainerInfo(
            id=_new_id("c"),
            sandbox_id=sandbox.id,
            name=spec.name,
            attempt=spec.attempt,
            state=CREATED,
            image=spec.image,
            image_ref=spec.image,
            created_at=self.wall(),
            labels=spec.labels,
        )
        self._containers[info.id] = info
        return info.id

    async def start_container(self, container_id: str) -> None:
        c = self._containers.get(container_id)
        if c is None:
            raise RuntimeFailure("RunContainerError", "container %s does not exist" % container_id)
        if c.state == CREATED:
            c.state, c.started_at = RUNNING, self.wall()

    async def stop_container(self, container_id: str, grace_seconds: int) -> None:
        c = self._containers.get(container_id)
        if c is not None:
            self._exit(c)

    async def remove_container(self, container_id: str) -> None:
        self._containers.pop(container_id, None)

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerInfo]:
        if sandbox_id is None:
            return list(self._containers.values())
        return [c for c in self._containers.values() if c.sandbox_id == sandbox_id]

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: int) -> tuple[int, bytes, bytes]:
        c = self._containers.get(container_id)
        if c is None or c.state != RUNNING:
            raise RuntimeFailure("ExecSyncError", "exec in container %s: not running" % container_id)
        return 0, b"", b""

    # -- time ------------------------------------------------------------------------------------------

    def running(self) -> int:
        """Containers running now."""
        return sum(1 for c in self._containers.values() if c.state == RUNNING)

    def _exit(self, c: ContainerInfo) -> None:
        if c.state == EXITED:
            return
        c.state, c.exit_code, c.reason, c.finished_at = EXITED, 0, "Completed", self.wall()
        if not c.started_at:
            c.started_at = c.finished_at
