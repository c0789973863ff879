"""Coalescer: the first offer goes at once, later ones fold into one send per interval."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedge.proto.coalesce import Coalescer


def test_first_offer_goes_at_once_then_folds() -> None:
    c: Coalescer[str] = Coalescer(1.0)
    assert c.offer("a", 0.0)
    assert not c.offer("a", 0.1)
    assert not c.offer("a", 0.5)  # still one pending send
    assert c.pending() == 1
    assert c.next_deadline() == 1.0
    assert c.due(0.99) == []
    assert c.due(1.0) == ["a"]
    assert c.pending() == 0
    # the send at 1.0 starts a new interval
    assert not c.offer("a", 1.5)
    assert c.due(2.0) == ["a"]


def test_quiet_key_goes_at_once_again() -> None:
    c: Coalescer[str] = Coalescer(1.0)
    assert c.offer("a", 0.0)
    assert c.offer("a", 1.0)
    assert c.offer("a", 5.0)


def test_keys_are_independent() -> None:
    c: Coalescer[str] = Coalescer(1.0)
    assert c.offer("a", 0.0)
    assert c.offer("b", 0.2)
    assert not c.offer("a", 0.3)
    assert not c.offer("b", 0.4)
    assert c.due(1.0) == ["a"]
    assert c.due(1.2) == ["b"]


def test_forget_cancels_pending() -> None:
    c: Coalescer[str] = Coalescer(1.0)
    c.offer("a", 0.0)
    c.offer("a", 0.5)
    c.forget("a")
    assert c.next_deadline() is None
    assert c.due(10.0) == []
    assert c.offer("a", 10.0)


def test_negative_interval_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        Coalescer(-1)


@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 0.5)), max_size=60))
def test_at_most_one_send_per_interval(offers: list[tuple[str, float]]) -> None:
    c: Coalescer[str] = Coalescer(1.0)
    now = 0.0
    sends: dict[str, list[float]] = {}
    for key, step in offers:
        now += step
        for k in c.due(now):
            sends.setdefault(k, []).append(now)
        if c.offer(key, now):
            sends.setdefault(key, []).append(now)
    for times in sends.values():
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times))
    # nothing offered is lost: every pending key becomes due
    end = now + 2.0
    c.due(end)
    assert c.pending() == 0
