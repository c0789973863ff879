"""FakeRuntime: the lifecycle Edged drives, with the clock passed in (no sleeps)."""

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
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rt(clock: Clock) -> FakeRuntime:
    return FakeRuntime("n1", pod_delay=2.0, clock=clock, wall=lambda: 1000.0 + clock.t)


def sandbox_spec(uid: str = "u1") -> SandboxSpec:
    return SandboxSpec(uid=uid, namespace="default", name="p-" + uid, labels={"app": "x"})


async def test_container_runs_pod_delay_after_start(rt: FakeRuntime, clock: Clock) -> None:
    assert await rt.ensure_image("nginx:1", "Always") == "nginx:1"
    sb = await rt.run_sandbox(sandbox_spec())
    assert sb.ready and sb.ip and sb.labels[LABEL_NODE] == "n1"
    cid = await rt.create_container(sb, sandbox_spec(), ContainerSpec(name="c", image="nginx:1"))
    [info] = await rt.list_containers(sb.id)
    assert info.state == CREATED
    await rt.start_container(cid)
    clock.t += 1.9
    assert [c.state for c in await rt.list_containers()] == [CREATED]
    assert rt.running() == 0
    clock.t += 0.1
    [info] = await rt.list_containers(sb.id)
    assert info.state == RUNNING
    assert info.started_at == pytest.approx(1000.0 + 100.0 + 2.0)
    assert rt.running() == 1
    assert await rt.exec_sync(cid, ["true"], 1) == (0, b"", b"")


async def test_create_during_start_returns_the_starting_container(rt: FakeRuntime, clock: Clock) -> None:
    sb = await rt.run_sandbox(sandbox_spec())
    cid = await rt.create_container(sb, sandbox_spec(), ContainerSpec(name="c", image="i"))
    await rt.start_container(cid)
    again = await rt.create_container(sb, sandbox_spec(), ContainerSpec(name="c", image="i", attempt=1))
    assert again == cid
    await rt.start_container(again)
    assert len(await rt.list_containers()) == 1
    clock.t += 2.0
    other = await rt.create_container(sb, sandbox_spec(), ContainerSpec(name="c", image="i", attempt=1))
    assert other != cid  # running now: a create is a new attempt


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


async def test_sandbox_stop_and_remove(rt: FakeRuntime, clock: Clock) -> None:
    a = await rt.run_sandbox(sandbox_spec("a"))
    b = await rt.run_sandbox(sandbox_spec("b"))
    ca = await rt.create_container(a, sandbox_spec("a"), ContainerSpec(name="c", image="i"))
    cb = await rt.create_container(b, sandbox_spec("b"), ContainerSpec(name="c", image="i"))
    await rt.start_container(ca)
    await rt.start_container(cb)
    await rt.stop_sandbox(a.id)  # before its container ran: it never will
    clock.t += 3
    states = {c.id: c.state for c in await rt.list_containers()}
    assert states == {ca: EXITED, cb: RUNNING}
    assert [s.ready for s in await rt.list_sandboxes()] == [False, True]
    await rt.remove_sandbox(a.id)
    await rt.remove_sandbox(a.id)
    assert [s.id for s in await rt.list_sandboxes()] == [b.id]
    assert [c.id for c in await rt.list_containers()] == [cb]
    assert await rt.list_containers(a.id) == []


async def test_errors_and_zero_delay(clock: Clock) -> None:
    rt = FakeRuntime("n", pod_delay=0, clock=clock)
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
