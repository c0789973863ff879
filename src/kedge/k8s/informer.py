"""A list-watch cache of one resource, like client-go's reflector + informer, for cloudcore's controllers.

`Informer.run()` lists (paged), replays the list against its cache, then watches from the list's
resourceVersion. A watch that ends is resumed from the last RV seen (events and bookmarks advance it);
410 Gone means that RV left the server's history, so it lists again; connection failures back off.
Objects stay plain dicts: typed models are slow to build and drop fields they do not know.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msgspec
from kubernetes_asyncio.client.exceptions import ApiException

from kedge.aio.backoff import Backoff

log = logging.getLogger(__name__)

ADDED, MODIFIED, DELETED, SYNCED = "ADDED", "MODIFIED", "DELETED", "SYNCED"

Handler = Callable[[str, dict[str, Any], int], None]
ListFunc = Callable[..., Awaitable[Any]]

#: Errors after which the server may come back or mend the data: retried with backoff, logged, never
#: ending run() (ValueError/KeyError/TypeError: a malformed body or object from the server).
_TRANSIENT = (aiohttp.ClientError, OSError, ApiException, ValueError, KeyError, TypeError)


class _Gone(Exception):
    """The watch RV is older than the server's history (410): only a relist can catch up."""


def _rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class Informer:
    """Keeps `cache` (uid -> object) in step with the server and reports each change to `on_event`.

    `list_func` is a kubernetes_asyncio list method (e.g. `CoreV1Api(api).list_namespaced_config_map`),
    `kwargs` its arguments (namespace, label_selector, field_selector). `on_event(kind, obj, rv)` gets
    ADDED / MODIFIED / DELETED, and SYNCED (with an empty dict and the list's RV) after each full list.
    """

    def __init__(
        self,
        list_func: ListFunc,
        on_event: Handler,
        *,
        kwargs: dict[str, Any] | None = None,
        page_size: int = 500,
        timeout_seconds: int = 300,
        backoff: Backoff | None = None,
    ) -> None:
        self.list_func = list_func
        self.on_event = on_event
        self.kwargs = dict(kwargs or {})
        self.page_size = page_size
        self.timeout_seconds = timeout_seconds
        self.backoff = backoff or Backoff(initial=0.5, cap=30.0, jitter=0.2)
        self.name = getattr(list_func, "__name__", "list")  # for logs
        self.synced = asyncio.Event()
        #: The last RV seen (list, event or bookmark); None until the first list.
        self.resource_version: int | None = None
        self._cache: dict[str, dict[str, Any]] = {}
        self._by_name: dict[tuple[str, str], str] = {}

    # -- cache ----------------------------------------------------------------------------------------

    def get(self, uid: str) -> dict[str, Any] | None:
        return self._cache.get(uid)

    def list(self) -> list[dict[str, Any]]:
        return list(self._cache.values())

    def by_name(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Namespace "" for cluster-scoped objects."""
        uid = self._by_name.get((namespace, name))
        return None if uid is None else self._cache.get(uid)

    def _store(self, uid: str, obj: dict[str, Any]) -> None:
        self._cache[uid] = obj
        self._by_name[_key(obj)] = uid

    def _forget(self, uid: str) -> dict[str, Any] | None:
        obj = self._cache.pop(uid, None)
        # A name re-created under a new uid may already point elsewhere: leave that mapping alone.
        if obj is not None and self._by_name.get(_key(obj)) == uid:
            del self._by_name[_key(obj)]
        return obj

    def _emit(self, kind: str, obj: dict[str, Any], rv: int) -> None:
        # One bad object or handler bug must not stop the cache for every other controller using it.
        try:
            self.on_event(kind, obj, rv)
        except Exception:
            log.exception("informer handler failed on %s %s", kind, obj.get("metadata", {}).get("name"))

    # -- loop -----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """List, watch and relist until cancelled."""
        must_list = True
        while True:
            try:
                if must_list:
                    await self._list_and_replay()
                    must_list = False
                loop = asyncio.get_running_loop()
                started = loop.time()
                if await self._watch() or loop.time() - started >= 1.0:
                    self.backoff.reset()  # a watch that ran its course is progress
                else:  # ended at once with nothing: a server closing watches must not make us spin
                    await asyncio.sleep(self.backoff.next_delay())
            except _Gone as e:
                log.info("informer %s: %s; relisting", self.name, e)
                must_list = True
                # The first 410 since progress relists at once; a fresh list's RV is current, so 410 again
                # before any event means the server is unwell: then back off. Only progress resets it.
                attempt = self.backoff.attempt
                delay = self.backoff.next_delay()
                if attempt:
                    await asyncio.sleep(delay)
            except _TRANSIENT as e:
                delay = self.backoff.next_delay()
                log.warning("informer %s: %s: %s; retrying in %.1fs", self.name, type(e).__name__, e, delay)
                # Without a list RV there is nothing to resume from; otherwise try to resume and let
                # a 410 decide whether a relist is needed.
                must_list = must_list or self.resource_version is None
                await asyncio.sleep(delay)

    async def _list_and_replay(self) -> None:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            body = await self._get(
                limit=self.page_size, _continue=token, _request_timeout=(10, 60), **self.kwargs
            )
            items += body.get("items") or []
            meta = body.get("metadata") or {}
            token = meta.get("continue") or None
            if token is None:
                break
        rv = int(meta["resourceVersion"])
        # Deletions first, so a name re-created under a new uid never maps to two live objects.
        listed = {obj["metadata"]["uid"]: obj for obj in items}
        for uid in [uid for uid in self._cache if uid not in listed]:
            gone = self._forget(uid)
            assert gone is not None
            self._emit(DELETED, gone, rv)
        for uid, obj in listed.items():
            old = self._cache.get(uid)
            # Any RV change counts, not only a higher one: after a restore from backup the server is right.
            if old is None or _rv(old) != _rv(obj):
                self._store(uid, obj)
                self._emit(ADDED if old is None else MODIFIED, obj, _rv(obj))
        self.resource_version = rv
        self.synced.set()
        self._emit(SYNCED, {}, rv)

    async def _get(self, **kwargs: Any) -> dict[str, Any]:
        resp = await self.list_func(_preload_content=False, **kwargs)
        try:
            body = await resp.read()
        finally:
            resp.release()
        if resp.status == 410:
            raise _Gone("list continue token expired")
        if not 200 <= resp.status <= 299:
            raise ApiException(status=resp.status, reason=body[:200].decode(errors="replace"))
        return msgspec.json.decode(body)

    async def _watch(self) -> bool:
        """One watch request, from `resource_version` until the server ends it; whether it had events."""
        resp = await self.list_func(
            watch=True,
            resource_version=str(self.resource_version),
            allow_watch_bookmarks=True,
            timeout_seconds=self.timeout_seconds,
            # The server ends the watch at timeout_seconds; silence well past that is a dead connection.
            _request_timeout=(10, self.timeout_seconds + 30),
            _preload_content=False,
            **self.kwargs,
        )
        try:
            if resp.status == 410:
                raise _Gone("watch from %s: HTTP 410" % self.resource_version)
            if not 200 <= resp.status <= 299:
                body = await resp.read()
                raise ApiException(status=resp.status, reason=body[:200].decode(errors="replace"))
            seen = False
            while line := await resp.content.readline():
                if line.strip():
                    self._on_watch_event(msgspec.json.decode(line))
                    seen = True
            return seen
        finally:
            resp.close()

    def _on_watch_event(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code")
            if code == 410:
                raise _Gone("watch from %s: %s" % (self.resource_version, obj.get("message")))
            raise ApiException(status=code or 0, reason="watch error: %s" % obj.get("message"))
        rv = _rv(obj)
        self.resource_version = rv
        self.backoff.reset()
        if kind == "BOOKMARK":
            return
        uid = obj["metadata"].get("uid")
        if not uid or kind not in (ADDED, MODIFIED, DELETED):
            log.warning("informer: ignoring watch event %r without a uid or of an unknown type", kind)
            return
        if kind == DELETED:
            self._forget(uid)
        else:
            self._store(uid, obj)
        self._emit(kind, obj, rv)
