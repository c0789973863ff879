"""Stopping groups of tasks without leaving strays."""

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task], *, timeout: float, title: str = "tasks") -> bool:
    """Cancel tasks and wait up to `timeout` s for them to finish. False if some did not stop in time."""
    pending = [t for t in tasks if not t.done()]
    for t in pending:
        t.cancel()
    if not pending:
        return True
    done, still = await asyncio.wait(pending, timeout=timeout)
    for t in done:
        if not t.cancelled() and t.exception() is not None:
            log.debug("%s: %s ended with %r while stopping", title, t.get_name(), t.exception())
    if still:
        log.warning(
            "%s: %d did not stop within %.1fs: %s", title, len(still), timeout, [t.get_name() for t in still]
        )
        return False
    return True
