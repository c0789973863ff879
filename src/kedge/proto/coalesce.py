"""At most one send per key per interval, the latest state winning (sans-IO, time passed in).

Used where a chatty source must not become a chatty sink: a device reporting every 100 ms must not
become 10 messages (or API writes) per second. The first offer after a quiet period goes at once
(low latency at light load); offers within the interval are folded into one, due when it ends. The
caller keeps the latest state per key; this only decides *when*.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Coalescer(Generic[K]):
    def __init__(self, interval: float) -> None:
        if interval < 0:
            raise ValueError("coalescing interval must be >= 0, got %r" % (interval,))
        self.interval = interval
        self._sent: dict[K, float] = {}  # key → when it was last due
        self._pending: dict[K, float] = {}  # key → when its folded offers are due
        self._heap: list[tuple[float, int, K]] = []
        self._seq = 0

    def offer(self, key: K, now: float) -> bool:
        """True: send now. False: folded into a send that `due()` will return."""
        if key in self._pending:
            return False
        last = self._sent.get(key)
        if last is None or now - last >= self.interval:
            self._sent[key] = now
            return True
        at = last + self.interval
        self._pending[key] = at
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, key))
        return False

    def due(self, now: float) -> list[K]:
        """Keys whose folded offers are due now (each then starts a new interval)."""
        out: list[K] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _, key = heapq.heappop(heap)
            if self._pending.get(key) == at:
                del self._pending[key]
                self._sent[key] = now
                out.append(key)
        if len(self._sent) > 2 * len(self._pending) + 1024:
            self._expire(now)
        return out

    def next_deadline(self) -> float | None:
        """When `due()` has something next, or None."""
        heap = self._heap
        while heap and self._pending.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def forget(self, key: K) -> None:
        """Drop a key (its object is gone): a pending send is cancelled."""
        self._sent.pop(key, None)
        self._pending.pop(key, None)

    def pending(self) -> int:
        return len(self._pending)

    def _expire(self, now: float) -> None:
        # keys quiet for a whole interval would be sent at once anyway: their record is not needed
        horizon = now - self.interval
        self._sent = {k: t for k, t in self._sent.items() if t > horizon or k in self._pending}
