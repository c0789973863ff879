"""Builds the Cython twins of kedge._core.

KEDGE_NO_EXTENSIONS=1 skips them (the pure-Python twins are used).
KEDGE_CYTHON_TRACE=1 compiles with line tracing (for coverage/profiling),
KEDGE_CYTHON_ANNOTATE=1 writes the HTML annotation next to each .pyx.
"""

import os
import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

CORE_MODULES = ("router", "channel", "store", "topic")


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def ext_modules() -> list[Extension]:
    if _flag("KEDGE_NO_EXTENSIONS"):
        return []
    from Cython.Build import cythonize

    trace = _flag("KEDGE_CYTHON_TRACE")
    macros = [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")] if trace else []
    exts = [
        Extension(f"kedge._core._{name}_c", [f"src/kedge/_core/_{name}_c.pyx"], define_macros=macros)
        for name in CORE_MODULES
    ]
    return cythonize(
        exts,
        annotate=_flag("KEDGE_CYTHON_ANNOTATE"),
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
            "linetrace": trace,
        },
    )


class BuildWithAssets(build_py):
    """Copies the CRD manifests of cloud/crds into the package, so an installed kedge can install them."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "kedge" / "apiserver" / "crds"
        target.mkdir(parents=True, exist_ok=True)
        for manifest in sorted(Path("cloud/crds").glob("*.yaml")):
            shutil.copy2(manifest, target / manifest.name)


setup(ext_modules=ext_modules(), cmdclass={"build_py": BuildWithAssets})
