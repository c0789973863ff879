"""raise_open_files: the soft open-file limit goes up to the hard one (what Go does for cloudcore), or to
2^20 where the hard limit is unlimited."""

import resource

from kedge.aio.fdlimit import raise_open_files


def test_the_soft_limit_rises_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, 256)
    want = hard if hard != resource.RLIM_INFINITY else max(lowered, 1 << 20)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        assert raise_open_files() == want
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (want, hard)
        if hard != resource.RLIM_INFINITY:
            assert raise_open_files() == hard  # already there: nothing to do
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
