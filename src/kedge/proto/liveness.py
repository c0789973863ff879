"""Keepalive deadlines for many sessions at O(1) per heartbeat and O(expired) per sweep.

Sessions are kept in last-heard order (an OrderedDict moved to the end on every heartbeat), so the
sweep pops silent sessions from the front and stops at the first live one: 10,000 sessions cost one
dict move per heartbeat and nothing per idle second.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")


class Liveness(Generic[K]):
    __slots__ = ("_heard", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._heard: OrderedDict[K, float] = OrderedDict()

    def touch(self, key: K, now: float) -> None:
        heard = self._heard
        heard[key] = now
        heard.move_to_end(key)

    def remove(self, key: K) -> None:
        self._heard.pop(key, None)

    def expired(self, now: float) -> list[K]:
        """Keys not heard from for more than `timeout`; they are removed."""
        out: list[K] = []
        heard = self._heard
        limit = now - self.timeout
        while heard:
            key, t = next(iter(heard.items()))
            if t >= limit:
                break
            heard.popitem(last=False)
            out.append(key)
        return out

    def __len__(self) -> int:
        return len(self._heard)
