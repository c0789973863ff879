"""Benchmarks run both twins of each _core module in one session and print compiled-vs-pure ratios.

Name each benchmark's group with `@pytest.mark.benchmark(group=...)` and take the `core_impl`
fixture ('c' | 'py'); the summary pairs the two runs of each test and prints py/c.
"""

import re

import pytest
from tests.conftest import pytest_configure  # noqa: F401 - the same session set-up as the test suite
from tests.twins import IMPLS, load_twin

TARGET_RATIO = 3.0


@pytest.fixture(params=IMPLS)
def core_impl(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def twin(core_impl: str):
    """twin('router') -> the module of that twin for this run."""
    return lambda name: load_twin(name, core_impl)


_IMPL_ID = re.compile(r"(?<=[\[-])(c|py)(?=[\]-])")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    pairs: dict[tuple[str, str], dict[str, float]] = {}
    for bench in session.benchmarks:
        if not bench.has_error and bench.stats is not None:
            m = _IMPL_ID.search(bench.name)
            if m:
                key = (bench.group or "", _IMPL_ID.sub("*", bench.name))
                pairs.setdefault(key, {})[m.group(1)] = bench.stats.median
    rows = [(k, v["py"] / v["c"]) for k, v in sorted(pairs.items()) if "c" in v and "py" in v]
    if not rows:
        return
    tr = terminalreporter
    tr.section("kedge._core: compiled vs pure (median time ratio py/c, target >= %.0fx)" % TARGET_RATIO)
    for (group, name), ratio in rows:
        mark = "ok " if ratio >= TARGET_RATIO else "LOW"
        tr.write_line(f"{mark} {ratio:6.2f}x  {group}  ({name})")
