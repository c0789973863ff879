import random

import pytest

from kedge.aio.backoff import Backoff


def test_exponential_then_capped_without_jitter() -> None:
    b = Backoff(1.0, 2.0, 10.0, jitter=0)
    assert [b.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert b.attempt == 6
    b.reset()
    assert b.next_delay() == 1.0


def test_jitter_stays_in_band_and_is_reproducible() -> None:
    a = Backoff(1.0, 2.0, 30.0, jitter=0.2, rng=random.Random(7))
    b = Backoff(1.0, 2.0, 30.0, jitter=0.2, rng=random.Random(7))
    da = [a.next_delay() for _ in range(10)]
    assert da == [b.next_delay() for _ in range(10)]
    for i, d in enumerate(da):
        base = min(30.0, 2.0**i)
        assert base * 0.8 <= d <= min(30.0, base * 1.2)
    assert len(set(da)) > 5  # jitter actually varies the delays


@pytest.mark.parametrize("kw", [{"initial": -1}, {"factor": 0.5}, {"initial": 5, "cap": 1}, {"jitter": 1.0}])
def test_invalid_parameters(kw: dict) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(**kw)
