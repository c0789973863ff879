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
        (4.9, 0.5, {"startup_p99_ok": True, "mutating_p99_ok": True}),
        (5.0, 1.0, {"startup_p99_ok": True, "mutating_p99_ok": True}),  # the SLO is "<="
        (5.01, 1.01, {"startup_p99_ok": False, "mutating_p99_ok": False}),
        (None, None, {"startup_p99_ok": False, "mutating_p99_ok": False}),  # no evidence is not a pass
    ],
)
def test_slo(startup: float | None, mutating: float | None, want: dict[str, bool]) -> None:
    run = {
        "startup_latency_s": {"p99": startup},
        "api_latency_s": {"mutating": {"p99": mutating}},
    }
    assert res.slo(run) == want


def test_slo_of_an_empty_run() -> None:
    assert res.slo({}) == {"startup_p99_ok": False, "mutating_p99_ok": False}


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
