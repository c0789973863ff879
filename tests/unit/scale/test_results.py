"""The results helpers: nearest-rank percentiles, SLO verdicts, atomic JSON, machine/git/core facts."""

import json

import pytest
from bench.scale import results as res


def test_percentiles_nearest_rank() -> None:
    p = res.percentiles(range(1, 101))  # 1..100
    assert p == {"p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0, "count": 100}


def test_percentiles_pick_observed_values_not_interpolations() -> None:
    p = res.percentiles([0.4, 0.1, 0.3, 0.2])
    assert p["p50"] == 0.2  # ceil(0.5*4)=2nd smallest
    assert p["p90"] == 0.4 and p["p99"] == 0.4 and p["max"] == 0.4
    assert p["count"] == 4


def test_percentiles_single_and_empty() -> None:
    assert res.percentiles([7]) == {"p50": 7.0, "p90": 7.0, "p99": 7.0, "max": 7.0, "count": 1}
    assert res.percentiles([]) == {"p50": None, "p90": None, "p99": None, "max": None, "count": 0}
    with pytest.raises(ValueError):
        res.percentile([], 50)


def test_p99_of_1000_is_the_990th() -> None:
    assert res.percentiles([float(i) for i in range(1000, 0, -1)])["p99"] == 990.0


@pytest.mark.parametrize(
    ("startup", "mutating", "want"),
    [
        (4.9, 0.5, (True, True)),
        (5.0, 1.0, (True, True)),  # the SLO is "<="
        (5.01, 1.01, (False, False)),
        (None, None, (False, False)),  # no evidence is not a pass
    ],
)
def test_slo(startup: float | None, mutating: float | None, want: tuple[bool, bool]) -> None:
    run = {
        "startup_latency_s": {"p99": startup},
        "api_latency_s": {"mutating": {"p99": mutating}},
        "created": 10,
        "running": 10,
        "broke": None,
    }
    verdict = res.slo(run)
    assert (verdict["startup_p99_ok"], verdict["mutating_p99_ok"]) == want
    assert verdict["all_running"] and verdict["nodes_stayed_ready"]
    assert res.meets_slos(run) == all(want)


def test_slo_of_an_empty_run() -> None:
    assert not any(res.slo({}).values())


def test_a_broken_point_or_pods_left_pending_fail_whatever_the_p99() -> None:
    good = {
        "startup_latency_s": {"p99": 1.0},
        "api_latency_s": {"mutating": {"p99": 0.1}},
        "created": 100,
        "running": 100,
        "broke": None,
    }
    assert res.meets_slos(good)
    pending = {**good, "running": 99}
    assert not res.slo(pending)["all_running"] and not res.meets_slos(pending)
    broke = {**good, "broke": "60 of 5000 nodes NotReady 40 s into the load"}
    assert not res.slo(broke)["nodes_stayed_ready"] and not res.meets_slos(broke)


def test_write_and_load_roundtrip(tmp_path) -> None:
    doc = {"schema": 1, "runs": [{"nodes": 10}]}
    path = res.write_results(tmp_path / "sub" / "r.json", doc)
    assert res.load_results(path) == doc
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temp file left behind


def test_write_replaces_atomically(tmp_path) -> None:
    path = tmp_path / "r.json"
    res.write_results(path, {"schema": 1, "runs": [1]})
    res.write_results(path, {"schema": 1, "runs": [2]})
    assert json.loads(path.read_text())["runs"] == [2]


def test_load_rejects_other_schema_and_non_objects(tmp_path) -> None:
    (tmp_path / "a.json").write_text('{"schema": 99}')
    (tmp_path / "b.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="schema 99"):
        res.load_results(tmp_path / "a.json")
    with pytest.raises(ValueError, match="JSON object"):
        res.load_results(tmp_path / "b.json")


def test_runs_of_accepts_a_single_run() -> None:
    assert res.runs_of({"runs": [{"nodes": 1}]}) == [{"nodes": 1}]
    assert res.runs_of({"nodes": 5}) == [{"nodes": 5}]


@pytest.mark.parametrize(
    ("flags", "kind"),
    [
        ({"router": True, "channel": True}, "compiled"),
        ({"router": False, "channel": False}, "pure"),
        ({"router": True, "channel": False}, "mixed"),
    ],
)
def test_core_kind(flags: dict[str, bool], kind: str) -> None:
    assert res.core_kind(flags) == kind


def test_core_kind_follows_the_loaded_twins() -> None:
    import kedge._core.router as router

    flags = res.core_flags()
    assert set(flags) == set(res.CORE_MODULES)
    assert flags["router"] is router.COMPILED
    assert res.core_kind() == res.core_kind(flags)


def test_new_results_has_the_facts() -> None:
    doc = res.new_results()
    assert doc["schema"] == res.SCHEMA and doc["runs"] == []
    assert doc["core"] in ("compiled", "pure", "mixed")
    for key in ("cpu", "cores", "memory_mb", "kernel", "python", "loop"):
        assert key in doc["machine"]
    assert set(doc["git"]) == {"commit", "dirty"}
    json.dumps(doc)  # serialisable as is


def test_git_info_outside_a_checkout(tmp_path) -> None:
    assert res.git_info(tmp_path) == {"commit": None, "dirty": False}


def point(nodes: int, p99: float, broke: str | None = None, running: int | None = None) -> dict:
    return {
        "nodes": nodes,
        "pods": nodes * 10,
        "created": nodes * 10,
        "running": nodes * 10 if running is None else running,
        "broke": broke,
        "startup_latency_s": {"p50": 1.0, "p90": 2.0, "p99": p99},
        "api_latency_s": {"mutating": {"p99": 0.2}},
    }


def test_the_summary_names_the_largest_point_meeting_the_slos_and_the_first_broken() -> None:
    runs = [
        point(5000, 30.0, broke="60 of 5000 nodes NotReady 40 s into the load"),
        point(1000, 2.0),
        point(2500, 17.0, running=24660),
        point(2000, 3.6),
        {"nodes": 10000, "pods": 100000, "error": "4000 of 10000 nodes Ready after 900 s"},
    ]
    assert res.summary(runs) == {"largest_meeting_slos": 2000, "smallest_broken": 5000}
    lines = res.summary_table(runs).splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["1000", "2000", "2500", "5000", "10000"]
    assert lines[2].endswith("meets the SLOs") and "1.00/2.00/3.60" in lines[2]
    assert "misses: startup_p99_ok, all_running" in lines[3] and "24660/25000" in lines[3]
    assert "broke: 60 of 5000 nodes NotReady" in lines[4]
    assert "failed: 4000 of 10000 nodes Ready" in lines[5]
    assert res.summary([]) == {"largest_meeting_slos": None, "smallest_broken": None}
