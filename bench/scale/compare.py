"""Compare a bench run with the stored baseline; exit 1 when a figure regressed beyond its threshold.

    python -m bench.scale.compare --micro MICRO.json --density DENSITY.json --baseline bench/baseline.json \
        [--threshold-micro 1.30] [--threshold-density 1.50] [--update-baseline]

Inputs: MICRO.json is pytest-benchmark's ``--benchmark-json`` output (the figure is each benchmark's *median*
round time: the median shrugs off the scheduler hiccups that move the mean); DENSITY.json is a density run
(bench/scale/density.py) or a curve document holding several runs (bench/scale/results.py).

End-to-end benchmarks time their scenario themselves and leave pytest-benchmark a no-op round; their
figures are the numbers in ``extra_info`` (``micro/<fullname>/<key>``, kind ``e2e``, judged with the density
threshold as they share its noise) instead of the median.

Figures are "lower is better" and ratio = now / baseline, except rates (unit ``/s``, from keys ending in
``_per_s``): ratio = baseline / now, so a ratio above the threshold is a regression either way. A figure
below its noise floor is compared as the floor (a p50 of 2 ms -> 4 ms is timer noise, not a 2x regression):
ratio = max(now, floor) / max(baseline, floor). Verdicts: ``REGRESSED`` ratio > threshold (exit 1),
``improved`` ratio < 1/threshold, ``ok`` otherwise, ``new`` (not in the baseline), ``missing`` (in the
baseline, not measured now). New and missing figures never fail the run: ``-k`` subsets and new benchmarks
must not break ``make bench``.

Baseline file (JSON, written by ``--update-baseline``; figures are per machine, so re-baseline on a new box):

    {"schema": 1,
     "updated": "2026-01-01T00:00:00+00:00",             # when it was written (UTC)
     "machine": {...}, "git": {"commit": ..., "dirty": ...}, "core": "compiled"|"pure"|"mixed",
     "figures": {
        "micro/bench/bench_channel.py::test_put_get_coalescing[c]":
            {"value": 1.2e-06, "unit": "s", "kind": "micro"},
        "density/1000n/startup_p99_s": {"value": 1.9, "unit": "s", "kind": "density"},
        ...}}

Figure names: ``micro/<pytest-benchmark fullname>`` and ``density/<nodes>n[-<protocol>-<apiserver>]/<figure>``
(the set-up is part of the name so a 1,000-node baseline is never compared with a 5,000-node run; the suffix
is left out for the default websocket + separate apiserver). The density figures are
startup_p50_s, startup_p99_s, api_mutating_p99_s, api_readonly_p99_s, cloudcore_peak_rss_mb,
cloudcore_rss_per_node_kb and wire_bytes_per_node_min_idle. Floors live in this module, not in the baseline,
so tuning a floor needs no re-baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.scale import results as res

SCHEMA = 1
THRESHOLD_MICRO = 1.30
THRESHOLD_DENSITY = 1.50
MICRO_FLOOR_S = 1e-6  # below a microsecond per round the timer and loop overhead dominate

# density figure -> (path into the run dict, unit, noise floor)
DENSITY_FIGURES: dict[str, tuple[tuple[str, ...], str, float]] = {
    "startup_p50_s": (("startup_latency_s", "p50"), "s", 0.020),
    "startup_p99_s": (("startup_latency_s", "p99"), "s", 0.020),
    "api_mutating_p99_s": (("api_latency_s", "mutating", "p99"), "s", 0.020),
    "api_readonly_p99_s": (("api_latency_s", "readonly", "p99"), "s", 0.020),
    "cloudcore_peak_rss_mb": (("resources", "cloudcore", "peak_rss_mb"), "MB", 1.0),
    "cloudcore_rss_per_node_kb": (("resources", "cloudcore_rss_per_node_kb"), "KB", 1.0),
    "wire_bytes_per_node_min_idle": (("resources", "wire_bytes_per_node_min", "idle"), "B", 64.0),
}

OK, REGRESSED, IMPROVED, NEW, MISSING = "ok", "REGRESSED", "improved", "new", "missing"


@dataclass(frozen=True, slots=True)
class Figure:
    value: float
    unit: str
    kind: str  # "micro" | "density"


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    baseline: Figure | None
    now: Figure | None
    ratio: float | None
    verdict: str


def floor_for(name: str) -> float:
    """The noise floor of a figure, by its name."""
    if name.startswith("micro/"):
        return MICRO_FLOOR_S
    spec = DENSITY_FIGURES.get(name.rsplit("/", 1)[-1])
    return spec[2] if spec else 0.0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


#: extra_info key suffix -> unit of an end-to-end figure
_EXTRA_UNITS = (("_per_s", "/s"), ("_ms", "ms"), ("_us", "us"), ("_mib", "MiB"), ("_mb", "MB"), ("_kb", "KB"))


def _extra_unit(key: str) -> str:
    for suffix, unit in _EXTRA_UNITS:
        if key.endswith(suffix) or ("%s_" % suffix) in key:
            return unit
    return ""


def micro_figures(doc: Mapping[str, Any]) -> dict[str, Figure]:
    """pytest-benchmark JSON -> {"micro/<fullname>": median seconds}, or {"micro/<fullname>/<key>": value}
    for each number in the extra_info of an end-to-end benchmark; errored benchmarks are skipped."""
    out: dict[str, Figure] = {}
    for bench in doc.get("benchmarks", []):
        name = bench.get("fullname") or bench.get("name")
        if not name:
            continue
        extra = {k: v for k, v in (bench.get("extra_info") or {}).items() if _number(v) is not None}
        if extra:
            for key, value in extra.items():
                out[f"micro/{name}/{key}"] = Figure(float(value), _extra_unit(key), "e2e")
            continue
        median = _number((bench.get("stats") or {}).get("median"))
        if median is not None:
            out[f"micro/{name}"] = Figure(median, "s", "micro")
    return out


def variant(run: Mapping[str, Any]) -> str:
    """'' for the default set-up (websocket, separate apiserver), else e.g. '-quic-embedded'."""
    protocol = run.get("protocol") or "websocket"
    apiserver = run.get("apiserver") or "separate"
    return "" if (protocol, apiserver) == ("websocket", "separate") else f"-{protocol}-{apiserver}"


def density_figures(doc: Mapping[str, Any]) -> dict[str, Figure]:
    """A density run or a curve document -> {"density/<nodes>n/<figure>": value}; absent figures skipped."""
    out: dict[str, Figure] = {}
    for run in res.runs_of(doc):
        nodes = f"{run.get('nodes')}n{variant(run)}"
        for fig, (path, unit, _floor) in DENSITY_FIGURES.items():
            value: Any = run
            for key in path:
                value = value.get(key) if isinstance(value, Mapping) else None
            number = _number(value)
            if number is not None:
                out[f"density/{nodes}/{fig}"] = Figure(number, unit, "density")
    return out


def ratio(baseline: float, now: float, floor: float = 0.0) -> float:
    """now / baseline with both raised to the floor; inf when the baseline is 0 and there is no floor."""
    b, n = max(baseline, floor), max(now, floor)
    if b <= 0:
        return 1.0 if n <= 0 else math.inf
    return n / b


def compare(
    baseline: Mapping[str, Figure], now: Mapping[str, Figure], thresholds: Mapping[str, float]
) -> list[Row]:
    """One row per figure in either set, sorted by name; thresholds maps kind -> max allowed ratio."""
    rows: list[Row] = []
    for name in sorted(set(baseline) | set(now)):
        b, n = baseline.get(name), now.get(name)
        if b is None:
            rows.append(Row(name, None, n, None, NEW))
            continue
        if n is None:
            rows.append(Row(name, b, None, None, MISSING))
            continue
        floor = floor_for(name) if n.kind != "e2e" else 0.0
        r = ratio(n.value, b.value, floor) if n.unit.endswith("/s") else ratio(b.value, n.value, floor)
        limit = thresholds.get(n.kind, thresholds.get(b.kind, THRESHOLD_DENSITY))
        verdict = REGRESSED if r > limit else IMPROVED if r < 1.0 / limit else OK
        rows.append(Row(name, b, n, r, verdict))
    return rows


def regressions(rows: Sequence[Row]) -> list[Row]:
    return [row for row in rows if row.verdict == REGRESSED]


def fmt_value(fig: Figure | None) -> str:
    """A value with a readable unit: seconds scaled to ns/us/ms, sizes as given."""
    if fig is None:
        return "-"
    v = fig.value
    if fig.unit == "s":
        for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
            if abs(v) >= scale:
                return f"{v / scale:.3g} {unit}"
        return f"{v / 1e-9:.3g} ns"
    return f"{v:.4g} {fig.unit}"


def format_table(rows: Sequence[Row]) -> str:
    header = ("figure", "baseline", "now", "ratio", "verdict")
    body = [
        (
            row.name,
            fmt_value(row.baseline),
            fmt_value(row.now),
            "-" if row.ratio is None else f"{row.ratio:.2f}x",
            row.verdict,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        name, *rest = cells
        # names left-aligned, numbers right-aligned so the ratios line up
        return "  ".join(
            [name.ljust(widths[0])]
            + [c.rjust(w) for c, w in zip(rest[:-1], widths[1:-1], strict=True)]
            + [rest[-1].ljust(widths[-1])]
        ).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(cells) for cells in body)])


def load_baseline(path: Path) -> tuple[dict[str, Figure], dict[str, Any]]:
    """(figures, the document); a missing file is an empty baseline."""
    if not path.exists():
        return {}, {}
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"{path}: baseline schema {doc.get('schema')!r}, this tool reads schema {SCHEMA}")
    figures: dict[str, Figure] = {}
    for name, entry in doc.get("figures", {}).items():
        value = _number(entry.get("value"))
        if value is not None:
            kind = entry.get("kind") or name.split("/", 1)[0]
            figures[name] = Figure(value, entry.get("unit", ""), kind)
    return figures, doc


def baseline_doc(figures: Mapping[str, Figure]) -> dict[str, Any]:
    flags = res.core_flags()
    return {
        "schema": SCHEMA,
        "updated": res.now_iso(),
        "machine": res.machine_info(),
        "git": res.git_info(),
        "core": res.core_kind(flags),
        "figures": {
            name: {"value": fig.value, "unit": fig.unit, "kind": fig.kind}
            for name, fig in sorted(figures.items())
        },
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.scale.compare",
        description="Compare micro benchmark and density figures with a stored baseline (lower is better).",
    )
    p.add_argument("--micro", type=Path, help="pytest-benchmark --benchmark-json output")
    p.add_argument("--density", type=Path, help="density run or curve results JSON")
    p.add_argument(
        "--baseline", type=Path, required=True, help="baseline JSON (created by --update-baseline)"
    )
    p.add_argument(
        "--threshold-micro", type=float, default=THRESHOLD_MICRO, help="max micro ratio (%(default)s)"
    )
    p.add_argument(
        "--threshold-density", type=float, default=THRESHOLD_DENSITY, help="max density ratio (%(default)s)"
    )
    p.add_argument("--update-baseline", action="store_true", help="store these figures as the new baseline")
    return p


def _load_json(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.micro is None and args.density is None:
        print("error: nothing to compare; pass --micro and/or --density", file=sys.stderr)
        return 2
    for t in (args.threshold_micro, args.threshold_density):
        if t <= 1.0:
            print(f"error: threshold {t} must be > 1.0; e.g. 1.30 allows 30% slower", file=sys.stderr)
            return 2
    try:
        now: dict[str, Figure] = {}
        if args.micro is not None:
            now.update(micro_figures(_load_json(args.micro)))
        if args.density is not None:
            now.update(density_figures(_load_json(args.density)))
        baseline, base_doc = load_baseline(args.baseline)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}; check the file paths (run `make bench` to produce them)", file=sys.stderr)
        return 2
    if not now:
        print(
            "error: no figures found in the inputs; are they pytest-benchmark / density JSON?",
            file=sys.stderr,
        )
        return 2

    if args.update_baseline:
        res.write_results(args.baseline, baseline_doc(now))
        print(f"baseline updated: {args.baseline} ({len(now)} figures)")
        return 0

    thresholds = {
        "micro": args.threshold_micro,
        "density": args.threshold_density,
        "e2e": args.threshold_density,
    }
    rows = compare(baseline, now, thresholds)
    print(format_table(rows))
    print()
    if not baseline:
        print(
            f"note: no baseline figures in {args.baseline}; "
            "store this run as the baseline with `make bench-baseline` (or --update-baseline)"
        )
    else:
        cpu = res.machine_info()["cpu"]
        base_cpu = (base_doc.get("machine") or {}).get("cpu")
        if base_cpu and base_cpu != cpu:
            print(
                f"warning: baseline was measured on {base_cpu!r}, this machine is {cpu!r}; ratios may mislead"
            )
    counts = {v: sum(1 for r in rows if r.verdict == v) for v in (OK, IMPROVED, NEW, MISSING, REGRESSED)}
    print(", ".join(f"{n} {v}" for v, n in counts.items()))
    bad = regressions(rows)
    if bad:
        names = ", ".join(f"{r.name} {r.ratio:.2f}x" for r in bad)
        print(f"REGRESSION: {len(bad)} figures beyond threshold: {names}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
