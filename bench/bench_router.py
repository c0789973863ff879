"""Router micro benchmarks: each round does 1,000 operations from a Python loop, as beehive calls them."""

import pytest

N = 1000


def _noop() -> None:
    pass


@pytest.mark.benchmark(group="router send+receive")
def test_send_receive(benchmark, twin) -> None:
    router = twin("router").Router()
    router.register("edged", "", 1024, _noop, _noop)
    msgs = [{"id": i} for i in range(N)]

    def round_() -> None:
        for msg in msgs:
            router.send("edged", msg)
        for _ in msgs:
            router.receive("edged")

    benchmark(round_)
    assert router.pending("edged") == 0
    assert router.stats()["full"] == 0


@pytest.mark.benchmark(group="router send_to_group")
def test_send_to_group(benchmark, twin) -> None:
    router = twin("router").Router()
    names = ["meta%d" % i for i in range(4)]
    for name in names:
        router.register(name, "meta", 1024, _noop, _noop)
    msgs = [{"id": i} for i in range(N)]

    def round_() -> None:
        for msg in msgs:
            router.send_to_group("meta", msg)
        for name in names:
            router.receive_many(name, N)

    benchmark(round_)
    assert all(router.pending(name) == 0 for name in names)
    assert router.stats()["full"] == 0


@pytest.mark.benchmark(group="router sync waiter")
def test_sync_waiter(benchmark, twin) -> None:
    router = twin("router").Router()
    ids = ["msg-%d" % i for i in range(N)]
    got: list[object] = []
    resolve = got.append
    resp = {"content": "ok"}

    def round_() -> None:
        # N requests in flight, answered in order: the heap holds N deadlines before lazy deletion
        for i, msg_id in enumerate(ids):
            router.add_waiter(msg_id, 100.0 + i, resolve)
        for msg_id in ids:
            router.resolve(msg_id, resp)
        got.clear()

    benchmark(round_)
    assert router.waiter_count() == 0
    assert router.next_deadline() is None
