"""ServiceBus's allow-list of cloud URLs edge apps may call (KubeEdge's table `target_urls`).

The cloud Router sends `start`/`stop` for a URL once, when a servicebus→rest Rule is created or deleted,
so the list lives in the edge database and survives restarts. Reads come from memory (every app request
checks it); each change is written through before it is applied.
"""

from __future__ import annotations

from pathlib import Path

from kedge.edge.sqlite import open_wal

_SCHEMA = "CREATE TABLE IF NOT EXISTS target_urls (url TEXT PRIMARY KEY)"


class AllowList:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._conn = open_wal(self.path, _SCHEMA)
        self._urls = {str(url) for (url,) in self._conn.execute("SELECT url FROM target_urls")}

    def __contains__(self, url: object) -> bool:
        return url in self._urls

    def __len__(self) -> int:
        return len(self._urls)

    def urls(self) -> list[str]:
        return sorted(self._urls)

    def add(self, url: str) -> bool:
        """Allow `url`; False if it already was."""
        if url in self._urls:
            return False
        self._conn.execute("INSERT OR IGNORE INTO target_urls (url) VALUES (?)", (url,))
        self._urls.add(url)
        return True

    def remove(self, url: str) -> bool:
        """Stop allowing `url`; False if it was not allowed."""
        if url not in self._urls:
            return False
        self._conn.execute("DELETE FROM target_urls WHERE url = ?", (url,))
        self._urls.discard(url)
        return True

    def close(self) -> None:
        self._conn.close()
