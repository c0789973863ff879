"""Beehive routing tables, pure-Python twin of `_router_c` (same API, same behaviour).

A Router holds the bounded FIFO inbox of every module, the module groups, and the waiters of sync
requests keyed by message id. It never looks inside messages and never waits: the async layer passes
`on_ready`/`on_space` callbacks to be told about inbox transitions and passes time in as `now`.
"""

from __future__ import annotations

import heapq
import math
import operator
from collections import deque
from collections.abc import Callable
from typing import Any

from .errors import DuplicateModule, UnknownDestination

#: The heap of waiter deadlines is rebuilt when it holds more than this many dead entries
#: beyond twice the live ones (lazy deletion stays amortised O(1) and memory stays bounded).
HEAP_SLACK = 64


class _Inbox:
    """One module's queue and wake-up callbacks, resolved once at registration."""

    __slots__ = ("capacity", "group", "name", "on_ready", "on_space", "q")

    def __init__(
        self,
        name: str,
        group: str,
        capacity: int,
        on_ready: Callable[[], Any] | None,
        on_space: Callable[[], Any] | None,
    ) -> None:
        self.name = name
        self.group = group
        self.capacity = capacity
        self.on_ready = on_ready
        self.on_space = on_space
        self.q: deque[Any] = deque()


class Router:
    """Module inboxes, groups and sync waiters (see the module docstring).

    Callbacks run synchronously after the router's state is updated, so they may call back into the
    router; an exception from a callback propagates to the caller (the message stays queued).
    """

    __slots__ = (
        "_expired",
        "_full",
        "_groups",
        "_heap",
        "_modules",
        "_resolved",
        "_sent",
        "_seq",
        "_unknown",
        "_waiters",
    )

    def __init__(self) -> None:
        self._modules: dict[str, _Inbox] = {}
        # group -> members in registration order; replaced, never mutated, so a fan-out in progress
        # iterates a stable snapshot even if a callback registers or unregisters modules.
        self._groups: dict[str, list[_Inbox]] = {}
        # msg_id -> (deadline, seq, msg_id, resolve); the same tuple sits in the heap, so a heap entry
        # is live iff the dict still maps its id to that very tuple.
        self._waiters: dict[Any, tuple[float, int, Any, Callable[[Any], Any]]] = {}
        self._heap: list[tuple[float, int, Any, Callable[[Any], Any]]] = []
        self._seq = 0
        self._sent = 0
        self._full = 0
        self._unknown = 0
        self._resolved = 0
        self._expired = 0

    # -- modules ------------------------------------------------------------------------------

    def register(
        self,
        name: str,
        group: str,
        capacity: int = 1024,
        on_ready: Callable[[], Any] | None = None,
        on_space: Callable[[], Any] | None = None,
    ) -> None:
        """Add a module with a FIFO inbox of `capacity` messages; group "" means no group."""
        if type(name) is not str or type(group) is not str:
            raise TypeError("module name and group must be str")
        capacity = operator.index(capacity)
        if capacity < 1:
            raise ValueError("inbox capacity must be >= 1, got %d" % capacity)
        if name in self._modules:
            raise DuplicateModule("module %r is already registered" % name)
        inbox = _Inbox(name, group, capacity, on_ready, on_space)
        self._modules[name] = inbox
        if group:
            self._groups[group] = [*self._groups.get(group, ()), inbox]

    def unregister(self, name: str) -> list[Any]:
        """Remove a module; returns the messages left in its inbox, oldest first."""
        inbox = self._modules.pop(name, None)
        if inbox is None:
            raise self._unknown_module(name)
        group = inbox.group
        if group:
            rest = [m for m in self._groups[group] if m is not inbox]
            if rest:
                self._groups[group] = rest
            else:
                del self._groups[group]
        left = list(inbox.q)
        inbox.q.clear()
        return left

    def has_module(self, name: str) -> bool:
        return name in self._modules

    def modules(self) -> list[str]:
        return list(self._modules)

    def group_members(self, group: str) -> list[str]:
        return [m.name for m in self._groups.get(group, ())]

    # -- sending and receiving ----------------------------------------------------------------

    def send(self, dest: str, msg: Any) -> bool:
        """Queue `msg` for module `dest`; False (not queued) when its inbox is full."""
        inbox = self._modules.get(dest)
        if inbox is None:
            raise self._unknown_module(dest)
        q = inbox.q
        if len(q) >= inbox.capacity:
            self._full += 1
            return False
        q.append(msg)
        self._sent += 1
        if len(q) == 1 and inbox.on_ready is not None:
            inbox.on_ready()
        return True

    def send_to_group(self, group: str, msg: Any) -> list[str]:
        """Queue `msg` for every member with room; returns the members whose inbox was full."""
        members = self._groups.get(group)
        if members is None:
            self._unknown += 1
            raise UnknownDestination("no module in group %r" % (group,))
        refused: list[str] = []
        for inbox in members:
            q = inbox.q
            if len(q) >= inbox.capacity:
                self._full += 1
                refused.append(inbox.name)
                continue
            q.append(msg)
            self._sent += 1
            if len(q) == 1 and inbox.on_ready is not None:
                inbox.on_ready()
        return refused

    def receive(self, name: str) -> Any:
        """The oldest message of module `name`, or None when its inbox is empty."""
        inbox = self._modules.get(name)
        if inbox is None:
            raise self._unknown_module(name)
        q = inbox.q
        if not q:
            return None
        was_full = len(q) >= inbox.capacity
        msg = q.popleft()
        if was_full and inbox.on_space is not None:
            inbox.on_space()
        return msg

    def receive_many(self, name: str, max_n: int) -> list[Any]:
        """Up to `max_n` oldest messages of module `name` (an empty list when none)."""
        inbox = self._modules.get(name)
        if inbox is None:
            raise self._unknown_module(name)
        if max_n < 0:
            raise ValueError("max_n must be >= 0")
        q = inbox.q
        n = min(max_n, len(q))
        if n == 0:
            return []
        was_full = len(q) >= inbox.capacity
        popleft = q.popleft
        out = [popleft() for _ in range(n)]
        if was_full and inbox.on_space is not None:
            inbox.on_space()
        return out

    def pending(self, name: str) -> int:
        inbox = self._modules.get(name)
        if inbox is None:
            raise self._unknown_module(name)
        return len(inbox.q)

    def _unknown_module(self, name: Any) -> UnknownDestination:
        self._unknown += 1
        return UnknownDestination("no module %r" % (name,))

    # -- sync waiters -------------------------------------------------------------------------

    def add_waiter(self, msg_id: str, deadline: float, resolve: Callable[[Any], Any]) -> None:
        """Wait for the response to `msg_id` until `deadline` (same clock as `expire`'s `now`)."""
        deadline = float(deadline)
        if math.isnan(deadline):
            raise ValueError("deadline is NaN")
        entry = (deadline, self._seq + 1, msg_id, resolve)
        # one dict probe for both the duplicate check and the insert
        if self._waiters.setdefault(msg_id, entry) is not entry:
            raise ValueError("a waiter for message %r already exists" % (msg_id,))
        self._seq += 1
        heapq.heappush(self._heap, entry)

    def resolve(self, parent_msg_id: str, msg: Any) -> bool:
        """Hand `msg` to the waiter of `parent_msg_id` (removed first); False when none waits."""
        entry = self._waiters.pop(parent_msg_id, None)
        if entry is None:
            return False
        self._resolved += 1
        self._maybe_compact()
        entry[3](msg)
        return True

    def cancel_waiter(self, msg_id: str) -> bool:
        if self._waiters.pop(msg_id, None) is None:
            return False
        self._maybe_compact()
        return True

    def expire(self, now: float) -> list[tuple[str, Callable[[Any], Any]]]:
        """Remove and return (msg_id, resolve) of every waiter due at `now`, earliest deadline first."""
        heap = self._heap
        waiters = self._waiters
        out: list[tuple[str, Callable[[Any], Any]]] = []
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            msg_id = entry[2]
            if waiters.get(msg_id) is entry:
                del waiters[msg_id]
                out.append((msg_id, entry[3]))
        self._expired += len(out)
        return out

    def next_deadline(self) -> float | None:
        """The earliest deadline of a live waiter, or None."""
        heap = self._heap
        waiters = self._waiters
        while heap:
            entry = heap[0]
            if waiters.get(entry[2]) is entry:
                return entry[0]
            heapq.heappop(heap)
        return None

    def waiter_count(self) -> int:
        return len(self._waiters)

    def _maybe_compact(self) -> None:
        heap = self._heap
        if len(heap) > 2 * len(self._waiters) + HEAP_SLACK:
            waiters = self._waiters
            heap[:] = [e for e in heap if waiters.get(e[2]) is e]
            heapq.heapify(heap)

    # -- counters -----------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """sent: messages queued (a group send counts once per member); full: refusals for lack of
        room; unknown: UnknownDestination raised; resolved / expired: waiters ended that way."""
        return {
            "sent": self._sent,
            "full": self._full,
            "unknown": self._unknown,
            "resolved": self._resolved,
            "expired": self._expired,
        }


__all__ = ["HEAP_SLACK", "Router"]
