"""FakeRuntime: the lifecycle Edged drives, the pull time spent through a sleep passed in (no real sleeps)."""

from __future__ import annotations

import pytest
from bench.scale.fakeruntime import FakeRuntime

from kedge.edge.edged.runtime.base import (
    CREATED,
    EXITED,
    LABEL_NODE,
    RUNNING,
    ContainerSpec,
    RuntimeFailure,
    SandboxSpec,
)


class Clock:
    """Wall time that a fake sleep advances."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rt(clock: Clock) -> FakeRuntime:
    return FakeRuntime("n1", pod_delay=2.0, sleep=clock.sleep, wall=clock)


def sandbox_spec(uid: str = "u1") -> SandboxSpec:
    return SandboxSpec(uid=uid, namespace="default", name="p-" + uid, labels={"app": "x"})


async def test_the_pull_takes_pod_delay_then_the_container_runs_when_started(
    rt: FakeRuntime, clock: Clock
) -> None:
    assert await rt.ensure_image("nginx:1", "Always") == "nginx:1"
    assert clock.slept == [2.0] and clock.t == 1002.0
    sb = await rt.run_sandbox(sandbox_spec())
    assert sb.ready and sb.ip and sb.labels[LABEL_NODE] == "n1"
    cid = await rt.create_container(sb, sandbox_spec(), ContainerSpec(name="c", image="nginx:1"))
    [info] = await rt.list_containers(sb.id)
    assert info.state == CREATED and rt.running() == 0
    await rt.start_container(cid)
    [info] = await rt.list_containers(sb.id)
    assert (info.state, info.started_at) == (RUNNING, 1002.0)
    assert rt.running() == 1
    assert await rt.exec_sync(cid, ["true"], 1) == (0, b"", b"")
    await rt.start_container(cid)  # starting a running container changes nothing
    assert (await rt.list_containers())[0].started_at == 1002.0


async def test_stop_exits_zero_and_remove_forgets(rt: FakeRuntime, clock: Clock) -> None:
    sb = await rt.run_sandbox(sandbox_spec())
    cid = await rt.create_container(sb, sandbox_spec(), ContainerSpec(name="c", image="i"))
    await rt.start_container(cid)
    clock.t += 5
    await rt.stop_container(cid, 30)
    [info] = await rt.list_containers()
    assert (info.state, info.exit_code, info.reason) == (EXITED, 0, "Completed")
    assert info.finished_at >= info.started_at
    await rt.stop_container(cid, 30)  # idempotent
    await rt.remove_container(cid)
    await rt.remove_container(cid)
    assert await rt.list_containers() == []
    with pytest.raises(RuntimeFailure) as e:
        await rt.exec_sync(cid, ["true"], 1)
    assert e.value.reason == "ExecSyncError"


async def test_sandbox_stop_and_remove(rt: FakeRuntime) -> None:
    a = await rt.run_sandbox(sandbox_spec("a"))
    b = await rt.run_sandbox(sandbox_spec("b"))
    ca = await rt.create_container(a, sandbox_spec("a"), ContainerSpec(name="c", image="i"))
    cb = await rt.create_container(b, sandbox_spec("b"), ContainerSpec(name="c", image="i"))
    await rt.start_container(cb)
    await rt.stop_sandbox(a.id)  # before its container started: it exits without having run
    states = {c.id: c.state for c in await rt.list_containers()}
    assert states == {ca: EXITED, cb: RUNNING}
    assert [s.ready for s in await rt.list_sandboxes()] == [False, True]
    await rt.remove_sandbox(a.id)
    await rt.remove_sandbox(a.id)
    assert [s.id for s in await rt.list_sandboxes()] == [b.id]
    assert [c.id for c in await rt.list_containers()] == [cb]
    assert await rt.list_containers(a.id) == []


async def test_errors_and_zero_delay(clock: Clock) -> None:
    rt = FakeRuntime("n", pod_delay=0, sleep=clock.sleep, wall=clock)
    await rt.ensure_image("i", "IfNotPresent")
    assert clock.slept == []
    sb = await rt.run_sandbox(SandboxSpec(uid="u", namespace="d", name="p", host_network=True))
    assert sb.ip == ""
    cid = await rt.create_container(sb, sandbox_spec(), ContainerSpec(name="c", image="i"))
    await rt.start_container(cid)
    assert [c.state for c in await rt.list_containers()] == [RUNNING]
    with pytest.raises(RuntimeFailure) as e:
        await rt.start_container("nope")
    assert e.value.reason == "RunContainerError"
    await rt.remove_sandbox(sb.id)
    with pytest.raises(RuntimeFailure) as e:
        await rt.create_container(sb, sandbox_spec(), ContainerSpec(name="c", image="i"))
    assert e.value.reason == "CreateContainerError"
    with pytest.raises(ValueError):
        FakeRuntime("n", pod_delay=-1)
    assert (await rt.version()).startswith("fake://")
