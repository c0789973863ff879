"""Load either twin of a kedge._core module, for tests and benchmarks that run both in one session."""

import importlib
from types import ModuleType

import pytest

from kedge._core import _compat

IMPLS = ("c", "py")


def load_twin(name: str, impl: str) -> ModuleType:
    """Import `kedge._core._<name>_<impl>`.

    A missing compiled twin is a failure unless the pure twins were asked for (KEDGE_NO_EXTENSIONS=1),
    so a build that silently lost its extensions cannot pass.
    """
    try:
        return importlib.import_module(f"kedge._core._{name}_{impl}")
    except ImportError:
        if impl == "c" and _compat.NO_EXTENSIONS:
            pytest.skip(f"compiled twin of {name} not built (KEDGE_NO_EXTENSIONS=1)")
        raise
