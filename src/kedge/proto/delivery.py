"""Cloud→edge reliable delivery for one node, sans-IO: queue, in-flight window, acks, resends, cursor.

At-least-once and latest-wins per object (ARCHITECTURE.md §4):
- Messages wait in a `_core.channel.Channel`, keyed by object (uid): a newer resourceVersion replaces an
  unsent older one, a queued delete is never lost.
- At most `window` ack-required messages are in flight. An in-flight message is resent with the same
  msg_id (a late ack still matches) when its ack does not come within `ack_timeout`, then after twice
  that, and so on up to `max_backoff`. Sending a newer version of an object retires the in-flight older
  one: its ack no longer matters and it is never resent.
- An ack moves the node's cursor (object key → last acked resourceVersion and resource string); the
  cursor filters what is enqueued, so after a reconnect or a cloud restart only newer objects are sent.
- No-ack messages (responses, status, heartbeats) are sent once.

Time is an argument everywhere (`now`, seconds on any monotonic clock).
"""

from __future__ import annotations

from typing import Any

from kedge._core.channel import COALESCED, FULL, LANE_ACK, LANE_NOACK, QUEUED, STALE, Channel
from kedge.model.message import Message
from kedge.model.metrics import Histogram

__all__ = ["COALESCED", "FULL", "QUEUED", "STALE", "Cursor", "Outbound", "parse_rv"]


def parse_rv(text: str) -> int:
    """A Kubernetes resourceVersion as an int for ordering (0 when absent or not numeric)."""
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        return 0


class Cursor:
    """What a node has acknowledged: object key → (resourceVersion, resource string).

    `dirty` is set by every change and cleared by whoever persists the cursor (in batches).
    """

    __slots__ = ("dirty", "entries")

    def __init__(self, entries: dict[str, tuple[int, str]] | None = None) -> None:
        self.entries: dict[str, tuple[int, str]] = entries if entries is not None else {}
        self.dirty = False

    def acked_rv(self, key: str) -> int:
        e = self.entries.get(key)
        return -1 if e is None else e[0]

    def record(self, key: str, rv: int, resource: str, deleted: bool) -> None:
        entries = self.entries
        if deleted:
            if entries.pop(key, None) is not None:
                self.dirty = True
            return
        old = entries.get(key)
        if old is None or rv >= old[0]:
            entries[key] = (rv, resource)
            self.dirty = True

    def missing(self, present: set[str] | dict[str, Any]) -> list[tuple[str, str]]:
        """(key, resource) of acked objects that are no longer present: the edge must delete them."""
        return [(k, e[1]) for k, e in self.entries.items() if k not in present]


class _Flight:
    __slots__ = ("attempts", "deadline", "delete", "key", "msg", "rv", "sent")

    def __init__(self, key: str, rv: int, msg: Message, delete: bool, deadline: float, sent: float) -> None:
        self.key = key
        self.rv = rv
        self.msg = msg
        self.delete = delete
        self.deadline = deadline
        self.sent = sent  # when it was (last) written: the ack latency is measured from here
        self.attempts = 1


class Outbound:
    """Downstream state of one node. Not thread-safe; one event loop drives it."""

    __slots__ = (
        "_by_key",
        "_deleting",
        "_flight",
        "_next",
        "ack_latency",
        "ack_timeout",
        "channel",
        "cursor",
        "max_backoff",
        "resent",
        "window",
    )

    def __init__(
        self,
        *,
        capacity: int = 4096,
        window: int = 64,
        ack_timeout: float = 10.0,
        max_backoff: float = 60.0,
        cursor: Cursor | None = None,
    ) -> None:
        if window < 1:
            raise ValueError("window must be >= 1, got %r" % window)
        self.channel = Channel(capacity)
        self.window = window
        self.ack_timeout = ack_timeout
        self.max_backoff = max_backoff
        self.cursor = cursor if cursor is not None else Cursor()
        self._flight: dict[str, _Flight] = {}  # msg_id → in-flight entry, in send order
        self._by_key: dict[str, str] = {}  # object key → msg_id in flight
        # keys whose delete is queued or in flight: the cursor still holds their last acked version
        # until the delete is acked, and a re-created object at that version must not count as stale
        self._deleting: set[str] = set()
        self._next: float | None = None  # earliest resend deadline (lazily recomputed)
        self.resent = 0
        #: Observes send-to-ack seconds of acks given a `now` (the hub shares one across nodes).
        self.ack_latency: Histogram | None = None

    # -- producer side ---------------------------------------------------------------------------

    def enqueue(self, msg: Message, key: str | None, *, ack: bool = True, delete: bool = False) -> int:
        """Queue a message about object `key`; returns a channel result (QUEUED, COALESCED, STALE or FULL).
        Ack-required versions the node already acknowledged are STALE and dropped. A None key never
        coalesces (replies, events)."""
        rv = parse_rv(msg.header.resourceversion)
        if not ack:
            return self.channel.put(LANE_NOACK, key, rv, msg, delete)
        if key is None:
            raise ValueError("an ack-required message needs an object key")
        if delete:
            self._deleting.add(key)
        elif rv:
            e = self.cursor.entries.get(key)  # Cursor.acked_rv, inlined: once per message
            if e is not None and rv <= e[0] and key not in self._deleting:
                return STALE
            if self._deleting:
                self._deleting.discard(key)
        # The channel hands back items only; the item carries what the flight needs.
        return self.channel.put(LANE_ACK, key, rv, (key, rv, msg, delete), delete)

    # -- sender side -----------------------------------------------------------------------------

    def take(self, now: float, max_n: int = 256) -> list[Message]:
        """Messages to write now: due resends, then no-ack messages, then ack-required ones within the
        window. Ack-required ones are in flight from here on."""
        out: list[Message] = []
        if self._next is not None and now >= self._next:
            self._resend_due(now, out)
        if len(out) < max_n and self.channel.size(LANE_NOACK):
            out.extend(self.channel.get_many(LANE_NOACK, max_n - len(out)))
        room = min(self.window - len(self._flight), max_n - len(out))
        if room > 0 and self.channel.size(LANE_ACK):
            deadline = now + self.ack_timeout
            flight = self._flight
            by_key = self._by_key
            for key, rv, msg, delete in self.channel.get_many(LANE_ACK, room):
                old = by_key.get(key)
                if old is not None:  # a newer version supersedes the one in flight
                    del flight[old]
                mid = msg.header.msg_id
                flight[mid] = _Flight(key, rv, msg, delete, deadline, now)
                by_key[key] = mid
                out.append(msg)
            if self._next is None or deadline < self._next:
                self._next = deadline
        return out

    def _resend_due(self, now: float, out: list[Message]) -> None:
        nxt: float | None = None
        for f in self._flight.values():
            if f.deadline <= now:
                f.attempts += 1
                f.sent = now
                f.deadline = now + min(self.max_backoff, self.ack_timeout * (1 << min(f.attempts - 1, 16)))
                out.append(f.msg)
                self.resent += 1
            if nxt is None or f.deadline < nxt:
                nxt = f.deadline
        self._next = nxt

    def ack(self, msg_id: str, now: float | None = None) -> Message | None:
        """The node persisted `msg_id`: retire it and move the cursor; returns the acked message. None
        for unknown ids (late duplicates, superseded versions). With `now`, `ack_latency` observes the
        time since its last send."""
        f = self._flight.pop(msg_id, None)
        if f is None:
            return None
        if now is not None and self.ack_latency is not None:
            self.ack_latency.observe(now - f.sent)
        if self._by_key.get(f.key) == msg_id:
            del self._by_key[f.key]
            if f.delete:
                self._deleting.discard(f.key)
        self.cursor.record(f.key, f.rv, f.msg.route.resource, f.delete)
        if not self._flight:
            self._next = None
        return f.msg

    def nack(self, msg_id: str, now: float) -> bool:
        """The node failed to apply `msg_id` (an `error` reply): retry it after the backoff, not at once,
        so a persistent failure costs one message per backoff period."""
        f = self._flight.get(msg_id)
        if f is None:
            return False
        f.deadline = now + min(self.max_backoff, self.ack_timeout * (1 << min(f.attempts, 16)))
        if self._next is None or f.deadline < self._next:
            self._next = f.deadline
        return True

    def next_deadline(self) -> float | None:
        return self._next

    def disconnected(self) -> None:
        """The link is gone: in-flight messages go back to the front of the queue, to be sent first on
        the next connection (unless newer versions are queued meanwhile)."""
        flights = list(self._flight.values())
        self._flight.clear()
        self._by_key.clear()
        self._next = None
        for f in reversed(flights):
            self.channel.unget(LANE_ACK, f.key, f.rv, (f.key, f.rv, f.msg, f.delete), f.delete)

    @property
    def in_flight(self) -> int:
        return len(self._flight)

    def pending(self) -> int:
        """Messages queued, not yet sent."""
        return len(self.channel)
