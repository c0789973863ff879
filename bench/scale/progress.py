"""Progress bars for long scale runs (nodes connected/Ready, pods created, pods Running).

A thin wrapper around tqdm on stderr, so stdout stays clean for JSON. Bars are drawn only on a terminal
(CI logs would fill with carriage returns) unless forced by ``force=True`` or ``KEDGE_PROGRESS=1``.
Elsewhere a plain line says how far it got every ``LINE_EVERY_S`` seconds, so a long run in a log is
not silent for twenty minutes; ``KEDGE_PROGRESS=0`` silences both. Without tqdm installed there are
lines instead of a bar.

    with Progress(1000, "nodes Ready") as bar:
        while ...:
            bar.update_to(ready_count)
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any


def enabled(stream: IO[str] | None = None, force: bool | None = None) -> bool:
    """Whether to draw: the force argument, else KEDGE_PROGRESS=0/1, else whether stream is a TTY."""
    if force is not None:
        return force
    env = os.environ.get("KEDGE_PROGRESS", "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    stream = stream if stream is not None else sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


#: seconds between two plain progress lines (when no bar is drawn)
LINE_EVERY_S = 30.0


def silenced() -> bool:
    return os.environ.get("KEDGE_PROGRESS", "").strip().lower() in ("0", "false", "no", "off")


class Progress:
    """Progress(total, desc) as a context manager; update_to(n) sets an absolute count (never backwards)."""

    def __init__(
        self,
        total: int | None,
        desc: str,
        *,
        unit: str = "",
        force: bool | None = None,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = LINE_EVERY_S,
    ) -> None:
        self.total = total
        self.desc = desc
        self.n = 0
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = enabled(self._stream, force)
        self._unit = unit or (desc.split()[0] if desc.strip() else "it")
        self._bar: Any = None
        self._lines = force is None and not self._enabled and not silenced()
        self._clock = clock
        self._every = every
        self._next_line = clock() + every
        self._printed = 0

    def __enter__(self) -> Progress:
        if self._enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # the bench extra is not installed: lines instead of a bar
                self._enabled = False
                self._lines = not silenced()
            else:
                self._bar = tqdm(
                    total=self.total,
                    desc=self.desc,
                    unit=self._unit,
                    file=self._stream,
                    dynamic_ncols=True,
                    mininterval=0.5,
                    leave=True,
                )
        return self

    def update_to(self, n: int) -> None:
        """Set the count to n (the current total of ready nodes, running pods, ...)."""
        if n <= self.n:
            return
        if self._bar is not None:
            self._bar.update(n - self.n)
        self.n = n
        if self._lines and self._clock() >= self._next_line:
            self._line()

    def _line(self) -> None:
        self._next_line = self._clock() + self._every
        self._printed = self.n
        total = "/%d" % self.total if self.total is not None else ""
        print("%s: %d%s" % (self.desc, self.n, total), file=self._stream, flush=True)

    def set_postfix(self, **fields: Any) -> None:
        """Extra figures after the bar, e.g. set_postfix(rss="512 MB")."""
        if self._bar is not None:
            self._bar.set_postfix(fields, refresh=False)

    def close(self) -> None:
        if self._lines and self.n != self._printed:
            self._line()
            self._lines = False
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
