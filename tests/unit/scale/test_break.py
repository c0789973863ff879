"""The density test's break rule: more than a fraction of the nodes NotReady stops the load."""

import argparse
import asyncio

import pytest
from bench.scale import density


@pytest.mark.parametrize(("nodes", "fraction", "limit"), [(100, 0.01, 1), (5000, 0.01, 50), (10, 0.0, 1)])
def test_the_limit_is_a_fraction_and_at_least_one(nodes: int, fraction: float, limit: int) -> None:
    assert density.not_ready_limit(nodes, fraction) == limit


def args(nodes: int) -> argparse.Namespace:
    return argparse.Namespace(nodes=nodes, break_not_ready=0.01, broke=None)


async def test_too_many_not_ready_nodes_halt_the_load_with_the_reason() -> None:
    a = args(1000)
    ready = {"n%d" % i for i in range(1000)}
    halt = asyncio.Event()
    guard = asyncio.ensure_future(density.watch_for_break(ready, a, "load", halt, every=0))
    for i in range(9):  # 9 of 1,000 down: still within 1%
        ready.discard("n%d" % i)
        await asyncio.sleep(0)
    assert not halt.is_set()
    ready.discard("n9")
    await asyncio.wait_for(guard, 5)
    assert halt.is_set() and a.broke.startswith("10 of 1000 nodes NotReady") and "into the load" in a.broke


async def test_a_halt_from_elsewhere_ends_the_watch_without_a_verdict() -> None:
    a = args(10)
    halt = asyncio.Event()
    ready = {"n%d" % i for i in range(10)}
    guard = asyncio.ensure_future(density.watch_for_break(ready, a, "idle", halt, every=0))
    await asyncio.sleep(0)
    halt.set()
    await asyncio.wait_for(guard, 5)
    assert a.broke is None
