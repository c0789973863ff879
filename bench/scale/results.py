"""The results JSON of the scale harness: schema helpers, percentiles, machine/git/core facts, SLOs.

A density run (bench/scale/density.py) produces one *run* dict; a curve (bench/scale/curve.py) wraps several:

    {"schema": 1, "machine": {...}, "git": {"commit": str|None, "dirty": bool}, "core": "compiled"|"pure",
     "started": ISO-8601 UTC, "runs": [run, ...]}

so a number in bench/results/ can always be traced to the machine, the commit and the _core twin behind it.
The SLOs are Kubernetes' (as used by ClusterLoader2): pod startup p99 <= 5 s, mutating API call p99 <= 1 s.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import math
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SCHEMA = 1
STARTUP_P99_SLO = 5.0  # seconds: pod created -> Running observed by a watcher
MUTATING_P99_SLO = 1.0  # seconds: create/update/patch/delete API calls
CORE_MODULES = ("channel", "router", "store", "topic")
REPO_ROOT = Path(__file__).resolve().parents[2]


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list: the smallest value with at least q% of values <= it.

    Nearest-rank (not interpolated) so every reported figure is a latency that was actually observed.
    """
    if not ordered:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def percentiles(values: Iterable[float]) -> dict[str, float | int | None]:
    """{p50, p90, p99, max, count} by nearest rank; the figures are None when there are no values."""
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return {"p50": None, "p90": None, "p99": None, "max": None, "count": 0}
    return {
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": ordered[-1],
        "count": len(ordered),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_mb() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return None


def _loop_kind() -> str:
    """The event loop kedge.aio.loops.run selects here: 'uvloop' or 'asyncio' (with uvloop's version)."""
    try:
        from kedge.aio.loops import loop_name

        name = loop_name()
    except ImportError:
        return "asyncio"
    if name == "uvloop":
        try:
            import uvloop

            return f"uvloop {uvloop.__version__}"
        except (ImportError, AttributeError):
            pass
    return name


def machine_info() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_mb": _memory_mb(),
        "kernel": platform.release(),
        "os": platform.system(),
        "arch": platform.machine(),
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "loop": _loop_kind(),
        "hostname": platform.node(),
    }


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_info(cwd: Path | None = None) -> dict[str, Any]:
    """{commit, dirty}: commit None outside a git checkout; dirty counts tracked changes only."""
    cwd = cwd or REPO_ROOT
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd) if commit else None
    return {"commit": commit or None, "dirty": bool(status)}


def core_flags() -> dict[str, bool]:
    """Each kedge._core module's COMPILED flag (False when the module cannot be imported)."""
    flags: dict[str, bool] = {}
    for name in CORE_MODULES:
        try:
            flags[name] = bool(importlib.import_module(f"kedge._core.{name}").COMPILED)
        except ImportError:
            flags[name] = False
    return flags


def core_kind(flags: Mapping[str, bool] | None = None) -> str:
    """'compiled' when every _core module loaded its Cython twin, 'pure' when none did, else 'mixed'."""
    values = list((flags if flags is not None else core_flags()).values())
    if values and all(values):
        return "compiled"
    if not any(values):
        return "pure"
    return "mixed"


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def new_results() -> dict[str, Any]:
    """An empty curve document with this machine's facts; append run dicts to ["runs"]."""
    flags = core_flags()
    return {
        "schema": SCHEMA,
        "machine": machine_info(),
        "git": git_info(),
        "core": core_kind(flags),
        "core_modules": flags,
        "started": now_iso(),
        "runs": [],
    }


def _get(d: Mapping[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(d, Mapping):
            return None
        d = d.get(key)
    return d


def slo(run: Mapping[str, Any]) -> dict[str, bool]:
    """The run's SLO verdicts; a missing figure fails its SLO (no evidence is not a pass). A point also
    fails when it broke (nodes went NotReady) or left pods not Running: a p99 over the pods that did run
    would flatter it."""
    startup = _get(run, "startup_latency_s", "p99")
    mutating = _get(run, "api_latency_s", "mutating", "p99")
    created = run.get("created")
    return {
        "startup_p99_ok": startup is not None and startup <= STARTUP_P99_SLO,
        "mutating_p99_ok": mutating is not None and mutating <= MUTATING_P99_SLO,
        "all_running": bool(created) and run.get("running") == created,
        "nodes_stayed_ready": bool(created) and not run.get("broke"),
    }


def meets_slos(run: Mapping[str, Any]) -> bool:
    return all(slo(run).values())


def summary(runs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The curve's answer: the largest node count meeting every SLO, and the smallest that broke
    (nodes NotReady, or the run failed outright)."""
    runs = sorted(runs, key=lambda r: r.get("nodes") or 0)
    meeting = [r["nodes"] for r in runs if "error" not in r and meets_slos(r)]
    broken = [r["nodes"] for r in runs if "error" in r or r.get("broke")]
    return {
        "largest_meeting_slos": max(meeting) if meeting else None,
        "smallest_broken": min(broken) if broken else None,
    }


def summary_table(runs: Iterable[Mapping[str, Any]]) -> str:
    """One line per point: what a reader of a long run's log wants at the end."""
    lines = ["nodes    pods     startup p50/p90/p99 s   mutating p99 s  running          verdict"]
    for r in sorted(runs, key=lambda r: r.get("nodes") or 0):
        if "error" in r:
            lines.append("%-8d %-8d failed: %s" % (r.get("nodes", 0), r.get("pods", 0), r["error"]))
            continue
        st = r.get("startup_latency_s") or {}
        startup = "/".join(_num(st.get(q), "%.2f") for q in ("p50", "p90", "p99"))
        mutating = _num(_get(r, "api_latency_s", "mutating", "p99"), "%.3f")
        if meets_slos(r):
            verdict = "meets the SLOs"
        elif r.get("broke"):
            verdict = "broke: %s" % r["broke"]
        else:
            verdict = "misses: " + ", ".join(k for k, ok in slo(r).items() if not ok)
        running = "%s/%s" % (r.get("running"), r.get("created"))
        lines.append(
            "%-8d %-8d %-23s %-15s %-16s %s" % (r["nodes"], r["pods"], startup, mutating, running, verdict)
        )
    return "\n".join(lines)


def _num(value: Any, fmt: str) -> str:
    return fmt % value if isinstance(value, (int, float)) else "-"


def runs_of(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The runs of a curve document, or [results] itself when it is a single run dict."""
    if "runs" in results:
        return list(results["runs"])
    return [dict(results)]


def write_results(path: str | os.PathLike[str], results: Mapping[str, Any]) -> Path:
    """Write JSON atomically (temp file + rename in the same directory): readers never see half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2, sort_keys=False, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    schema = data.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise ValueError(f"{path}: results schema {schema}, this harness reads schema {SCHEMA}")
    return data
