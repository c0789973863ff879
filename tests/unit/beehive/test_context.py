"""beehive Context over both router twins. Time is virtual (looptime): timeouts cost no wall time."""

import asyncio

import pytest

from kedge._core.errors import DuplicateModule, UnknownDestination
from kedge.beehive.context import Context, QueueFull
from kedge.model import constants as c
from kedge.model.message import new_message, new_response


@pytest.fixture
def ctx(router_mod) -> Context:
    return Context(router_mod.Router())


def _msg(i: int = 0, **kw):
    kw.setdefault("source", "a")
    return new_message(group="g", operation=c.QUERY, resource="default/x/%d" % i, content=i, **kw)


async def test_send_and_receive_in_order(ctx: Context) -> None:
    ctx.add_module("a")
    ctx.add_module("b")
    for i in range(5):
        await ctx.send("b", _msg(i))
    assert [(await ctx.receive("b")).content for _ in range(5)] == [0, 1, 2, 3, 4]
    assert ctx.receive_nowait("b") is None


async def test_receiver_parked_before_send_is_woken(ctx: Context) -> None:
    ctx.add_module("b")
    task = asyncio.create_task(ctx.receive("b"))
    await asyncio.sleep(0)
    assert not task.done()
    ctx.send_nowait("b", _msg(7))
    assert (await asyncio.wait_for(task, 1)).content == 7


async def test_many_receivers_on_one_module_lose_no_wakeup(ctx: Context) -> None:
    ctx.add_module("b")
    got: list[int] = []

    async def worker() -> None:
        while True:
            got.append((await ctx.receive("b")).content)

    workers = [asyncio.create_task(worker()) for _ in range(3)]
    await asyncio.sleep(0)
    for i in range(50):
        ctx.send_nowait("b", _msg(i))
        if i % 7 == 0:
            await asyncio.sleep(0)
    for _ in range(10):
        await asyncio.sleep(0)
    for w in workers:
        w.cancel()
    assert sorted(got) == list(range(50))


async def test_receive_many_batches(ctx: Context) -> None:
    ctx.add_module("b")
    for i in range(10):
        ctx.send_nowait("b", _msg(i))
    assert [m.content for m in await ctx.receive_many("b", 4)] == [0, 1, 2, 3]
    assert len(await ctx.receive_many("b", 100)) == 6


async def test_unknown_destination_is_an_error_not_a_drop(ctx: Context) -> None:
    ctx.add_module("a")
    with pytest.raises(UnknownDestination, match="nowhere"):
        await ctx.send("nowhere", _msg())
    with pytest.raises(UnknownDestination):
        await ctx.send_to_group("no-such-group", _msg())
    with pytest.raises(DuplicateModule):
        ctx.add_module("a")


async def test_backpressure_send_waits_for_room(ctx: Context) -> None:
    ctx.add_module("b", capacity=2)
    ctx.send_nowait("b", _msg(0))
    ctx.send_nowait("b", _msg(1))
    with pytest.raises(QueueFull, match="inbox of module b is full"):
        ctx.send_nowait("b", _msg(2))
    sender = asyncio.create_task(ctx.send("b", _msg(2)))
    await asyncio.sleep(0)
    assert not sender.done()
    assert (await ctx.receive("b")).content == 0
    await asyncio.wait_for(sender, 1)
    assert [(await ctx.receive("b")).content for _ in range(2)] == [1, 2]


async def test_send_to_group_reaches_every_member_and_waits_for_full_ones(ctx: Context) -> None:
    ctx.add_module("m1", "grp", capacity=1)
    ctx.add_module("m2", "grp")
    ctx.add_module("other", "")
    ctx.send_nowait("m1", _msg(99))  # m1 is full
    sending = asyncio.create_task(ctx.send_to_group("grp", _msg(1)))
    await asyncio.sleep(0)
    assert not sending.done()
    assert ctx.receive_nowait("m2").content == 1
    assert (await ctx.receive("m1")).content == 99
    await asyncio.wait_for(sending, 1)
    assert ctx.receive_nowait("m1").content == 1
    assert ctx.receive_nowait("other") is None


async def test_send_sync_resolved_by_send_resp(ctx: Context) -> None:
    ctx.add_module("client")
    ctx.add_module("server")

    async def server() -> None:
        req = await ctx.receive("server")
        assert req.header.sync is True
        assert ctx.send_resp(new_response(req, "pong"))

    srv = asyncio.create_task(server())
    resp = await ctx.send_sync("server", _msg(1), timeout=5)
    assert resp.content == "pong"
    await srv
    assert ctx.router.waiter_count() == 0


async def test_send_resp_without_waiter_returns_false(ctx: Context) -> None:
    assert ctx.send_resp(new_response(_msg(1))) is False


@pytest.mark.looptime
async def test_send_sync_times_out_at_the_deadline(ctx: Context, looptime) -> None:
    ctx.add_module("server")
    with pytest.raises(TimeoutError, match="no response to message"):
        await ctx.send_sync("server", _msg(1), timeout=30)
    assert looptime == 30
    assert ctx.router.waiter_count() == 0


@pytest.mark.looptime
async def test_one_timer_serves_many_deadlines(ctx: Context, looptime) -> None:
    ctx.add_module("server")

    async def call(timeout: float) -> float:
        with pytest.raises(TimeoutError):
            await ctx.send_sync("server", _msg(), timeout=timeout)
        return asyncio.get_running_loop().time()

    ends = await asyncio.gather(call(5), call(1), call(3))
    assert ends == [5, 1, 3]


async def test_cancelled_send_sync_leaves_no_waiter(ctx: Context) -> None:
    ctx.add_module("server")
    task = asyncio.create_task(ctx.send_sync("server", _msg(1), timeout=60))
    await asyncio.sleep(0)
    assert ctx.router.waiter_count() == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ctx.router.waiter_count() == 0


async def test_send_sync_needs_a_message_id(ctx: Context) -> None:
    ctx.add_module("server")
    with pytest.raises(ValueError, match="msg_id"):
        await ctx.send_sync("server", _msg(msg_id=""), timeout=1)


async def test_remove_module_returns_leftovers_and_fails_parked_tasks(ctx: Context) -> None:
    ctx.add_module("b")
    ctx.add_module("c")
    ctx.send_nowait("b", _msg(1))
    parked = asyncio.create_task(ctx.receive("c"))
    await asyncio.sleep(0)
    assert [m.content for m in ctx.remove_module("b")] == [1]
    ctx.remove_module("c")
    with pytest.raises(LookupError, match="module c was removed"):
        await parked
