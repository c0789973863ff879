"""Runtime: supervision, restart policies with backoff (virtual time), graceful shutdown on signals."""

import asyncio
import os
import signal

import pytest

from kedge.beehive import Context, Module, RestartPolicy, RestartType, Runtime
from kedge.beehive.runtime import ModuleFailed
from kedge.model import constants as c
from kedge.model.message import new_message


class Flaky(Module):
    """Fails `failures` times, then waits for a message and stops the runtime."""

    name = "flaky"

    def __init__(self, failures: int, policy: RestartPolicy) -> None:
        self.failures = failures
        self.restart_policy = policy
        self.starts: list[float] = []

    async def start(self, ctx: Context) -> None:
        self.starts.append(asyncio.get_running_loop().time())
        if len(self.starts) <= self.failures:
            raise RuntimeError("boom %d" % len(self.starts))
        await asyncio.sleep(1)


def _policy(kind: RestartType, retries: int = 0) -> RestartPolicy:
    return RestartPolicy(type=kind, retries=retries, interval=1, growth=2, max_interval=30, jitter=0)


@pytest.mark.looptime
async def test_on_failure_restarts_with_growing_delay(looptime) -> None:
    rt = Runtime()
    m = Flaky(3, _policy(RestartType.ON_FAILURE))
    rt.register(m)
    run = asyncio.create_task(rt.run(handle_signals=False))
    await asyncio.sleep(20)
    rt.stop()
    await run
    assert m.starts == [0, 1, 3, 7]  # delays 1, 2, 4
    assert rt.restarts["flaky"] == 3


@pytest.mark.looptime
async def test_retries_exhausted_fails_the_runtime(looptime) -> None:
    rt = Runtime()
    rt.register(Flaky(10, _policy(RestartType.ON_FAILURE, retries=2)))
    with pytest.raises(
        ModuleFailed, match=r"module flaky failed \(restarts: 2, policy: on-failure\).*boom 3"
    ):
        await rt.run(handle_signals=False)


async def test_never_policy_failure_stops_everything() -> None:
    rt = Runtime()
    rt.register(Flaky(1, _policy(RestartType.NEVER)))
    with pytest.raises(ModuleFailed, match="boom 1"):
        await asyncio.wait_for(rt.run(handle_signals=False), 5)


@pytest.mark.looptime
async def test_always_restarts_a_module_that_returns(looptime) -> None:
    rt = Runtime()
    m = Flaky(0, _policy(RestartType.ALWAYS))
    rt.register(m)
    run = asyncio.create_task(rt.run(handle_signals=False))
    await asyncio.sleep(5.5)
    rt.stop()
    await run
    # runs 1 s, then waits 1, 2 s between runs: starts at 0, 2, 5
    assert m.starts == [0, 2, 5]


class Once(Module):
    name = "once"
    restart_policy = _policy(RestartType.ON_FAILURE)

    def __init__(self) -> None:
        self.runs = 0

    async def start(self, ctx: Context) -> None:
        self.runs += 1


@pytest.mark.looptime
async def test_module_that_returns_under_on_failure_is_not_restarted(looptime) -> None:
    rt = Runtime()
    m = Once()
    rt.register(m)
    run = asyncio.create_task(rt.run(handle_signals=False))
    await asyncio.sleep(60)
    rt.stop()
    await run
    assert m.runs == 1


class Echo(Module):
    name = "echo"
    group = "workers"

    def __init__(self) -> None:
        self.cleaned = False

    async def start(self, ctx: Context) -> None:
        try:
            while True:
                msg = await ctx.receive(self.name)
                await ctx.send(msg.route.source, msg)
        finally:
            self.cleaned = True


class Driver(Module):
    name = "driver"

    def __init__(self) -> None:
        self.echoed: list[int] = []

    async def start(self, ctx: Context) -> None:
        for i in range(3):
            await ctx.send_to_group(
                "workers",
                new_message(source=self.name, group="g", operation=c.QUERY, resource="r", content=i),
            )
        while len(self.echoed) < 3:
            self.echoed.append((await ctx.receive(self.name)).content)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.Event().wait()


async def test_modules_exchange_messages_and_sigterm_shuts_down_gracefully() -> None:
    rt = Runtime()
    echo, driver = Echo(), Driver()
    assert rt.register(echo) and rt.register(driver)
    await asyncio.wait_for(rt.run(), 10)
    assert driver.echoed == [0, 1, 2]
    assert echo.cleaned  # cancelled and ran its finally


async def test_disabled_module_is_not_registered() -> None:
    class Off(Module):
        name = "off"

        def enabled(self) -> bool:
            return False

    rt = Runtime()
    assert rt.register(Off()) is False
    assert rt.modules == []
    assert not rt.context.router.has_module("off")


def test_invalid_restart_policy() -> None:
    with pytest.raises(ValueError, match="invalid restart policy"):
        RestartPolicy(interval=10, max_interval=1)
