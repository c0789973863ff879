"""MetaIndex micro benchmarks: Python loops over single calls, as MetaManager calls them."""

import pytest

N = 1000


def _keys(n: int) -> list[str]:
    return ["ns%d/pod/pod-%05d" % (i % 20, i) for i in range(n)]


@pytest.mark.benchmark(group="store put+get")
def test_put_get(benchmark, twin) -> None:
    MetaIndex = twin("store").MetaIndex
    keys = _keys(N)
    value = b'{"kind":"Pod"}' * 20

    def round_() -> None:
        idx = MetaIndex()
        for rv, key in enumerate(keys, 1000):
            idx.put(key, "pod", value, rv)
        for key in keys:
            idx.get(key)

    benchmark(round_)


@pytest.mark.benchmark(group="store prefix query")
def test_prefix_query(benchmark, twin) -> None:
    idx = twin("store").MetaIndex()
    types = ("pod", "configmap", "secret", "service")
    for ns in range(50):
        for typ in types:
            for i in range(50):
                idx.load("ns%d/%s/obj-%d" % (ns, typ, i), typ, b"v%d" % i, i + 1)
    assert len(idx) == 10_000
    # A write between queries keeps the cached order honest: it invalidates one bucket per round.
    assert len(idx.query_prefix("ns7/configmap")) == 50

    def round_() -> None:
        for _ in range(100):
            idx.query_prefix("ns7/configmap")

    benchmark(round_)


@pytest.mark.benchmark(group="store drain")
def test_drain(benchmark, twin) -> None:
    MetaIndex = twin("store").MetaIndex
    keys = _keys(N)
    value = b"x" * 100

    def round_() -> None:
        idx = MetaIndex()
        for rv, key in enumerate(keys, 1):
            idx.put(key, "pod", value, rv)
        while idx.dirty_count():
            idx.drain(256)

    benchmark(round_)
