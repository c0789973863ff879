"""Metric primitives cheap enough for hot paths: a fixed-bucket histogram (no lock, no labels, one bisect
and two additions per observation) and the bounded `type` label of a message. Components own these; the
Prometheus collectors read them at scrape time, so nothing here knows prometheus_client."""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Iterable
from typing import TYPE_CHECKING

from kedge.model import constants as c

if TYPE_CHECKING:
    from kedge.model.message import Message

#: Seconds, 0.5 ms to 10 s: from a local SQLite commit to an ack that waited out a resend.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class Histogram:
    """Observations counted into fixed buckets by upper bound (`le`, inclusive), plus their sum.

    Not thread-safe by design: each histogram has one writer (an event loop or one worker thread); a
    scrape reading it concurrently may see a count one observation ahead of the sum, which Prometheus
    tolerates.
    """

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Iterable[float] = LATENCY_BUCKETS) -> None:
        b = tuple(float(x) for x in bounds)
        if not b:
            raise ValueError("a histogram needs at least one bucket bound")
        if any(not math.isfinite(x) for x in b) or any(x >= y for x, y in itertools.pairwise(b)):
            raise ValueError("bucket bounds must be finite and strictly increasing, got %r" % (b,))
        self.bounds = b
        #: per bucket (not cumulative); the last slot holds observations above the last bound
        self.counts = [0] * (len(b) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def buckets(self) -> list[tuple[str, int]]:
        """Cumulative (le, count) pairs ending with ("+Inf", total): Prometheus' exposition form."""
        out: list[tuple[str, int]] = []
        total = 0
        counts = list(self.counts)  # one snapshot, so the buckets stay monotonic
        for bound, n in zip(self.bounds, counts, strict=False):
            total += n
            out.append((repr(bound), total))
        out.append(("+Inf", total + counts[-1]))
        return out

    def merge(self, other: Histogram) -> None:
        """Add `other`'s observations (same bounds) to this one."""
        if other.bounds != self.bounds:
            raise ValueError("cannot merge histograms with different bucket bounds")
        for i, n in enumerate(other.counts):
            self.counts[i] += n
        self.sum += other.sum


#: Resource types of KubeEdge messages (`<ns>/<type>/<name>`, or `<type>/...` for device and membership
#: messages): the `type` label. Anything else is labelled with its group, so the label stays bounded
#: whatever resources edges and rules make up.
MESSAGE_TYPES = frozenset(
    (
        c.POD,
        c.PODLIST,
        c.PODSTATUS,
        c.PODPATCH,
        c.CONFIGMAP,
        c.SECRET,
        c.SERVICE,
        c.ENDPOINTS,
        c.NODE,
        c.NODESTATUS,
        c.NODEPATCH,
        c.LEASE,
        c.EVENT,
        c.SERVICEACCOUNTTOKEN,
        c.RULE,
        c.RULEENDPOINT,
        c.RULESTATUS,
        c.DEVICE,
        c.DEVICEMODEL,
        c.MEMBERSHIP,
    )
)
_REPLIES = frozenset((c.RESPONSE, c.ERROR, c.KEEPALIVE))


def message_type(group: str, operation: str, resource: str) -> str:
    """The `type` label of a message: its resource type when it is a known one, `response`, `error` or
    `keepalive` for protocol replies, else its group."""
    if operation in _REPLIES:
        return operation
    i = resource.find("/")
    if i < 0:
        if resource in MESSAGE_TYPES:
            return resource
        return group or "unknown"
    j = resource.find("/", i + 1)
    t = resource[i + 1 : j] if j >= 0 else resource[i + 1 :]
    if t in MESSAGE_TYPES:
        return t
    t = resource[:i]
    if t in MESSAGE_TYPES:
        return t
    return group or "unknown"


#: resource → its `type` label, so the hot paths parse a resource string once, not per message. Bounded
#: (cleared when full): resources are per object and unbounded in number.
_TYPE_CACHE: dict[str, str] = {}
_TYPE_CACHE_SIZE = 1024


def count_types(counts: dict[str, int], messages: Iterable[Message]) -> None:
    """Add each message to `counts` under its `type` label (`message_type`, cached by resource)."""
    cache = _TYPE_CACHE
    replies = _REPLIES
    for m in messages:
        r = m.route
        op = r.operation
        if op in replies:
            t = op
        else:
            res = r.resource
            t = cache.get(res)
            if t is None:
                if len(cache) >= _TYPE_CACHE_SIZE:
                    cache.clear()
                t = cache[res] = message_type(r.group, op, res)
        counts[t] = counts.get(t, 0) + 1
