"""The edge's durable outbox: upstream messages that must survive a disconnect, a crash or a reboot.

Status updates, twin reports and bus uploads are written here before they are sent, in one SQLite
transaction per event-loop turn (group commit), and deleted when the cloud acknowledges them (native
lane) or once written to the socket (KubeEdge JSON lane, which has no upstream acks). Message ids let the
cloud drop a resend it already routed.
"""

from __future__ import annotations

import os
from pathlib import Path

import apsw

from kedge.model.frames import decode_frame, encode_frame
from kedge.model.message import Message

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    frame BLOB NOT NULL
)
"""


class Outbox:
    def __init__(self, path: Path | str, *, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("outbox capacity must be >= 1, got %r" % (capacity,))
        self.path = str(path)
        self.capacity = capacity
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        self._conn = apsw.Connection(self.path)
        try:
            self._conn.set_busy_timeout(5000)
            if self.path != ":memory:":
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchall()
                if mode != [("wal",)]:
                    raise RuntimeError("%s: cannot switch the database to WAL mode (got %r)" % (path, mode))
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
            ((n,),) = self._conn.execute("SELECT COUNT(*) FROM outbox").fetchall()
            self._count = n
        except BaseException:
            self._conn.close()
            raise

    def __len__(self) -> int:
        return self._count

    def add_many(self, messages: list[Message]) -> list[Message]:
        """Persist messages in one transaction; returns those stored (a full outbox drops the oldest
        ones first: the newest status is the one worth keeping)."""
        if not messages:
            return []
        conn = self._conn
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            before = conn.total_changes()
            cur.executemany(
                "INSERT OR IGNORE INTO outbox (msg_id, frame) VALUES (?, ?)",
                [(m.header.msg_id, encode_frame([m])) for m in messages],
            )
            n = self._count + conn.total_changes() - before
            if n > self.capacity:
                cur.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
                    (n - self.capacity,),
                )
                n = self.capacity
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._count = n
        return messages

    def pending(self, limit: int = 1000, after: int = 0) -> list[tuple[int, Message]]:
        """Stored messages in order, (seq, message), seq > after."""
        rows = self._conn.execute(
            "SELECT seq, frame FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()
        out = []
        for seq, frame in rows:
            msgs, _ = decode_frame(frame)
            out.append((seq, msgs[0]))
        return out

    def remove(self, msg_ids: list[str]) -> int:
        if not msg_ids:
            return 0
        conn = self._conn
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            before = conn.total_changes()
            cur.executemany("DELETE FROM outbox WHERE msg_id = ?", [(m,) for m in msg_ids])
            removed = conn.total_changes() - before
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._count -= removed
        return removed

    def close(self) -> None:
        self._conn.close()
