"""--log-format json writes one parseable object per line with the fields log shippers index."""

from __future__ import annotations

import json
import logging

from kedge.cli import logsetup


def test_json_lines() -> None:
    fmt = logsetup.JsonFormatter()
    rec = logging.LogRecord("kedge.x", logging.WARNING, __file__, 1, "node %s: %d queued", ("n1", 3), None)
    rec.created = 0.5
    rec.msecs = 500
    out = json.loads(fmt.format(rec))
    assert out == {
        "time": "1970-01-01T00:00:00.500Z",
        "level": "warning",
        "logger": "kedge.x",
        "message": "node n1: 3 queued",
    }
    import sys

    try:
        raise ValueError("bad\nthing")
    except ValueError:
        rec = logging.LogRecord("k", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    line = fmt.format(rec)
    assert "\n" not in line  # one record, one line
    exc = json.loads(line)["exception"]
    assert exc.startswith("Traceback") and exc.endswith("ValueError: bad\nthing")


def test_level_for() -> None:
    assert logsetup.level_for(None, 0) == logging.WARNING
    assert logsetup.level_for(None, 1) == logging.INFO
    assert logsetup.level_for(None, 5) == logging.DEBUG
    assert logsetup.level_for("error", 2) == logging.ERROR
