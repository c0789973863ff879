"""Per-node delivery cursors in SQLite: object key → last acknowledged resourceVersion and resource.

Why SQLite in the cloud data dir and not KubeEdge's `reliablesyncs` ObjectSync CRD: an ObjectSync is one
API object per (node, object), written on every ack — 100,000 pods mean 100,000 API writes to keep and
100,000 objects to list on a restart. Here acks are applied in batches, one transaction per flush
(`flush_interval`), and a node's cursor loads with one primary-key read.

One row per node holding its whole cursor as MessagePack, not one row per object: under load every
acked object changes every second, and upserting 64,000 rows a second cost ~30 % of the hub's core
(measured with bench/hub); re-encoding a node's cursor is one C call and the write is one row.
A crash loses at most the last unflushed batch, which only means those objects are sent once more (the
edge drops versions it already has). The cursor is local to this cloudcore; a node that moves to
another instance is resynced from scratch, which is correct, only slower.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path

import apsw
import msgspec

log = logging.getLogger(__name__)

_BUSY_TIMEOUT_MS = 5000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    node TEXT PRIMARY KEY NOT NULL,
    data BLOB NOT NULL
) WITHOUT ROWID
"""

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(dict[str, tuple[int, str]])


def encode_cursor(entries: dict[str, tuple[int, str]]) -> bytes:
    return _encoder.encode(entries)


def decode_cursor(data: bytes) -> dict[str, tuple[int, str]]:
    return _decoder.decode(data)


class CursorStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        self._conn = apsw.Connection(self.path)
        # The hub writes from a worker thread (to_thread) and loads on the event loop; apsw refuses
        # concurrent use of one connection, so every use takes this lock (loads wait a few ms at most).
        self._lock = threading.Lock()
        try:
            self._conn.set_busy_timeout(_BUSY_TIMEOUT_MS)
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchall()
            if mode != [("wal",)]:
                raise RuntimeError("%s: cannot switch the database to WAL mode (got %r)" % (path, mode))
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
        except BaseException:
            self._conn.close()
            raise

    def load(self, node: str) -> dict[str, tuple[int, str]]:
        """The node's cursor; empty for an unknown node. A corrupt row is reported and dropped (the node
        is then resynced from scratch, which is safe)."""
        with self._lock:
            rows = self._conn.execute("SELECT data FROM cursors WHERE node = ?", (node,)).fetchall()
        if not rows:
            return {}
        try:
            return decode_cursor(rows[0][0])
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            log.warning(
                "delivery cursor of node %s in %s is unreadable (%s); resyncing it fully", node, self.path, e
            )
            return {}

    def nodes(self) -> list[str]:
        with self._lock:
            return [n for (n,) in self._conn.execute("SELECT node FROM cursors ORDER BY node")]

    def save(self, rows: Iterable[tuple[str, bytes | None]]) -> int:
        """Write (node, encoded cursor) rows in one immediate transaction; None removes the node's row.
        The last row of a node wins."""
        last: dict[str, bytes | None] = {}
        for node, data in rows:
            last[node] = data
        if not last:
            return 0
        with self._lock:
            return self._save(last)

    def _save(self, last: dict[str, bytes | None]) -> int:
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            ups = [(n, d) for n, d in last.items() if d is not None]
            dels = [(n,) for n, d in last.items() if d is None]
            if ups:
                cur.executemany(
                    "INSERT INTO cursors (node, data) VALUES (?, ?) "
                    "ON CONFLICT (node) DO UPDATE SET data = excluded.data",
                    ups,
                )
            if dels:
                cur.executemany("DELETE FROM cursors WHERE node = ?", dels)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return len(last)

    def forget_node(self, node: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM cursors WHERE node = ?", (node,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
