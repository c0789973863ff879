"""Channel micro benchmarks: each round does 1,000 puts from a Python loop, as CloudHub calls them."""

import pytest

N = 1000
KEYS = 100


@pytest.mark.benchmark(group="channel put/get coalescing")
def test_put_get_coalescing(benchmark, twin) -> None:
    mod = twin("channel")
    ch = mod.Channel(N)
    lane = mod.LANE_ACK
    # object updates over 100 objects with increasing resourceVersions: 100 queued, 900 coalesced
    keys = ["default/pods/pod-%d" % (i % KEYS) for i in range(N)]
    items = [{"rv": i + 1} for i in range(N)]
    work = list(zip(keys, range(1, N + 1), items, strict=True))

    def round_() -> list:
        for key, rv, item in work:
            ch.put(lane, key, rv, item)
        return ch.get_many(lane, N)

    out = benchmark(round_)
    assert out == items[-KEYS:]
    assert len(ch) == 0


@pytest.mark.benchmark(group="channel put/get no-key")
def test_put_get_no_key(benchmark, twin) -> None:
    mod = twin("channel")
    ch = mod.Channel(N)
    lane = mod.LANE_NOACK
    items = [{"seq": i} for i in range(N)]

    def round_() -> None:
        for item in items:
            ch.put(lane, None, 0, item)
        for _ in items:
            ch.get(lane)

    benchmark(round_)
    assert len(ch) == 0
    assert ch.stats()["full"] == 0
