"""Beehive routing tables: module inboxes, groups and sync waiters (compiled twin when built)."""

from ._compat import NO_EXTENSIONS

if NO_EXTENSIONS:
    from ._router_py import HEAP_SLACK, Router

    COMPILED = False
else:
    try:
        from ._router_c import HEAP_SLACK, Router

        COMPILED = True
    except ImportError:  # a test asserts COMPILED when extensions are expected
        from ._router_py import HEAP_SLACK, Router

        COMPILED = False

__all__ = ["COMPILED", "HEAP_SLACK", "Router"]
