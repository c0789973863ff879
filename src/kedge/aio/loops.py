"""Event-loop selection: uvloop when installed (and not disabled with KEDGE_NO_UVLOOP=1)."""

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's default loop."""
    if os.environ.get("KEDGE_NO_UVLOOP", "") not in ("", "0"):
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    return "uvloop" if loop_factory() is not None else "asyncio"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on the selected loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
