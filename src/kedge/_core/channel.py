"""CloudHub per-node queue: ack / no-ack lanes with per-object coalescing (compiled twin when built)."""

from ._compat import NO_EXTENSIONS

if NO_EXTENSIONS:
    from ._channel_py import COALESCED, FULL, LANE_ACK, LANE_NOACK, QUEUED, STALE, Channel

    COMPILED = False
else:
    try:
        from ._channel_c import COALESCED, FULL, LANE_ACK, LANE_NOACK, QUEUED, STALE, Channel

        COMPILED = True
    except ImportError:  # a test asserts COMPILED when extensions are expected
        from ._channel_py import COALESCED, FULL, LANE_ACK, LANE_NOACK, QUEUED, STALE, Channel

        COMPILED = False

__all__ = ["COALESCED", "COMPILED", "FULL", "LANE_ACK", "LANE_NOACK", "QUEUED", "STALE", "Channel"]
