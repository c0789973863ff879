"""A loop that acts when the earliest of a changing set of deadlines passes (a Coalescer's folded sends)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def run_at_deadlines(
    next_deadline: Callable[[], float | None],
    on_due: Callable[[float], None],
    wake: asyncio.Event,
    clock: Callable[[], float],
) -> None:
    """Until cancelled: sleep until `next_deadline()` (None: until `wake` is set), then `on_due(now)`.
    Set `wake` whenever a new, earlier deadline may exist."""
    while True:
        deadline = next_deadline()
        wake.clear()
        if deadline is None:
            await wake.wait()
            continue
        delay = deadline - clock()
        if delay > 0:
            try:
                await asyncio.wait_for(wake.wait(), delay)
                continue
            except TimeoutError:
                pass
        on_due(clock())
