"""Fails when the compiled core was expected but a selector fell back to the pure twin."""

import importlib

import pytest

from kedge._core import _compat

MODULES = ("router", "channel", "store", "topic")


@pytest.mark.parametrize("name", MODULES)
def test_selector_picks_the_expected_twin(name: str) -> None:
    sel = importlib.import_module("kedge._core." + name)
    if _compat.NO_EXTENSIONS:
        assert sel.COMPILED is False
    else:
        assert sel.COMPILED is True, "kedge._core.%s fell back to the pure twin: build the extensions" % name


@pytest.mark.parametrize("name", MODULES)
def test_twins_export_the_same_names(name: str) -> None:
    sel = importlib.import_module("kedge._core." + name)
    py = importlib.import_module("kedge._core._%s_py" % name)
    names = [a for a in sel.__all__ if a != "COMPILED"]
    for attr in names:
        assert hasattr(py, attr), "pure twin of %s lacks %s" % (name, attr)
    try:
        c = importlib.import_module("kedge._core._%s_c" % name)
    except ImportError:
        if not _compat.NO_EXTENSIONS:
            raise
        return
    for attr in names:
        assert hasattr(c, attr), "compiled twin of %s lacks %s" % (name, attr)
