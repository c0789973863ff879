"""Which twin of each _core module to load."""

import os
import platform

#: True when the pure-Python twins must be used (explicitly asked for, or not CPython).
NO_EXTENSIONS: bool = (
    os.environ.get("KEDGE_NO_EXTENSIONS", "") not in ("", "0")
    or platform.python_implementation() != "CPython"
)
