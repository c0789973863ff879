"""plots.plot_curve renders valid PNGs from a results document, including sparse ones."""

from pathlib import Path

import pytest
from bench.scale import plots

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(nodes: int, scale: float) -> dict:
    return {
        "nodes": nodes,
        "pods": nodes * 2,
        "startup_latency_s": {"p50": 0.8 * scale, "p90": 1.4 * scale, "p99": 2.1 * scale, "max": 3.0 * scale},
        "api_latency_s": {
            "mutating": {"p50": 0.01 * scale, "p99": 0.2 * scale, "count": 100},
            "readonly": {"p50": 0.005 * scale, "p99": 0.1 * scale, "count": 50},
        },
        "resources": {
            "cloudcore": {"cpu_s": 10.0, "peak_rss_mb": 100.0 * scale},
            "apiserver": None if nodes == 5000 else {"cpu_s": 5.0, "peak_rss_mb": 80.0 * scale},
            "simulators": {"cpu_s": 30.0, "peak_rss_mb": 300.0 * scale},
            "sqlite_mb": 12.0 * scale,
            "cloudcore_rss_per_node_kb": 40.0,
        },
    }


def _check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > 5000, (path, len(data))


def test_plot_curve_writes_pngs(tmp_path: Path) -> None:
    results = {
        "schema": 1,
        "core": "compiled",
        "git": {"commit": "0123456789abcdef", "dirty": False},
        "runs": [_run(10000, 3.0), _run(1000, 1.0), _run(5000, 2.0)],
    }
    paths = plots.plot_curve(results, tmp_path / "out")
    assert [p.name for p in paths] == [plots.LATENCY_PNG, plots.API_PNG, plots.MEMORY_PNG]
    for p in paths:
        _check_png(p)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        p.name for p in paths
    )  # no temp files


def test_plot_curve_tolerates_missing_figures(tmp_path: Path) -> None:
    paths = plots.plot_curve({"runs": [{"nodes": 1000}]}, tmp_path)
    for p in paths:
        _check_png(p)


def test_plot_a_single_run_document(tmp_path: Path) -> None:
    paths = plots.plot_curve(_run(1000, 1.0), tmp_path)
    assert len(paths) == 3


def test_main_reads_a_results_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.scale import results as res

    path = res.write_results(tmp_path / "curve.json", {"schema": 1, "runs": [_run(1000, 1.0)]})
    assert plots.main([str(path)]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == [plots.LATENCY_PNG, plots.API_PNG, plots.MEMORY_PNG]
    assert plots.main([str(tmp_path / "nope.json")]) == 2


def test_plot_two_setups(tmp_path: Path) -> None:
    runs = [
        {**_run(n, 1.0), "protocol": proto, "apiserver": "separate"}
        for n in (1000, 5000)
        for proto in ("websocket", "quic")
    ]
    for p in plots.plot_curve({"runs": runs}, tmp_path):
        _check_png(p)
