"""CloudHub per-node queue, pure-Python twin of `_channel_c` (same API, same behaviour).

Two FIFO lanes (messages that need an ack, and fire-and-forget ones), each bounded, each coalescing
unsent messages per object key: the newest version of an object replaces a queued older one in place
(keeping its place in line), an older version is dropped, and a queued delete is never lost.
"""

from __future__ import annotations

import operator
from collections import deque
from typing import Any

LANE_ACK = 0
LANE_NOACK = 1

QUEUED = 0
COALESCED = 1
STALE = 2
FULL = 3

# An entry is a list [key, rv, item, is_delete], mutable so coalescing can rewrite it in place.
_KEY = 0
_RV = 1
_ITEM = 2
_DEL = 3


class _Lane:
    """One lane: the FIFO of entries and key -> the last queued entry for that key."""

    __slots__ = ("index", "q")

    def __init__(self) -> None:
        self.q: deque[list[Any]] = deque()
        self.index: dict[Any, list[Any]] = {}


class Channel:
    """Per-node queue with an ack lane and a no-ack lane, each holding up to `capacity` entries.

    Invariant: for every key queued in a lane, the lane's index points at the last entry with that
    key (a delete followed by an update keeps two entries; all the others coalesce into one).
    """

    __slots__ = ("_capacity", "_coalesced", "_full", "_lanes", "_queued", "_stale")

    def __init__(self, capacity: int) -> None:
        capacity = operator.index(capacity)
        if capacity < 1:
            raise ValueError("channel capacity must be >= 1, got %d" % capacity)
        self._capacity = capacity
        self._lanes = {LANE_ACK: _Lane(), LANE_NOACK: _Lane()}
        self._queued = 0
        self._coalesced = 0
        self._stale = 0
        self._full = 0

    def _lane(self, lane: int) -> _Lane:
        ln = self._lanes.get(lane)
        if ln is None:
            raise ValueError("no such lane: %r" % (lane,))
        return ln

    def put(self, lane: int, key: Any, rv: int, item: Any, is_delete: bool = False) -> int:
        """Queue `item` (version `rv`, 0 = unknown) for object `key` (None = never coalesce).

        Returns QUEUED (appended), COALESCED (replaced the queued entry of `key` in place), STALE
        (dropped: the queued entry has a newer rv) or FULL (dropped: no room; coalescing needs none).
        An update after a queued delete is appended after it, so the delete is still delivered.
        """
        ln = self._lanes.get(lane)
        if ln is None:
            raise ValueError("no such lane: %r" % (lane,))
        q = ln.q
        if key is not None:
            e = ln.index.get(key)
            if e is not None:
                erv = e[_RV]
                if rv and erv and rv < erv:
                    self._stale += 1
                    return STALE
                if not e[_DEL] or is_delete:
                    e[_RV] = rv
                    e[_ITEM] = item
                    e[_DEL] = is_delete
                    self._coalesced += 1
                    return COALESCED
            if len(q) >= self._capacity:
                self._full += 1
                return FULL
            e = [key, rv, item, is_delete]
            q.append(e)
            ln.index[key] = e
        else:
            if len(q) >= self._capacity:
                self._full += 1
                return FULL
            q.append([None, rv, item, is_delete])
        self._queued += 1
        return QUEUED

    def unget(self, lane: int, key: Any, rv: int, item: Any, is_delete: bool = False) -> int:
        """Put back at the head of `lane` a message taken but not acknowledged; ignores capacity.

        With no queued entry for `key` (or key None) the message goes to the head: QUEUED.
        Otherwise, with E the queued entry of `key` (queued later, so newer unless rv says otherwise:
        the message is newer only if both rv are known and rv > E.rv):
        - message newer, E a delete, message not a delete: the delete moves to the head and the
          message takes E's place (delete first, then the newer object): QUEUED;
        - message newer otherwise: it replaces E in place: COALESCED;
        - E newer (or same rv, or an rv unknown), message a delete, E not a delete: the delete goes
          to the head as its own entry, before E: QUEUED;
        - E newer otherwise: the message is dropped: STALE.
        So the newer version wins and a delete is never dropped for a non-delete.
        """
        ln = self._lane(lane)
        q = ln.q
        e = ln.index.get(key) if key is not None else None
        if e is None:
            e = [key, rv, item, is_delete]
            q.appendleft(e)
            if key is not None:
                ln.index[key] = e
            self._queued += 1
            return QUEUED
        erv = e[_RV]
        if rv and erv and rv > erv:
            if e[_DEL] and not is_delete:
                q.appendleft([key, erv, e[_ITEM], True])
                result = QUEUED
            else:
                result = COALESCED
            e[_RV] = rv
            e[_ITEM] = item
            e[_DEL] = is_delete
        elif is_delete and not e[_DEL]:
            q.appendleft([key, rv, item, True])
            result = QUEUED
        else:
            self._stale += 1
            return STALE
        if result == QUEUED:
            self._queued += 1
        else:
            self._coalesced += 1
        return result

    def get(self, lane: int) -> Any:
        """The oldest item of `lane`, or None when it is empty."""
        ln = self._lanes.get(lane)
        if ln is None:
            raise ValueError("no such lane: %r" % (lane,))
        q = ln.q
        if not q:
            return None
        e = q.popleft()
        key = e[_KEY]
        if key is not None and ln.index.get(key) is e:
            del ln.index[key]
        return e[_ITEM]

    def get_many(self, lane: int, max_n: int) -> list[Any]:
        """Up to `max_n` oldest items of `lane` (one frame carries many messages)."""
        ln = self._lane(lane)
        if max_n < 0:
            raise ValueError("max_n must be >= 0")
        q = ln.q
        index = ln.index
        popleft = q.popleft
        out = []
        for _ in range(min(max_n, len(q))):
            e = popleft()
            key = e[_KEY]
            if key is not None and index.get(key) is e:
                del index[key]
            out.append(e[_ITEM])
        return out

    def size(self, lane: int) -> int:
        return len(self._lane(lane).q)

    def __len__(self) -> int:
        lanes = self._lanes
        return len(lanes[LANE_ACK].q) + len(lanes[LANE_NOACK].q)

    def clear(self) -> list[Any]:
        """Remove everything; returns the items, ack lane first, each lane oldest first."""
        out = []
        for lane in (LANE_ACK, LANE_NOACK):
            ln = self._lanes[lane]
            out.extend(e[_ITEM] for e in ln.q)
            ln.q.clear()
            ln.index.clear()
        return out

    def stats(self) -> dict[str, int]:
        """Results of put and unget so far: queued, coalesced, stale, full."""
        return {
            "queued": self._queued,
            "coalesced": self._coalesced,
            "stale": self._stale,
            "full": self._full,
        }


__all__ = ["COALESCED", "FULL", "LANE_ACK", "LANE_NOACK", "QUEUED", "STALE", "Channel"]
