"""PNG plots of a scale curve: latency percentiles and memory against the number of nodes.

    python -m bench.scale.plots bench/results/curve.json [--out bench/results]

matplotlib is imported lazily with the Agg backend: the harness runs headless and must not need it unless
plots are asked for.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.scale import results as res

LATENCY_PNG = "latency.png"
API_PNG = "api_latency.png"
MEMORY_PNG = "memory.png"


def _get(d: Any, *path: str) -> float | None:
    for key in path:
        if not isinstance(d, Mapping):
            return None
        d = d.get(key)
    return float(d) if isinstance(d, int | float) and not isinstance(d, bool) else None


def _series(runs: Sequence[Mapping[str, Any]], *path: str) -> tuple[list[int], list[float]]:
    """(nodes, values) for the runs that have the figure, in node order."""
    xs: list[int] = []
    ys: list[float] = []
    for run in runs:
        value = _get(run, *path)
        if value is not None and run.get("nodes") is not None:
            xs.append(int(run["nodes"]))
            ys.append(value)
    return xs, ys


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _title(results: Mapping[str, Any], what: str) -> str:
    commit = (results.get("git") or {}).get("commit") or ""
    core = results.get("core") or ""
    extra = ", ".join(x for x in (core and f"{core} core", commit and f"git {commit[:10]}") if x)
    return f"{what} ({extra})" if extra else what


def _plot_lines(
    ax: Any,
    runs: Sequence[Mapping[str, Any]],
    lines: Sequence[tuple[str, tuple[str, ...]]],
    marker: str = "o",
) -> bool:
    """One line per figure and set-up (protocol, apiserver); set-ups are named only when runs differ."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for run in runs:
        groups.setdefault(f"{run.get('protocol') or ''} {run.get('apiserver') or ''}".strip(), []).append(run)
    drawn = False
    for setup, group in groups.items():
        for label, path in lines:
            xs, ys = _series(group, *path)
            if xs:
                ax.plot(xs, ys, marker=marker, label=f"{label} ({setup})" if len(groups) > 1 else label)
                drawn = True
    return drawn


def _finish(ax: Any, xlabel: str, ylabel: str, drawn: bool) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.set_ylim(bottom=0)
    if drawn:
        ax.legend(loc="best", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)


def plot_curve(results: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Write latency.png, api_latency.png and memory.png into out_dir; returns their paths."""
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = sorted(res.runs_of(results), key=lambda r: r.get("nodes") or 0)
    paths: list[Path] = []

    # pod startup percentiles with the 5 s SLO
    fig, ax = plt.subplots(figsize=(8, 5))
    _plot_lines(ax, runs, [(p, ("startup_latency_s", p)) for p in ("p50", "p90", "p99")])
    ax.axhline(res.STARTUP_P99_SLO, color="red", linestyle="--", label=f"SLO p99 {res.STARTUP_P99_SLO:g} s")
    _finish(ax, "nodes", "pod startup latency (s)", True)
    ax.set_title(_title(results, "Pod startup latency vs nodes"))
    paths.append(_save(plt, fig, out / LATENCY_PNG))

    # API call latency p99 with the 1 s SLO for mutating calls
    fig, ax = plt.subplots(figsize=(8, 5))
    _plot_lines(
        ax,
        runs,
        [
            ("mutating p99", ("api_latency_s", "mutating", "p99")),
            ("readonly p99", ("api_latency_s", "readonly", "p99")),
            ("mutating p50", ("api_latency_s", "mutating", "p50")),
            ("readonly p50", ("api_latency_s", "readonly", "p50")),
        ],
    )
    ax.axhline(
        res.MUTATING_P99_SLO,
        color="red",
        linestyle="--",
        label=f"SLO mutating p99 {res.MUTATING_P99_SLO:g} s",
    )
    _finish(ax, "nodes", "API call latency (s)", True)
    ax.set_title(_title(results, "API call latency vs nodes"))
    paths.append(_save(plt, fig, out / API_PNG))

    # memory: peak RSS per process, and cloudcore's cost per node on a second panel
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
    drawn = _plot_lines(
        ax1,
        runs,
        [
            ("cloudcore peak RSS", ("resources", "cloudcore", "peak_rss_mb")),
            ("apiserver peak RSS", ("resources", "apiserver", "peak_rss_mb")),
            ("simulators peak RSS", ("resources", "simulators", "peak_rss_mb")),
            ("SQLite file", ("resources", "sqlite_mb")),
        ],
    )
    _finish(ax1, "nodes", "MB", drawn)
    ax1.set_title("Memory vs nodes")
    drawn = _plot_lines(ax2, runs, [("cloudcore RSS per node", ("resources", "cloudcore_rss_per_node_kb"))])
    _finish(ax2, "nodes", "KB per node", drawn)
    ax2.set_title("cloudcore KB per node")
    fig.suptitle(_title(results, "Memory"))
    paths.append(_save(plt, fig, out / MEMORY_PNG))
    return paths


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.scale.plots", description="Plot a scale curve results JSON."
    )
    p.add_argument("results", type=Path)
    p.add_argument("--out", type=Path, help="output directory (default: next to the results file)")
    args = p.parse_args(argv)
    try:
        doc = res.load_results(args.results)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}; pass a results JSON written by bench.scale.curve", file=sys.stderr)
        return 2
    for path in plot_curve(doc, args.out or args.results.parent):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
