"""The edge's metadata store: KubeEdge's `meta` table in SQLite, served from an in-memory index.

Every row is held in a `kedge._core.store.MetaIndex`, loaded once at open, so reads (get, prefix and type
queries) never touch SQLite. Writes change the index and mark the key dirty; `commit()` writes all dirty
keys in one immediate transaction. MetaManager commits before it acks a batch to the cloud, so an acked
object is on disk, and a burst of updates costs one transaction instead of one per object.

Keys are KubeEdge's `<ns>/<type>/<name>`; `value` is the object's JSON bytes as received (KubeEdge keeps
a sorted re-encode as TEXT and has no RV column; kedge keeps the bytes and the resourceVersion so a
stale update can be refused without parsing JSON).

WAL with synchronous=NORMAL: a kill -9 never loses a committed transaction nor leaves half of one; a power
cut may lose the last few. The index is the truth between commits, so one process owns a database at a
time (a lock file next to it). Not thread-safe: use a MetaStore from one thread.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import apsw

from kedge._core import store as _core_store
from kedge.model.metrics import Histogram

__all__ = ["MEMORY", "MetaStore", "MetaStoreError"]

#: path of a private in-memory database (no file, no lock, no WAL): for tests and simulated nodes
MEMORY = ":memory:"

_BUSY_TIMEOUT_MS = 5000
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta ("
    " key TEXT PRIMARY KEY,"
    " type TEXT NOT NULL,"
    " value BLOB NOT NULL,"
    " resource_version INTEGER NOT NULL DEFAULT 0)"
)
_SQL_UPSERT = (
    "INSERT INTO meta (key, type, value, resource_version) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET"
    " type = excluded.type, value = excluded.value, resource_version = excluded.resource_version"
)
_SQL_DELETE = "DELETE FROM meta WHERE key = ?"

Row = tuple[str, str, bytes, int]  # (key, type, value, rv)


class MetaStoreError(Exception):
    """The database cannot be used: locked by another process, not WAL-capable, or holding a bad row."""


class MetaStore:
    """`<ns>/<type>/<name>` → (type, JSON bytes, resourceVersion), in memory, written to SQLite on commit().

    `index_factory` builds the in-memory index (a `MetaIndex` class); tests pass either _core twin.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        index_factory: Callable[[], Any] | None = None,
        busy_timeout_ms: int = _BUSY_TIMEOUT_MS,
    ) -> None:
        self.path = str(path)
        #: Seconds each commit's transaction took, BEGIN to COMMIT (one per MetaManager batch).
        self.commit_latency = Histogram()
        memory = self.path == MEMORY
        if not memory:
            os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        self._index = (index_factory or _core_store.MetaIndex)()
        # ":memory:" is private to this connection: no other writer to lock out, nothing to make durable
        self._lock_fd = -1 if memory else _lock(self.path)
        self._closed = False
        conn: apsw.Connection | None = None
        try:
            self._conn = conn = apsw.Connection(self.path)
            conn.set_busy_timeout(busy_timeout_ms)
            if not memory:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchall()
                if mode != [("wal",)]:
                    raise MetaStoreError(
                        "%s: cannot switch the database to WAL mode (got %r)" % (self.path, mode)
                    )
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            self._load()
        except BaseException:
            if conn is not None:
                conn.close()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
            self._lock_fd = -1
            self._closed = True
            raise

    def _load(self) -> None:
        load = self._index.load
        for key, type_, value, rv in self._conn.execute(
            "SELECT key, type, value, resource_version FROM meta"
        ):
            if not (
                isinstance(key, str)
                and isinstance(type_, str)
                and isinstance(value, bytes)
                and type(rv) is int
            ):
                raise MetaStoreError(
                    "%s: malformed meta row %r (want TEXT key and type, BLOB value, INTEGER resource_version)"
                    % (self.path, (key, type_, type(value).__name__, rv))
                )
            load(key, type_, value, rv)

    # -- writes (memory; durable after commit) ---------------------------------------------------------

    def put(self, key: str, type: str, value: bytes, rv: int = 0) -> bool:
        """Upsert an object; False (and nothing changes) when the stored rv is newer. rv 0 always wins."""
        if not isinstance(key, str) or not key:
            raise TypeError("meta key must be a non-empty str, got %r" % (key,))
        if not isinstance(type, str) or not type:
            raise TypeError("meta type of %s must be a non-empty str, got %r" % (key, type))
        if not isinstance(value, bytes):
            raise TypeError("meta value of %s must be bytes, got %s" % (key, value.__class__.__name__))
        if rv.__class__ is not int or rv < 0:
            raise ValueError("resourceVersion of %s must be an int >= 0, got %r" % (key, rv))
        return self._index.put(key, type, value, rv)

    def delete(self, key: str) -> bool:
        """Remove an object; False if it was not there."""
        return self._index.delete(key)

    # -- reads (memory) --------------------------------------------------------------------------------

    def get(self, key: str) -> tuple[str, bytes, int] | None:
        """(type, value, rv) or None."""
        return self._index.get(key)

    def query_prefix(self, prefix: str) -> list[Row]:
        """Rows under `<ns>/<type>` sorted by key (ValueError for any other shape)."""
        return self._index.query_prefix(prefix)

    def query_type(self, type: str) -> list[Row]:
        """Rows of one type sorted by key."""
        return self._index.query_type(type)

    def keys(self) -> list[str]:
        return self._index.keys()

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._index)

    def dirty_count(self) -> int:
        """Keys changed since the last successful commit."""
        return self._index.dirty_count()

    # -- durability ------------------------------------------------------------------------------------

    def commit(self) -> int:
        """Write every dirty key in one immediate transaction; the number of rows written.

        On failure the drained keys are journaled again (their state then is what a later commit writes)
        and the error propagates: nothing acked can be lost to a transient SQLite error.
        """
        if self._closed:
            raise MetaStoreError("%s: commit on a closed MetaStore" % self.path)
        index = self._index
        rows = index.drain(index.dirty_count())
        if not rows:
            return 0
        try:
            self._write(rows)
        except BaseException:
            index.mark_dirty([r[0] for r in rows])
            raise
        return len(rows)

    def _write(self, rows: list[tuple[str, str | None, bytes | None, int, bool]]) -> None:
        ups = [(k, t, v, rv) for k, t, v, rv, deleted in rows if not deleted]
        dels = [(k,) for k, _, _, _, deleted in rows if deleted]
        cur = self._conn.cursor()
        t0 = time.perf_counter()
        cur.execute("BEGIN IMMEDIATE")
        try:
            if ups:
                cur.executemany(_SQL_UPSERT, ups)
            if dels:
                cur.executemany(_SQL_DELETE, dels)
            cur.execute("COMMIT")
            self.commit_latency.observe(time.perf_counter() - t0)
        except BaseException:
            # SQLite may already have rolled back (a full disk, an I/O error); a second ROLLBACK would
            # replace the real error with "no transaction is active".
            if self._conn.in_transaction:
                cur.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Commit what is dirty, then release the database (also when the commit fails, which re-raises)."""
        if self._closed:
            return
        try:
            self.commit()
        finally:
            self._closed = True
            self._conn.close()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> MetaStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock(path: str) -> int:
    """Hold `<path>-lock` while open: a second writer would not see this one's uncommitted index."""
    fd = os.open(path + "-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise MetaStoreError("%s is in use by another edgecore (lock %s-lock)" % (path, path)) from None
    return fd
