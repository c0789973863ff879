"""Per-node delivery cursors in SQLite: object key → last acknowledged resourceVersion and resource.

Why SQLite in the cloud data dir and not KubeEdge's `reliablesyncs` ObjectSync CRD: an ObjectSync is one
API object per (node, object), written on every ack — 100,000 pods mean 100,000 API writes to keep and
100,000 objects to list on a restart. Here acks are applied in batches, one transaction per flush
(`flush_interval`, or sooner when many are pending), and a node's cursor loads with one indexed query.
A crash loses at most the last unflushed batch, which only means those objects are sent once more (the
edge drops versions it already has). The cursor is local to this cloudcore; a node that moves to
another instance is resynced from scratch, which is correct, only slower.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import apsw

_BUSY_TIMEOUT_MS = 5000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (
    node TEXT NOT NULL,
    key TEXT NOT NULL,
    rv INTEGER NOT NULL,
    resource TEXT NOT NULL,
    PRIMARY KEY (node, key)
) WITHOUT ROWID
"""


class CursorStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        self._conn = apsw.Connection(self.path)
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
        rows = self._conn.execute("SELECT key, rv, resource FROM cursor WHERE node = ?", (node,))
        return {k: (rv, res) for k, rv, res in rows}

    def apply(self, changes: Iterable[tuple[str, str, int, str]]) -> int:
        """Write (node, key, rv, resource) rows in one immediate transaction; rv -1 deletes the row. Rows
        apply in order: the last row of a (node, key) wins."""
        last: dict[tuple[str, str], tuple[int, str]] = {}
        for node, key, rv, res in changes:
            last[(node, key)] = (rv, res)
        upserts: list[tuple[str, str, int, str]] = []
        deletes: list[tuple[str, str]] = []
        for (node, key), (rv, res) in last.items():
            if rv < 0:
                deletes.append((node, key))
            else:
                upserts.append((node, key, rv, res))
        if not upserts and not deletes:
            return 0
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            if upserts:
                cur.executemany(
                    "INSERT INTO cursor (node, key, rv, resource) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (node, key) DO UPDATE SET rv = excluded.rv, resource = excluded.resource",
                    upserts,
                )
            if deletes:
                cur.executemany("DELETE FROM cursor WHERE node = ? AND key = ?", deletes)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return len(upserts) + len(deletes)

    def forget_node(self, node: str) -> None:
        with self._conn:
            self._conn.execute("DELETE FROM cursor WHERE node = ?", (node,))

    def close(self) -> None:
        self._conn.close()
