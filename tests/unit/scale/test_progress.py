"""Progress: bars only on a terminal unless forced, plain lines elsewhere, absolute update_to, silent
when disabled."""

import io

import pytest
from bench.scale import progress


def test_enabled_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEDGE_PROGRESS", raising=False)
    assert progress.enabled(io.StringIO()) is False  # not a TTY
    assert progress.enabled(io.StringIO(), force=True) is True
    monkeypatch.setenv("KEDGE_PROGRESS", "1")
    assert progress.enabled(io.StringIO()) is True
    monkeypatch.setenv("KEDGE_PROGRESS", "0")
    assert progress.enabled(io.StringIO()) is False
    assert progress.enabled(io.StringIO(), force=True) is True


def test_forced_bar_draws_to_its_stream() -> None:
    pytest.importorskip("tqdm")
    out = io.StringIO()
    with progress.Progress(10, "nodes Ready", force=True, stream=out) as bar:
        bar.update_to(4)
        bar.update_to(3)  # counts only go up
        bar.update_to(10)
        bar.set_postfix(rss="1 MB")
        assert bar.n == 10
    text = out.getvalue()
    assert "nodes Ready" in text and "10/10" in text


def test_disabled_bar_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEDGE_PROGRESS", "0")
    out = io.StringIO()
    with progress.Progress(5, "pods Running", stream=out) as bar:
        bar.update_to(5)
        bar.set_postfix(x=1)
    assert bar.n == 5 and out.getvalue() == ""


def test_without_a_terminal_a_line_every_period_and_one_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEDGE_PROGRESS", raising=False)
    now = [0.0]
    out = io.StringIO()
    with progress.Progress(100, "pods Running", stream=out, clock=lambda: now[0], every=30) as bar:
        bar.update_to(10)  # before the first period: nothing
        now[0] = 31
        bar.update_to(40)
        now[0] = 40
        bar.update_to(50)  # within the next period: nothing
        now[0] = 45
        bar.update_to(60)
    assert out.getvalue().splitlines() == ["pods Running: 40/100", "pods Running: 60/100"]
