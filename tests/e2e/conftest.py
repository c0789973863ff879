"""Fixtures for end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.procs import Proc


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:  # whatever a failed test left running
        if p.popen.poll() is None:
            p.popen.kill()
            p.popen.wait(5)
