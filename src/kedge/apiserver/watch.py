"""Watch fan-out: committed storage events go to every matching watcher, encoded once.

Storage calls `WatchHub.publish` synchronously after each commit, and publish writes each watcher's line
straight into its connection's transport as one HTTP chunk: no task switch and one write per watcher
per event, which is what keeps a change seen by a thousand watchers cheap. A watcher whose transport
has more than MAX_BUFFERED bytes unsent is too slow and is closed (as kube-apiserver's cacher closes
slow watchers); its client re-watches from its last resourceVersion.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from kedge.apiserver.storage import ADDED, DELETED, MODIFIED, Event

log = logging.getLogger(__name__)

#: Unsent bytes a watcher's connection may hold before the watcher counts as too slow and is closed.
MAX_BUFFERED = 4 * 1024 * 1024
_encode = msgspec.json.encode
_decode = msgspec.json.decode


def event_line(type_: str, data: bytes) -> bytes:
    """One watch event as the JSON line kube-apiserver streams."""
    return b'{"type":"' + type_.encode() + b'","object":' + data + b"}\n"


#: (object) -> bool: the watcher's label/field selector.
Matcher = Callable[[dict[str, Any]], bool]
#: (type, stored JSON bytes, decoded object or None) -> line; None means the raw object is streamed.
Encoder = Callable[[str, bytes, dict[str, Any] | None], bytes]


class ChunkSink:
    """Writes HTTP/1.1 chunks to an asyncio transport whose response headers were already sent."""

    __slots__ = ("transport",)

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def write(self, data: bytes) -> bool:
        t = self.transport
        if t.is_closing() or t.get_write_buffer_size() > MAX_BUFFERED:
            return False
        t.write(b"%x\r\n%s\r\n" % (len(data), data))
        return True


class Watcher:
    __slots__ = ("closed", "encoder", "floor", "matcher", "namespace", "res", "selector", "sink")

    def __init__(
        self,
        res: str,
        namespace: str,
        *,
        sink: ChunkSink,
        matcher: Matcher | None,
        encoder: Encoder | None,
        floor: int,
        selector: str = "",
    ) -> None:
        self.res = res
        self.namespace = namespace
        self.sink = sink
        self.matcher = matcher
        self.encoder = encoder
        self.floor = floor  # events at or below this revision were already sent (from history)
        # Watchers with the same selector text see the same transition: publish evaluates it once.
        self.selector = selector
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def push(self, data: bytes) -> None:
        if self.closed.done():
            return
        if not self.sink.write(data):
            log.info("closing a watch of %s: the client is gone or too far behind", self.res)
            self.close()

    def close(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def line_for(self, event: Event, cache: dict[str, bytes], seen: dict[str, str | None]) -> bytes | None:
        """The line this watcher gets for an event, or None (filtered out)."""
        type_: str | None = event.type
        if self.matcher is not None:
            key = self.selector
            if key and key in seen:
                type_ = seen[key]
            else:
                type_ = transition(event, self.matcher)
                if key:
                    seen[key] = type_
            if type_ is None:
                return None
        if self.encoder is not None:
            return self.encoder(type_, event.data, event.obj)
        line = cache.get(type_)
        if line is None:
            line = cache[type_] = event_line(type_, event.data)
        return line


def transition(event: Event, matches: Matcher) -> str | None:
    """The event type a selector-filtered watcher sees: an object that starts or stops matching is
    ADDED or DELETED for it, as kube-apiserver's cacher reports it."""
    now = matches(event.obj)
    if event.type == ADDED:
        return ADDED if now else None
    prev = event.prev
    was = matches(_decode(prev)) if prev is not None else now
    if event.type == DELETED:
        return DELETED if was else None
    if now and was:
        return MODIFIED
    if now:
        return ADDED
    if was:
        return DELETED
    return None


class WatchHub:
    """Routes events to watchers by resource; namespaces and selectors are checked per watcher."""

    def __init__(self) -> None:
        self._by_res: dict[str, set[Watcher]] = {}

    def add(self, watcher: Watcher) -> None:
        self._by_res.setdefault(watcher.res, set()).add(watcher)

    def remove(self, watcher: Watcher) -> None:
        watchers = self._by_res.get(watcher.res)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._by_res[watcher.res]

    def count(self, res: str | None = None) -> int:
        if res is not None:
            return len(self._by_res.get(res, ()))
        return sum(len(w) for w in self._by_res.values())

    def publish(self, event: Event) -> None:
        watchers = self._by_res.get(event.res)
        if not watchers:
            return
        cache: dict[str, bytes] = {}
        seen: dict[str, str | None] = {}
        for w in tuple(watchers):
            if event.rev <= w.floor or (w.namespace and w.namespace != event.ns):
                continue
            line = w.line_for(event, cache, seen)
            if line is not None:
                w.push(line)

    def close_all(self) -> None:
        for watchers in self._by_res.values():
            for w in watchers:
                w.close()
        self._by_res.clear()


def bookmark_line(api_version: str, kind: str, revision: int, *, initial_events_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if initial_events_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return event_line("BOOKMARK", _encode({"kind": kind, "apiVersion": api_version, "metadata": meta}))


def error_line(status: dict[str, Any]) -> bytes:
    return event_line("ERROR", _encode(status))
