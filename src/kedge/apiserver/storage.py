"""The API server's object store: Kubernetes objects in one SQLite file, with etcd's revision model.

Every write gets the next revision of one store-wide counter and stores it as `metadata.resourceVersion`
inside the object's JSON, so reads hand out the stored bytes as they are. Tables:

- `events(rev, res, ns, name, type, prev_rev, ts, data)`: the log, one row per write, holding the
  object as written (a DELETED row holds the deleted object carrying the deletion revision). It is also
  where current objects' bytes live: an object's JSON is stored once, not once as state and once as history.
- `objects(res, ns, name, rev)`: the current state, the revision of each live object in key order, which
  is what gets, lists and counts walk; its bytes are `events[rev].data`.
- `meta(key, value)`: `schema_version` and `compacted`. The current revision is max(events.rev, compacted),
  which needs no counter row rewritten on every commit and can never disagree with the log.

`prev_rev` links each MODIFIED/DELETED row to the version it replaced. It gives watchers the previous
object, lets a paged list continue on the snapshot its first page saw (the state of a key at revision R
is the version its first write after R replaced), and makes compaction incremental: a row becomes
garbage when its successor is compacted, so compaction only walks the compacted window.

Each write is one `BEGIN IMMEDIATE` transaction on a WAL database with synchronous=NORMAL: a kill -9 at any
moment loses nothing committed, a power cut at most the last commits, and commits do not fsync (SQLite's
WAL checkpoints do, every 4 MiB of WAL). One process owns a database at a time (a lock file next to it),
which is what lets the revision counter live in memory. Not thread-safe: use a Storage from one thread
(the event loop).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import apsw
import msgspec

from kedge.apiserver.errors import ApiError
from kedge.model.metrics import Histogram

logger = logging.getLogger(__name__)

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"

SCHEMA_VERSION = 1

_CACHE_KIB = 65536  # SQLite page cache: the only per-object memory the store keeps
_BUSY_TIMEOUT_MS = 5000
_CHECKPOINT_PAGES = 1000  # SQLite's default: a checkpoint every 4 MiB of WAL
_JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024

_CONTINUE_VERSION = "meta.k8s.io/v1"
_LIST_EXPIRED = "The resourceVersion for the provided list is too old."
_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - "
    "objects that were created, modified, or deleted between the time the first chunk was returned and "
    "now may show up in the list."
)

_encode = msgspec.json.Encoder(order="sorted").encode  # canonical bytes: equal objects, equal data
_decode = msgspec.json.Decoder().decode

T = TypeVar("T")


class StorageError(Exception):
    """The database cannot be used: locked by another process, foreign, or from a newer kedge."""


class ContinueExpired(ApiError):
    """410 for a continue token whose snapshot was compacted; carries a token to go on inconsistently.

    kube-apiserver returns this Status with `metadata.continue` set, which `ApiError.status()` cannot
    express, hence the subclass.
    """

    def __init__(self, continue_token: str) -> None:
        super().__init__(410, "Expired", _CONTINUE_EXPIRED)
        self.continue_token = continue_token

    def status(self) -> dict[str, Any]:
        s = super().status()
        s["metadata"] = {"continue": self.continue_token}
        return s


class Stored:
    """An object as stored: its revision and JSON (resourceVersion included), decoded on first use."""

    __slots__ = ("_obj", "data", "rev")

    def __init__(self, rev: int, data: bytes) -> None:
        self.rev = rev
        self.data = data
        self._obj: dict[str, Any] | None = None

    @property
    def obj(self) -> dict[str, Any]:
        """The decoded object; decoded once and shared, so treat it as read-only (copy to modify)."""
        if self._obj is None:
            self._obj = _decode(self.data)
        return self._obj

    def __repr__(self) -> str:
        return "Stored(rev=%d, %d bytes)" % (self.rev, len(self.data))


class Event:
    """One committed write, as watchers see it. `prev` is the replaced version (None for ADDED)."""

    __slots__ = ("_obj", "data", "name", "ns", "prev", "res", "rev", "type")

    def __init__(
        self, type: str, res: str, ns: str, name: str, rev: int, data: bytes, prev: bytes | None
    ) -> None:
        self.type = type
        self.res = res
        self.ns = ns
        self.name = name
        self.rev = rev
        self.data = data
        self.prev = prev
        self._obj: dict[str, Any] | None = None

    @property
    def obj(self) -> dict[str, Any]:
        """The decoded object (read-only, shared between watchers)."""
        if self._obj is None:
            self._obj = _decode(self.data)
        return self._obj

    def __repr__(self) -> str:
        return "Event(%s %s %s/%s rev=%d)" % (self.type, self.res, self.ns, self.name, self.rev)


@dataclass(frozen=True, slots=True)
class ListResult(Generic[T]):
    """A list page: items in (namespace, name) order, the revision it shows, and how to go on."""

    items: list[T]
    revision: int
    #: Opaque token for the next page, None on the last one.
    continue_token: str | None
    #: Objects after this page (Kubernetes' remainingItemCount); None without a next page or with a predicate.
    remaining: int | None


def split_resource(res: str) -> tuple[str, str]:
    """`deployments.apps` -> (`deployments`, `apps`); `pods` -> (`pods`, ``)."""
    plural, _, group = res.partition(".")
    return plural, group


# -- schema --------------------------------------------------------------------------------------------

#: _MIGRATIONS[i] takes a database from schema version i to i + 1; version 0 is an empty file.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
        "CREATE TABLE objects("
        " res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, rev INTEGER NOT NULL,"
        " PRIMARY KEY (res, ns, name)) WITHOUT ROWID",
        "CREATE TABLE events("
        " rev INTEGER PRIMARY KEY,"
        " res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
        " type TEXT NOT NULL CHECK (type IN ('ADDED', 'MODIFIED', 'DELETED')),"
        " prev_rev INTEGER NOT NULL,"
        " ts REAL NOT NULL,"
        " data BLOB NOT NULL)",
        "INSERT INTO meta(key, value) VALUES ('compacted', 0)",
    ),
)
assert len(_MIGRATIONS) == SCHEMA_VERSION

# -- statements ----------------------------------------------------------------------------------------

_SQL_GET = (
    "SELECT o.rev, e.data FROM objects AS o CROSS JOIN events AS e ON e.rev = o.rev"
    " WHERE o.res = ? AND o.ns = ? AND o.name = ?"
)
_SQL_INSERT_OBJECT = "INSERT INTO objects(res, ns, name, rev) VALUES (?, ?, ?, ?)"
_SQL_UPDATE_OBJECT = "UPDATE objects SET rev = ? WHERE res = ? AND ns = ? AND name = ?"
_SQL_DELETE_OBJECT = "DELETE FROM objects WHERE res = ? AND ns = ? AND name = ?"
_SQL_INSERT_EVENT = (
    "INSERT INTO events(rev, res, ns, name, type, prev_rev, ts, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQL_EVENT_DATA = "SELECT data FROM events WHERE rev = ?"
_SQL_EVENTS_SINCE = (
    "SELECT e.type, e.res, e.ns, e.name, e.rev, e.data, p.data"
    " FROM events AS e LEFT JOIN events AS p ON p.rev = e.prev_rev WHERE e.rev > ?"
)
_SQL_CHANGES = "SELECT ns, name, type, prev_rev FROM events WHERE rev > ? AND res = ?"
# Garbage in the window (old, new]: versions whose successor falls in it, and the DELETED rows themselves.
_SQL_COMPACT = (
    "DELETE FROM events WHERE rev IN ("
    " SELECT prev_rev FROM events WHERE rev > ?1 AND rev <= ?2 AND prev_rev > 0"
    " UNION ALL SELECT rev FROM events WHERE rev > ?1 AND rev <= ?2 AND type = 'DELETED')"
)


def _scan_sql(namespaced: bool, start: str | None, count: bool = False) -> str:
    """Objects of one resource in key order; namespaced: within one namespace. start: '>', '>=' or None."""
    where = "o.res = ?"
    if namespaced:
        where += " AND o.ns = ?"
        if start:
            where += " AND o.name %s ?" % start
    elif start:
        where += " AND (o.ns, o.name) %s (?, ?)" % start
    if count:
        return "SELECT COUNT(*) FROM objects AS o WHERE " + where
    order = "o.name" if namespaced else "o.ns, o.name"
    return (
        "SELECT o.ns, o.name, o.rev, e.data FROM objects AS o CROSS JOIN events AS e ON e.rev = o.rev"
        " WHERE %s ORDER BY %s" % (where, order)
    )


_SCAN_SQL = {(n, s): _scan_sql(n, s) for n in (True, False) for s in (None, ">", ">=")}
_COUNT_SQL = {(n, s): _scan_sql(n, s, count=True) for n in (True, False) for s in (None, ">", ">=")}


# -- continue tokens (the shape of k8s.io/apiserver/pkg/storage/continue.go) -------------------------


class _ContinueToken(msgspec.Struct):
    v: str = ""
    rv: int = 0
    start: str = ""


_decode_token = msgspec.json.Decoder(_ContinueToken).decode
_NOT_BASE64URL = re.compile(r"[^A-Za-z0-9_-]")


def _encode_continue(rev: int, start: str) -> str:
    raw = msgspec.json.encode({"v": _CONTINUE_VERSION, "rv": rev, "start": start})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _invalid_continue(why: str) -> ApiError:
    return ApiError.bad_request("invalid continue token: continue key is not valid%s" % why)


def _decode_continue(token: str) -> tuple[int, str]:
    """(revision, start key) of a token; 400 BadRequest with kube-apiserver's wording if malformed."""
    bad = _NOT_BASE64URL.search(token)
    if bad is not None:  # unpadded base64url only, as Go's RawURLEncoding
        raise _invalid_continue(": illegal base64 data at input byte %d" % bad.start())
    try:
        decoded = _decode_token(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, msgspec.DecodeError) as exc:
        raise _invalid_continue(": %s" % exc) from None
    if decoded.v != _CONTINUE_VERSION:
        raise _invalid_continue(": server does not recognize this encoded version %s" % decoded.v)
    if decoded.rv == 0:
        raise _invalid_continue(": incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not decoded.start:
        raise _invalid_continue(": encoded start key empty (version meta.k8s.io/v1)")
    # Like kube-apiserver, accept only keys that path.Clean leaves alone: no '.', '..' or empty segments.
    key = decoded.start if decoded.start.startswith("/") else "/" + decoded.start
    if key != "/" and any(seg in ("", ".", "..") for seg in key[1:].split("/")):
        raise _invalid_continue(": %s" % decoded.start)
    return decoded.rv, key[1:]


def _key_string(ns: str, name: str, namespaced: bool) -> str:
    """A key relative to the listed prefix, as in etcd: `name` within a namespace, else `ns/name`."""
    return name if namespaced or not ns else "%s/%s" % (ns, name)


def _start_from_key(key: str, ns: str | None) -> tuple[tuple[str, str], str]:
    """(start key, '>' or '>=') for a token's key; keys we hand out end in NUL: 'strictly after'."""
    op = ">="
    if key.endswith("\x00"):
        key, op = key[:-1], ">"
    if ns is not None:
        return (ns, key), op
    kns, sep, name = key.partition("/")
    return ((kns, name) if sep else ("", key)), op


def _too_large(rev: int, current: int) -> ApiError:
    """kube-apiserver's answer for a revision the store has not reached (504, retryable)."""
    return ApiError(
        504,
        "Timeout",
        "Too large resource version: %d, current: %d" % (rev, current),
        details={"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]},
    )


def _with_resource_version(obj: dict[str, Any], rev: int) -> dict[str, Any]:
    """A shallow copy of obj whose metadata carries rev; the caller's dict is left alone."""
    out = dict(obj)
    meta = dict(obj.get("metadata") or ())
    meta["resourceVersion"] = str(rev)
    out["metadata"] = meta
    return out


class _Transaction:
    __slots__ = ("depth", "events", "failed", "start_rev")

    def __init__(self, start_rev: int) -> None:
        self.start_rev = start_rev
        self.events: list[Event] = []
        self.depth = 0
        #: A write failed inside SQLite (not an ApiError): the transaction can only roll back now.
        self.failed: BaseException | None = None


class _Changes:
    """What happened to a resource's keys after a revision: enough to rebuild the state at it."""

    __slots__ = ("first", "last_type")

    def __init__(self, rows: Iterable[tuple[str, str, str, int]]) -> None:
        #: key -> (type, prev_rev) of the key's first write after the revision
        self.first: dict[tuple[str, str], tuple[str, int]] = {}
        #: key -> type of its latest write
        self.last_type: dict[tuple[str, str], str] = {}
        for ns, name, type_, prev_rev in rows:
            key = (ns, name)
            if key not in self.first:
                self.first[key] = (type_, prev_rev)
            self.last_type[key] = type_

    def count_delta(self, after: tuple[str, str]) -> int:
        """Objects after `after` at the old revision minus those now: corrects a count of today's."""
        delta = 0
        for key, (type_, _) in self.first.items():
            if key > after:
                delta += (type_ != ADDED) - (self.last_type[key] != DELETED)
        return delta


class Storage:
    """Kubernetes objects keyed by (resource, namespace, name) with etcd-style revisions.

    `res` is the qualified resource (`pods`, `deployments.apps`, `devices.devices.kubeedge.io`) and `ns`
    is '' for cluster-scoped objects. Write methods take `now` (seconds since the epoch) for the event
    timestamp that compaction ages by; it defaults to time.time().
    """

    def __init__(self, path: str) -> None:
        self.path = path
        #: Called with each committed Event, in revision order, after its transaction committed.
        self.listener: Callable[[Event], None] | None = None
        #: Seconds each write transaction's COMMIT took.
        self.commit_latency = Histogram()
        self._tx: _Transaction | None = None
        self._lock_fd = _lock(path)
        conn: apsw.Connection | None = None
        try:
            self._conn = conn = apsw.Connection(path)
            conn.set_busy_timeout(_BUSY_TIMEOUT_MS)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchall()
            if mode != [("wal",)]:
                raise StorageError("%s: cannot switch the database to WAL mode (got %r)" % (path, mode))
            # One statement per execute: apsw runs the next statement of a script only once the previous
            # one's rows have been read.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-%d" % _CACHE_KIB)
            conn.execute("PRAGMA journal_size_limit=%d" % _JOURNAL_SIZE_LIMIT).fetchall()
            conn.wal_autocheckpoint(_CHECKPOINT_PAGES)
            self._migrate()
            ((max_rev,),) = conn.execute("SELECT MAX(rev) FROM events").fetchall()
            ((self._compacted,),) = conn.execute("SELECT value FROM meta WHERE key = 'compacted'").fetchall()
            self._rev: int = max(max_rev or 0, self._compacted)
            self._cur = conn.cursor()  # writes
            self._rcur = conn.cursor()  # point reads (lists use cursors of their own)
        except BaseException:
            if conn is not None:
                conn.close()
            os.close(self._lock_fd)
            raise

    # -- lifecycle -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Roll back an open transaction, checkpoint, and release the database."""
        if self._lock_fd < 0:
            return
        if self._conn.in_transaction:
            self._cur.execute("ROLLBACK")
        self._tx = None
        self._conn.close()  # the last connection checkpoints and removes the WAL
        os.close(self._lock_fd)
        self._lock_fd = -1

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def revision(self) -> int:
        """The revision of the latest committed write (0 for an empty store)."""
        return self._rev

    @property
    def compacted(self) -> int:
        """History at or before this revision is gone: older lists and watches answer 410."""
        return self._compacted

    # -- reads -----------------------------------------------------------------------------------------

    def get(self, res: str, ns: str, name: str) -> Stored | None:
        """The current object under that key, or None."""
        rows = self._rcur.execute(_SQL_GET, (res, ns, name)).fetchall()
        return Stored(rows[0][0], rows[0][1]) if rows else None

    def count(self, res: str, ns: str | None = None) -> int:
        """How many objects of `res` live in `ns` (in all namespaces when None)."""
        if ns is None:
            args: tuple[str, ...] = (res,)
        else:
            args = (res, ns)
        return self._rcur.execute(_COUNT_SQL[ns is not None, None], args).fetchall()[0][0]

    def list(
        self,
        res: str,
        ns: str | None = None,
        *,
        limit: int = 0,
        continue_token: str | None = None,
        revision: int | None = None,
        predicate: Callable[[Stored], bool] | None = None,
    ) -> ListResult[Stored]:
        """Objects of `res` (in `ns`, or in all namespaces when None) in (namespace, name) order.

        limit > 0 pages: the result carries a continue token while more objects follow, and the next
        pages show the same snapshot as the first one (the token's revision), like etcd-backed lists.
        revision lists the snapshot at that revision (resourceVersionMatch=Exact). predicate filters
        (label/field selectors): pages are filled with matching objects as kube-apiserver fills them.
        """
        return self._list(res, ns, limit, continue_token, revision, predicate, raw=False)

    def list_raw(
        self,
        res: str,
        ns: str | None = None,
        *,
        limit: int = 0,
        continue_token: str | None = None,
        revision: int | None = None,
        predicate: Callable[[Stored], bool] | None = None,
    ) -> ListResult[bytes]:
        """list() returning each item's stored JSON, ready to join into a List body without decoding."""
        return self._list(res, ns, limit, continue_token, revision, predicate, raw=True)

    def events_since(self, rev: int, res: str | None = None, ns: str | None = None) -> list[Event]:
        """Committed writes after `rev` in revision order, optionally of one resource / namespace, each
        with the version it replaced (`prev`), for watches that resume from a resourceVersion.

        410 Expired with the watch cache's message when the history after `rev` has been compacted.
        """
        if rev < self._compacted:
            raise ApiError.expired("too old resource version: %d (%d)" % (rev, self._compacted))
        sql = _SQL_EVENTS_SINCE
        args: list[Any] = [rev]
        if res is not None:
            sql += " AND e.res = ?"
            args.append(res)
        if ns is not None:
            sql += " AND e.ns = ?"
            args.append(ns)
        rows = self._conn.execute(sql + " ORDER BY e.rev", args)
        return [Event(*row) for row in rows]

    # -- writes ----------------------------------------------------------------------------------------

    def create(
        self, res: str, ns: str, name: str, obj: dict[str, Any], *, now: float | None = None
    ) -> Stored:
        """Store a new object; 409 AlreadyExists if one lives under that key."""
        rev = self._rev + 1
        data = _encode(_with_resource_version(obj, rev))
        tx = self._begin()
        try:
            try:
                self._cur.execute(_SQL_INSERT_OBJECT, (res, ns, name, rev))
            except apsw.ConstraintError as exc:
                if exc.extendedresult != apsw.SQLITE_CONSTRAINT_PRIMARYKEY:
                    raise
                plural, group = split_resource(res)
                raise ApiError.already_exists(plural, name, group) from None
            self._cur.execute(
                _SQL_INSERT_EVENT, (rev, res, ns, name, ADDED, 0, time.time() if now is None else now, data)
            )
        except BaseException as exc:
            self._abort(tx, exc)
            raise
        self._commit(tx, rev, Event(ADDED, res, ns, name, rev, data, None))
        return Stored(rev, data)

    def update(
        self,
        res: str,
        ns: str,
        name: str,
        obj: dict[str, Any],
        *,
        expect_rev: int | None = None,
        now: float | None = None,
    ) -> Stored:
        """Replace an object; 404 if absent, 409 Conflict if expect_rev is not its current revision.

        An update that changes nothing (same canonical JSON) writes nothing and returns the stored
        object unchanged, as etcd-backed kube-apiserver does: no new revision, no watch event.
        """
        tx = self._begin()  # read inside the write transaction: one snapshot instead of two
        try:
            old_rev, old_data = self._current(res, ns, name)
            if expect_rev is not None and expect_rev != old_rev:
                plural, group = split_resource(res)
                raise ApiError.stale(plural, name, group)
            rev = self._rev + 1
            data = _encode(_with_resource_version(obj, rev))
            # Same length once the revisions are discounted: worth checking whether anything changed.
            if len(data) - len(str(rev)) == len(old_data) - len(str(old_rev)) and (
                _encode(_with_resource_version(obj, old_rev)) == old_data
            ):
                if tx is None:
                    self._rollback()
                return Stored(old_rev, old_data)
            self._cur.execute(_SQL_UPDATE_OBJECT, (rev, res, ns, name))
            self._cur.execute(
                _SQL_INSERT_EVENT,
                (rev, res, ns, name, MODIFIED, old_rev, time.time() if now is None else now, data),
            )
        except BaseException as exc:
            self._abort(tx, exc)
            raise
        self._commit(tx, rev, Event(MODIFIED, res, ns, name, rev, data, old_data))
        return Stored(rev, data)

    def delete(
        self,
        res: str,
        ns: str,
        name: str,
        *,
        expect_rev: int | None = None,
        expect_uid: str | None = None,
        now: float | None = None,
    ) -> Stored:
        """Remove an object and return it carrying the deletion revision, as DELETED watch events do.

        404 if absent; 409 Conflict with kube-apiserver's precondition messages if expect_uid or
        expect_rev (DeleteOptions.preconditions) do not match the stored object.
        """
        tx = self._begin()
        try:
            old_rev, old_data = self._current(res, ns, name)
            obj = _decode(old_data)
            if expect_uid is not None or expect_rev is not None:
                _check_preconditions(res, name, obj, old_rev, expect_uid, expect_rev)
            rev = self._rev + 1
            data = _encode(_with_resource_version(obj, rev))
            self._cur.execute(_SQL_DELETE_OBJECT, (res, ns, name))
            self._cur.execute(
                _SQL_INSERT_EVENT,
                (rev, res, ns, name, DELETED, old_rev, time.time() if now is None else now, data),
            )
        except BaseException as exc:
            self._abort(tx, exc)
            raise
        self._commit(tx, rev, Event(DELETED, res, ns, name, rev, data, old_data))
        return Stored(rev, data)

    @contextmanager
    def transaction(self) -> Iterator[Storage]:
        """Group writes into one transaction: all commit or none do; events are delivered after commit.

        Nested blocks are savepoints: an exception leaving one undoes only its writes. ApiErrors raised
        by write methods leave the transaction intact (they are checked before anything is written).
        """
        tx = self._tx
        if tx is not None:
            yield from self._savepoint(tx)
            return
        self._cur.execute("BEGIN IMMEDIATE")
        tx = self._tx = _Transaction(self._rev)
        try:
            yield self
            if tx.failed is not None:
                raise StorageError("transaction rolled back: a write in it failed") from tx.failed
            t0 = time.perf_counter()
            self._cur.execute("COMMIT")
            self.commit_latency.observe(time.perf_counter() - t0)
        except BaseException:
            self._tx = None
            self._rev = tx.start_rev
            self._rollback()
            raise
        self._tx = None
        for event in tx.events:
            self._deliver(event)

    def compact(self, *, now: float, keep_revisions: int = 10000, min_age: float = 300.0) -> int:
        """Drop history older than both the last `keep_revisions` revisions and `min_age` seconds.

        Current objects are never dropped, only versions that were replaced or deleted. Advances
        `compacted`; lists and watches from before it then answer 410. Returns the rows removed.
        """
        if keep_revisions < 0 or min_age < 0:
            raise ValueError(
                "compact: keep_revisions (%d) and min_age (%r) must be >= 0" % (keep_revisions, min_age)
            )
        if self._tx is not None:
            raise StorageError("compact() cannot run inside transaction()")
        old = self._compacted
        bound = self._rev - keep_revisions
        if bound <= old:
            return 0
        # The window must be a prefix of history: stop before the first event younger than min_age.
        ((young,),) = self._rcur.execute(
            "SELECT MIN(rev) FROM events WHERE rev > ? AND rev <= ? AND ts > ?", (old, bound, now - min_age)
        ).fetchall()
        target = bound if young is None else young - 1
        if target <= old:
            return 0
        self._cur.execute("BEGIN IMMEDIATE")
        try:
            self._cur.execute(_SQL_COMPACT, (old, target))
            removed = self._conn.changes()
            self._cur.execute("UPDATE meta SET value = ? WHERE key = 'compacted'", (target,))
            self._cur.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self._compacted = target
        return removed

    # -- internals -------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        conn = self._conn
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        if "meta" in tables:
            (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()[0]
        elif tables:
            raise StorageError(
                "%s is not a kedge API server database (tables %s)" % (self.path, sorted(tables))
            )
        else:
            version = 0
        if version > SCHEMA_VERSION:
            raise StorageError(
                "%s has schema version %d, newer than this kedge supports (%d)"
                % (self.path, version, SCHEMA_VERSION)
            )
        if version == SCHEMA_VERSION:
            return
        with conn:  # all steps in one transaction: a crash mid-migration leaves the old schema
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    conn.execute(statement)
                logger.info("storage %s: schema migrated to version %d", self.path, step + 1)
            conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )

    def _current(self, res: str, ns: str, name: str) -> tuple[int, bytes]:
        rows = self._cur.execute(_SQL_GET, (res, ns, name)).fetchall()
        if not rows:
            plural, group = split_resource(res)
            raise ApiError.not_found(plural, name, group)
        return rows[0]

    def _begin(self) -> _Transaction | None:
        """The transaction() the write joins, or None after opening one of the write's own."""
        tx = self._tx
        if tx is None:
            self._cur.execute("BEGIN IMMEDIATE")
        elif tx.failed is not None:
            raise StorageError("transaction rolled back: a write in it failed") from tx.failed
        return tx

    def _abort(self, tx: _Transaction | None, exc: BaseException) -> None:
        if tx is None:
            self._rollback()
        elif not isinstance(exc, ApiError):
            tx.failed = exc

    def _commit(self, tx: _Transaction | None, rev: int, event: Event) -> None:
        if tx is not None:
            self._rev = rev
            tx.events.append(event)
            return
        try:
            t0 = time.perf_counter()
            self._cur.execute("COMMIT")
            self.commit_latency.observe(time.perf_counter() - t0)
        except BaseException:
            self._rollback()
            raise
        self._rev = rev
        self._deliver(event)

    def _rollback(self) -> None:
        # SQLite rolls back by itself on some errors (disk full, I/O), close() rolls back: nothing to undo.
        if self._lock_fd >= 0 and self._conn.in_transaction:
            self._cur.execute("ROLLBACK")

    def _savepoint(self, tx: _Transaction) -> Iterator[Storage]:
        tx.depth += 1
        name = "kedge_sp%d" % tx.depth
        marks = (len(tx.events), self._rev)
        self._cur.execute("SAVEPOINT " + name)
        try:
            yield self
        except BaseException:
            if tx.failed is None:
                self._cur.execute("ROLLBACK TO " + name)
                self._cur.execute("RELEASE " + name)
                del tx.events[marks[0] :]
                self._rev = marks[1]
            raise
        else:
            if tx.failed is None:
                self._cur.execute("RELEASE " + name)
        finally:
            tx.depth -= 1

    def _deliver(self, event: Event) -> None:
        listener = self.listener
        if listener is None:
            return
        try:
            listener(event)
        except Exception:
            logger.exception(
                "storage listener failed on %s %s %s/%s at revision %d",
                event.type,
                event.res,
                event.ns,
                event.name,
                event.rev,
            )

    def _list(
        self,
        res: str,
        ns: str | None,
        limit: int,
        continue_token: str | None,
        revision: int | None,
        predicate: Callable[[Stored], bool] | None,
        raw: bool,
    ) -> ListResult[Any]:
        current = self._rev
        start: tuple[str, str] | None = None
        op: str | None = None
        if continue_token:
            at, key = _decode_continue(continue_token)
            if revision is not None:
                raise ApiError.bad_request("specifying resource version is not allowed when using continue")
            if key:
                start, op = _start_from_key(key, ns)
            if at < 0:  # the token of an expired list: go on at the latest revision
                at = current
            elif at < self._compacted:
                raise ContinueExpired(_encode_continue(-1, key))
            elif at > current:
                raise _too_large(at, current)
        elif revision is not None:
            if revision < self._compacted:
                raise ApiError.expired(_LIST_EXPIRED)
            if revision > current:
                raise _too_large(revision, current)
            at = revision
        else:
            at = current
        namespaced = ns is not None
        changes = self._changes(at, res, ns) if at < current else None

        args: list[Any] = [res]
        if namespaced:
            args.append(ns)
        if start is not None:
            args.extend(start[1:] if namespaced else start)
        cursor = self._conn.cursor()
        try:
            rows: Iterator[tuple[str, str, int, bytes]] = cursor.execute(_SCAN_SQL[namespaced, op], args)
            if changes is not None and changes.first:
                rows = self._at_revision(rows, changes, start, op)
            if predicate is None and limit <= 0:  # the common full list: no per-item work
                items: list[Any] = [row[3] for row in rows] if raw else [Stored(r[2], r[3]) for r in rows]
                return ListResult(items, at, None, None)
            items = []
            last: tuple[str, str] | None = None
            more = False
            for kns, kname, rev, data in rows:
                if 0 < limit <= len(items):
                    more = True
                    break
                last = (kns, kname)
                if predicate is None:
                    items.append(data if raw else Stored(rev, data))
                else:
                    stored = Stored(rev, data)
                    if predicate(stored):
                        items.append(data if raw else stored)
        finally:
            cursor.close()
        if not more or last is None:
            return ListResult(items, at, None, None)
        token = _encode_continue(at, _key_string(last[0], last[1], namespaced) + "\x00")
        remaining = None
        if predicate is None:
            remaining = self._count_after(res, ns, last, changes)
        return ListResult(items, at, token, remaining)

    def _changes(self, at: int, res: str, ns: str | None) -> _Changes:
        sql, args = _SQL_CHANGES, [at, res]
        if ns is not None:
            sql += " AND ns = ?"
            args.append(ns)
        return _Changes(self._conn.execute(sql + " ORDER BY rev", args))

    def _at_revision(
        self,
        rows: Iterable[tuple[str, str, int, bytes]],
        changes: _Changes,
        start: tuple[str, str] | None,
        op: str | None,
    ) -> Iterator[tuple[str, str, int, bytes]]:
        """Today's rows turned into the snapshot at an older revision: keys written since then are
        dropped from today's rows, and those that existed then come back as the version they had."""
        first = changes.first
        back = sorted(
            (key, prev_rev)
            for key, (type_, prev_rev) in first.items()
            if type_ != ADDED and (start is None or key > start or (op == ">=" and key == start))
        )
        i = 0
        for row in rows:
            key = (row[0], row[1])
            if key in first:
                continue
            while i < len(back) and back[i][0] < key:
                yield self._version(back[i])
                i += 1
            yield row
        for entry in back[i:]:
            yield self._version(entry)

    def _version(self, entry: tuple[tuple[str, str], int]) -> tuple[str, str, int, bytes]:
        (ns, name), rev = entry
        ((data,),) = self._rcur.execute(_SQL_EVENT_DATA, (rev,)).fetchall()
        return ns, name, rev, data

    def _count_after(self, res: str, ns: str | None, last: tuple[str, str], changes: _Changes | None) -> int:
        namespaced = ns is not None
        args: list[Any] = [res, ns, last[1]] if namespaced else [res, last[0], last[1]]
        ((count,),) = self._rcur.execute(_COUNT_SQL[namespaced, ">"], args).fetchall()
        if changes is not None:
            count += changes.count_delta(last)
        return count


def _check_preconditions(
    res: str, name: str, obj: dict[str, Any], rev: int, expect_uid: str | None, expect_rev: int | None
) -> None:
    """kube-apiserver's DeleteOptions precondition check (rest.BeforeDelete), its wording and its naming
    of the object by kind: `Operation cannot be fulfilled on Pod "x": the UID in the precondition ...`."""
    meta = obj.get("metadata") or {}
    _, group = split_resource(res)
    kind = obj.get("kind") or split_resource(res)[0]
    uid = meta.get("uid", "")
    if expect_uid is not None and expect_uid != uid:
        raise ApiError.conflict(
            kind,
            name,
            "the UID in the precondition (%s) does not match the UID in record (%s). "
            "The object might have been deleted and then recreated" % (expect_uid, uid),
            group,
        )
    if expect_rev is not None and expect_rev != rev:
        raise ApiError.conflict(
            kind,
            name,
            "the ResourceVersion in the precondition (%d) does not match the ResourceVersion in record (%d). "
            "The object might have been modified" % (expect_rev, rev),
            group,
        )


def _lock(path: str) -> int:
    """Hold `<path>-lock` for the store's lifetime: one owner process keeps the revision counter."""
    fd = os.open(path + "-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StorageError("%s is in use by another kedge API server (lock %s-lock)" % (path, path)) from None
    return fd
