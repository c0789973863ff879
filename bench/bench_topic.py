"""TopicTrie micro benchmark: 10,000 EventBus-shaped filters, 1,000 single match() calls per round."""

import random

import pytest

N_FILTERS = 10_000
N_TOPICS = 1_000
N_NS = 25


def _filters() -> list[tuple[str, str]]:
    """(filter, subscriber) pairs shaped like KubeEdge's EventBus, mapper and edge-app subscriptions."""
    out: list[tuple[str, str]] = [
        ("$hw/events/device/+/+/twin/+", "devicetwin"),
        ("$hw/events/device/+/+/state/update", "devicetwin"),
        ("$hw/events/node/+/membership/get", "devicetwin"),
        ("$hw/events/upload/#", "eventbus"),
        ("SYS/dis/upload_records", "eventbus"),
        ("+/user/#", "servicebus"),
        ("$ke/events/+/data/#", "router"),
    ]
    for ns in range(N_NS):  # per-namespace delta watchers
        out.append(("$hw/events/device/ns%d/+/twin/update/delta" % ns, "watch-ns%d" % ns))
    suffixes = ("twin/update/delta", "twin/get/result", "twin/update/document", "state/update")
    d = 0
    while len(out) < N_FILTERS:
        ns, name = "ns%d" % (d % N_NS), "dev-%04d" % d
        for suffix in suffixes:  # a mapper's exact subscriptions for its device
            out.append(("$hw/events/device/%s/%s/%s" % (ns, name, suffix), "mapper-%d" % (d % 50)))
        if d % 10 == 0:  # a debugging tap on every tenth device
            out.append(("$hw/events/device/%s/%s/#" % (ns, name), "tap-%d" % d))
        out.append(("app%d/user/%s/+" % (d % 40, name), "app-%d" % (d % 40)))  # edge apps
        d += 1
    return out[:N_FILTERS]


def _topics(rnd: random.Random, n_devices: int) -> list[str]:
    topics = []
    suffixes = ("twin/update", "twin/update/delta", "twin/get/result", "state/update", "twin/other")
    for _ in range(N_TOPICS):
        r = rnd.random()
        d = rnd.randrange(n_devices + n_devices // 10)  # some devices nobody subscribed to
        ns, name = "ns%d" % (d % N_NS), "dev-%04d" % d
        if r < 0.7:
            topics.append("$hw/events/device/%s/%s/%s" % (ns, name, rnd.choice(suffixes)))
        elif r < 0.8:
            topics.append("$hw/events/upload/%s/%s" % (ns, name))
        elif r < 0.95:
            topics.append("app%d/user/%s/data" % (d % 40, name))
        else:
            topics.append("$ke/events/%s/data/%s" % (name, rnd.choice(("temp", "humidity"))))
    return topics


@pytest.mark.benchmark(group="topic match 10k filters")
def test_match(benchmark, twin) -> None:
    trie = twin("topic").TopicTrie()
    filters = _filters()
    for f, s in filters:
        trie.subscribe(f, s)
    assert len(trie) == N_FILTERS
    topics = _topics(random.Random(42), n_devices=N_FILTERS // 6)
    sizes = [len(trie.match(t)) for t in topics]
    assert sum(1 for n in sizes if n) > N_TOPICS * 3 // 4
    assert max(sizes) <= 5

    def round_() -> None:
        for t in topics:
            trie.match(t)

    benchmark(round_)
