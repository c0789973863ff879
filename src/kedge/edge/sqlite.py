"""The edge database's connections: one SQLite file (meta, outbox, device twins), each table owner with
its own connection, all in WAL mode with synchronous=NORMAL — a kill -9 never loses a committed
transaction nor leaves half of one; a power cut may lose the last few."""

from __future__ import annotations

import os
from pathlib import Path

import apsw

BUSY_TIMEOUT_MS = 5000


class DatabaseError(Exception):
    """The edge database cannot be used (not WAL-capable, malformed rows)."""


def open_wal(path: Path | str, schema: str = "", busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> apsw.Connection:
    """A connection in WAL mode with `schema` (statements separated by `;`) applied; `:memory:` skips WAL."""
    path = str(path)
    if path != ":memory:":
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    conn = apsw.Connection(path)
    try:
        conn.set_busy_timeout(busy_timeout_ms)
        if path != ":memory:":
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchall()
            if mode != [("wal",)]:
                raise DatabaseError("%s: cannot switch the database to WAL mode (got %r)" % (path, mode))
        conn.execute("PRAGMA synchronous=NORMAL")
        if schema:
            conn.execute(schema)
    except BaseException:
        conn.close()
        raise
    return conn
