"""The open-file limit of a server process: one socket per edge node, so cloudcore with 10,000 nodes needs
more than the soft limit many systems start with (1,024)."""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)


def raise_open_files() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit, as Go's runtime does for KubeEdge's cloudcore (the hard
    limit is the administrator's word; the soft one is only a default). Returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= soft:
        return soft
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as e:
        log.warning("cannot raise the open-file limit from %s to %s: %s", soft, target, e)
        return soft
    return target
