"""The compiled hot path of kedge.

Each module `x` has a Cython twin `_x_c.pyx` and a pure-Python twin `_x_py.py`, with the same API and
behaviour; `x.py` selects one. No I/O and no event loop here: callers pass time in and own the waiting.
`KEDGE_NO_EXTENSIONS=1` forces the pure twins.
"""
