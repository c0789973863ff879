"""Logging for every `kedge` command: `--log-level` (or -v/-vv) and `--log-format text|json`.

JSON lines carry the fields log shippers index (time, level, logger, message, exception), one object per
line, so journald or a collector can parse edgecore's output without a regex.
"""

from __future__ import annotations

import json
import logging
import time

LEVELS = ("debug", "info", "warning", "error")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": "%s.%03dZ"
            % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)), record.msecs),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def level_for(log_level: str | None, verbose: int) -> int:
    """--log-level wins over -v; with neither, warnings and errors only."""
    if log_level:
        return getattr(logging, log_level.upper())
    return logging.WARNING - 10 * min(verbose, 2)


def configure(level: int, fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("quic").setLevel(max(level, logging.WARNING))  # aioquic logs every connection at INFO
