import asyncio
import os
import shutil

import pytest
from hypothesis import settings

from tests.twins import IMPLS, load_twin

# CI runs a fixed set of examples, so a red run is reproducible; local runs keep exploring.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_configure(config: pytest.Config) -> None:
    # looptime asks the loop policy for the current loop during every test, sync ones included; on
    # Python 3.11 that silently creates a loop nobody closes (a ResourceWarning, an error under
    # filterwarnings=error). Marking the main thread's loop as explicitly unset stops the creation.
    asyncio.set_event_loop(None)


REQUIRE_SYSTEM = os.environ.get("KEDGE_REQUIRE_SYSTEM", "") not in ("", "0")


def require_binary(name: str) -> str:
    """Path of a system binary a test needs; skip without it, fail when KEDGE_REQUIRE_SYSTEM=1."""
    path = shutil.which(name)
    if path is None:
        msg = f"{name} not found on PATH (see ci/ for the install script)"
        if REQUIRE_SYSTEM:
            pytest.fail(msg + " and KEDGE_REQUIRE_SYSTEM=1")
        pytest.skip(msg)
    return path


@pytest.fixture(params=IMPLS)
def core_impl(request: pytest.FixtureRequest) -> str:
    """'c' or 'py': which twin of a _core module a test runs against."""
    return request.param


@pytest.fixture
def router_mod(core_impl: str):
    return load_twin("router", core_impl)


@pytest.fixture
def channel_mod(core_impl: str):
    return load_twin("channel", core_impl)


@pytest.fixture
def store_mod(core_impl: str):
    return load_twin("store", core_impl)


@pytest.fixture
def topic_mod(core_impl: str):
    return load_twin("topic", core_impl)
