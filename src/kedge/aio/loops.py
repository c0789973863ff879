"""Event-loop selection: uvloop when installed (and not disabled with KEDGE_NO_UVLOOP=1)."""

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory(*, prefer_uvloop: bool = True) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's default loop (KEDGE_NO_UVLOOP=1, or not preferred
    and not asked for with KEDGE_UVLOOP=1)."""
    if os.environ.get("KEDGE_NO_UVLOOP", "") not in ("", "0"):
        return None
    if not prefer_uvloop and os.environ.get("KEDGE_UVLOOP", "") in ("", "0"):
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    return "uvloop" if loop_factory() is not None else "asyncio"


def run(main: Coroutine[Any, Any, T], *, prefer_uvloop: bool = True) -> T:
    """Run a coroutine to completion on the selected loop."""
    with asyncio.Runner(loop_factory=loop_factory(prefer_uvloop=prefer_uvloop)) as runner:
        return runner.run(main)


def tune_gc(gen0: int = 20_000) -> None:
    """Fewer, cheaper cyclic-GC passes for a long-running hub: collect generation 0 every `gen0`
    allocations instead of 700, and move everything allocated at start-up (modules, config, TLS
    contexts) out of the collector's view. Measured on the hub benchmark: with 128,000 queued
    messages the default thresholds spent a third of the core in the collector."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(gen0, 50, 100)


def release_startup_memory() -> None:
    """Give back what start-up left free: collect cycles, then let glibc return free heap pages to the
    system (Python frees import-time garbage into malloc, which keeps it resident otherwise). For the
    edge, whose budget is resident memory; a no-op where malloc_trim does not exist."""
    import ctypes
    import gc

    gc.collect()
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols: glibc's, when it is glibc
    except (OSError, AttributeError):
        return
    trim(0)
