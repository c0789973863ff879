"""compare: ratios, floors, thresholds, verdicts, the table, exit codes and the baseline round trip."""

import json
import math
from pathlib import Path

import pytest
from bench.scale import compare as cmp
from bench.scale.compare import Figure

MICRO_T = {"micro": 1.30, "density": 1.50}


def micro_doc(**medians: float) -> dict:
    return {
        "machine_info": {},
        "benchmarks": [
            {"fullname": f"bench/bench_x.py::{name}", "name": name, "stats": {"median": m, "mean": m * 2}}
            for name, m in medians.items()
        ],
    }


def density_run(nodes: int = 1000, p50: float = 0.9, p99: float = 2.0, rss: float = 200.0) -> dict:
    return {
        "nodes": nodes,
        "startup_latency_s": {"p50": p50, "p90": 1.5, "p99": p99, "max": 3.0},
        "api_latency_s": {"mutating": {"p50": 0.01, "p99": 0.3, "count": 9}, "readonly": {"p99": 0.1}},
        "resources": {
            "cloudcore": {"peak_rss_mb": rss},
            "cloudcore_rss_per_node_kb": 50.0,
            "wire_bytes_per_node_min": {"idle": 1000.0, "load": 9000.0},
        },
    }


# ratios and floors


def test_ratio_is_now_over_baseline() -> None:
    assert cmp.ratio(2.0, 3.0) == 1.5
    assert cmp.ratio(2.0, 1.0) == 0.5


def test_floor_damps_tiny_latencies() -> None:
    # 2 ms -> 4 ms under a 20 ms floor is 1.0x, not a 2x regression
    assert cmp.ratio(0.002, 0.004, 0.020) == 1.0
    # crossing the floor counts only the part above it
    assert cmp.ratio(0.002, 0.040, 0.020) == pytest.approx(2.0)


def test_ratio_zero_baseline() -> None:
    assert cmp.ratio(0.0, 0.0) == 1.0
    assert math.isinf(cmp.ratio(0.0, 1.0))
    assert cmp.ratio(0.0, 1.0, floor=1.0) == 1.0


def test_floors_by_name() -> None:
    assert cmp.floor_for("micro/bench/x.py::t") == cmp.MICRO_FLOOR_S
    assert cmp.floor_for("density/1000n/startup_p99_s") == 0.020
    assert cmp.floor_for("density/1000n/cloudcore_peak_rss_mb") == 1.0
    assert cmp.floor_for("density/1000n/unknown") == 0.0


# extraction


def test_micro_figures_use_the_median_and_skip_errors() -> None:
    doc = micro_doc(a=2e-5)
    doc["benchmarks"].append({"fullname": "bench/x.py::broken", "stats": None})
    figs = cmp.micro_figures(doc)
    assert figs == {"micro/bench/bench_x.py::a": Figure(2e-5, "s", "micro")}


def test_density_figures_from_a_run_and_a_curve() -> None:
    figs = cmp.density_figures(density_run())
    assert figs["density/1000n/startup_p50_s"] == Figure(0.9, "s", "density")
    assert figs["density/1000n/cloudcore_peak_rss_mb"] == Figure(200.0, "MB", "density")
    assert figs["density/1000n/wire_bytes_per_node_min_idle"].value == 1000.0
    assert set(figs) == {f"density/1000n/{k}" for k in cmp.DENSITY_FIGURES}
    curve = {"schema": 1, "runs": [density_run(1000), density_run(5000)]}
    names = set(cmp.density_figures(curve))
    assert "density/5000n/startup_p99_s" in names and "density/1000n/startup_p99_s" in names


def test_density_figures_skip_absent_and_null_values() -> None:
    run = density_run()
    run["api_latency_s"]["readonly"]["p99"] = None
    del run["resources"]["wire_bytes_per_node_min"]
    figs = cmp.density_figures(run)
    assert "density/1000n/api_readonly_p99_s" not in figs
    assert "density/1000n/wire_bytes_per_node_min_idle" not in figs


# verdicts


def test_verdicts() -> None:
    base = {
        "micro/same": Figure(1e-3, "s", "micro"),
        "micro/slow": Figure(1e-3, "s", "micro"),
        "micro/fast": Figure(1e-3, "s", "micro"),
        "micro/edge": Figure(1e-3, "s", "micro"),
        "micro/gone": Figure(1e-3, "s", "micro"),
    }
    now = {
        "micro/same": Figure(1.1e-3, "s", "micro"),
        "micro/slow": Figure(1.4e-3, "s", "micro"),
        "micro/fast": Figure(0.5e-3, "s", "micro"),
        "micro/edge": Figure(1.3e-3, "s", "micro"),  # exactly at the threshold: not a regression
        "micro/added": Figure(1e-3, "s", "micro"),
    }
    rows = {r.name: r for r in cmp.compare(base, now, MICRO_T)}
    assert {n: r.verdict for n, r in rows.items()} == {
        "micro/same": cmp.OK,
        "micro/slow": cmp.REGRESSED,
        "micro/fast": cmp.IMPROVED,
        "micro/edge": cmp.OK,
        "micro/gone": cmp.MISSING,
        "micro/added": cmp.NEW,
    }
    assert rows["micro/slow"].ratio == pytest.approx(1.4)
    assert rows["micro/gone"].ratio is None and rows["micro/added"].ratio is None
    assert [r.name for r in cmp.regressions(list(rows.values()))] == ["micro/slow"]


def test_thresholds_are_per_kind() -> None:
    base = {"micro/a": Figure(1.0, "s", "micro"), "density/1000n/startup_p99_s": Figure(1.0, "s", "density")}
    now = {"micro/a": Figure(1.4, "s", "micro"), "density/1000n/startup_p99_s": Figure(1.4, "s", "density")}
    rows = {r.name: r.verdict for r in cmp.compare(base, now, MICRO_T)}
    assert rows == {"micro/a": cmp.REGRESSED, "density/1000n/startup_p99_s": cmp.OK}


def test_floor_applies_in_compare() -> None:
    base = {"density/1000n/startup_p50_s": Figure(0.002, "s", "density")}
    now = {"density/1000n/startup_p50_s": Figure(0.004, "s", "density")}
    (row,) = cmp.compare(base, now, MICRO_T)
    assert row.verdict == cmp.OK and row.ratio == 1.0


# table


def test_table_is_aligned() -> None:
    rows = cmp.compare(
        {
            "micro/a": Figure(1e-6, "s", "micro"),
            "density/1000n/cloudcore_peak_rss_mb": Figure(100.0, "MB", "density"),
        },
        {
            "micro/a": Figure(2e-6, "s", "micro"),
            "density/1000n/cloudcore_peak_rss_mb": Figure(90.0, "MB", "density"),
        },
        MICRO_T,
    )
    lines = cmp.format_table(rows).splitlines()
    assert lines[0].split() == ["figure", "baseline", "now", "ratio", "verdict"]
    assert set(lines[1]) <= {"-", " "}
    body = lines[2:]
    assert len(body) == 2
    # the ratio column ends at the same offset on every line
    ends = {line.index("x ") + 1 for line in body}
    assert len(ends) == 1
    assert "2.00x" in body[1] and "REGRESSED" in body[1]
    assert "1 us" in body[1] and "2 us" in body[1]
    assert "100 MB" in body[0] and "0.90x" in body[0]


@pytest.mark.parametrize(
    ("fig", "text"),
    [
        (Figure(2.5, "s", "density"), "2.5 s"),
        (Figure(0.0123, "s", "density"), "12.3 ms"),
        (Figure(4.2e-6, "s", "micro"), "4.2 us"),
        (Figure(3.1e-7, "s", "micro"), "310 ns"),
        (Figure(1234.0, "B", "density"), "1234 B"),
        (None, "-"),
    ],
)
def test_fmt_value(fig: Figure | None, text: str) -> None:
    assert cmp.fmt_value(fig) == text


# the command line


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "micro": tmp_path / "micro.json",
        "density": tmp_path / "density.json",
        "base": tmp_path / "base.json",
    }
    paths["micro"].write_text(json.dumps(micro_doc(a=1e-4, b=2e-4)))
    paths["density"].write_text(json.dumps(density_run()))
    return paths


def _argv(files: dict[str, Path], *extra: str) -> list[str]:
    return [
        "--micro",
        str(files["micro"]),
        "--density",
        str(files["density"]),
        "--baseline",
        str(files["base"]),
        *extra,
    ]


def test_no_baseline_passes_with_a_note(files, capsys) -> None:
    assert cmp.main(_argv(files)) == 0
    out = capsys.readouterr().out
    assert "no baseline figures" in out and "new" in out


def test_update_then_compare_equal_passes(files, capsys) -> None:
    assert cmp.main(_argv(files, "--update-baseline")) == 0
    doc = json.loads(files["base"].read_text())
    assert doc["schema"] == cmp.SCHEMA
    assert {"machine", "git", "core", "updated", "figures"} <= set(doc)
    assert doc["figures"]["micro/bench/bench_x.py::a"] == {"value": 1e-4, "unit": "s", "kind": "micro"}
    assert doc["figures"]["density/1000n/startup_p99_s"]["kind"] == "density"
    capsys.readouterr()
    assert cmp.main(_argv(files)) == 0
    out = capsys.readouterr().out
    assert "REGRESSION" not in out
    assert f"{2 + len(cmp.DENSITY_FIGURES)} ok" in out


def test_regression_exits_1_with_a_loud_last_line(files, capsys) -> None:
    assert cmp.main(_argv(files, "--update-baseline")) == 0
    files["micro"].write_text(json.dumps(micro_doc(a=2e-4, b=2e-4)))  # a: 2x slower
    files["density"].write_text(json.dumps(density_run(p99=4.0)))  # startup p99 2x slower
    capsys.readouterr()
    assert cmp.main(_argv(files)) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("REGRESSION: 2 figures beyond threshold:")
    assert "micro/bench/bench_x.py::a 2.00x" in last and "density/1000n/startup_p99_s 2.00x" in last


def test_threshold_flags(files, capsys) -> None:
    assert cmp.main(_argv(files, "--update-baseline")) == 0
    files["micro"].write_text(json.dumps(micro_doc(a=2e-4, b=2e-4)))
    assert cmp.main(_argv(files, "--threshold-micro", "2.5")) == 0
    assert cmp.main(_argv(files, "--threshold-micro", "1.0")) == 2  # a threshold must allow some noise


def test_missing_and_new_do_not_fail(files, capsys) -> None:
    assert cmp.main(_argv(files, "--update-baseline")) == 0
    files["micro"].write_text(json.dumps(micro_doc(b=2e-4, c=1e-4)))  # a missing, c new
    capsys.readouterr()
    assert cmp.main(_argv(files)) == 0
    out = capsys.readouterr().out
    assert any("::a" in line and "missing" in line for line in out.splitlines())
    assert any("::c" in line and line.rstrip().endswith("new") for line in out.splitlines())


def test_micro_only(files, capsys) -> None:
    argv = ["--micro", str(files["micro"]), "--baseline", str(files["base"])]
    assert cmp.main([*argv, "--update-baseline"]) == 0
    assert set(json.loads(files["base"].read_text())["figures"]) == {
        "micro/bench/bench_x.py::a",
        "micro/bench/bench_x.py::b",
    }
    assert cmp.main(argv) == 0


def test_input_errors_exit_2(files, tmp_path, capsys) -> None:
    assert cmp.main(["--baseline", str(files["base"])]) == 2
    assert cmp.main(["--micro", str(tmp_path / "nope.json"), "--baseline", str(files["base"])]) == 2
    (tmp_path / "empty.json").write_text("{}")
    assert cmp.main(["--micro", str(tmp_path / "empty.json"), "--baseline", str(files["base"])]) == 2
    files["base"].write_text('{"schema": 42}')
    assert cmp.main(_argv(files)) == 2
    err = capsys.readouterr().err
    assert all(line.startswith("error: ") for line in err.splitlines())


def test_setups_other_than_the_default_get_their_own_names() -> None:
    quic = {**density_run(), "protocol": "quic", "apiserver": "embedded"}
    ws = {**density_run(), "protocol": "websocket", "apiserver": "separate"}
    names = set(cmp.density_figures({"schema": 1, "runs": [ws, quic]}))
    assert "density/1000n/startup_p99_s" in names
    assert "density/1000n-quic-embedded/startup_p99_s" in names


def test_end_to_end_benchmarks_are_judged_by_their_own_figures() -> None:
    doc = {
        "benchmarks": [
            {
                "fullname": "bench/bench_apiserver.py::test_apiserver_creates",
                "stats": {"median": 6e-7},  # the no-op round: not a figure
                "extra_info": {"creates_per_s": 3500, "server_cpu_us_per_create": 260, "note": "x"},
            }
        ]
    }
    figs = cmp.micro_figures(doc)
    rate = "micro/bench/bench_apiserver.py::test_apiserver_creates/creates_per_s"
    cpu = "micro/bench/bench_apiserver.py::test_apiserver_creates/server_cpu_us_per_create"
    assert figs == {rate: Figure(3500.0, "/s", "e2e"), cpu: Figure(260.0, "us", "e2e")}
    slower = {rate: Figure(2000.0, "/s", "e2e"), cpu: Figure(261.0, "us", "e2e")}
    rows = {r.name: r for r in cmp.compare(figs, slower, {"micro": 1.3, "e2e": 1.5})}
    assert rows[rate].verdict == cmp.REGRESSED  # fewer per second is worse
    assert rows[rate].ratio == pytest.approx(1.75)
    assert rows[cpu].verdict == cmp.OK
    assert cmp.compare(figs, {rate: Figure(6000.0, "/s", "e2e")}, {"e2e": 1.5})[0].verdict == cmp.IMPROVED
