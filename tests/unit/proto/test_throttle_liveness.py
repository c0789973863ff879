"""kedge.proto.throttle (edge upstream token bucket) and kedge.proto.liveness (keepalive sweep)."""

from __future__ import annotations

from collections import OrderedDict

import pytest

from kedge.proto.liveness import Liveness
from kedge.proto.throttle import TokenBucket

# -- TokenBucket -------------------------------------------------------------------------------------


def test_burst_is_available_at_once_then_rate_limits() -> None:
    b = TokenBucket(rate=10, burst=5, now=0.0)
    assert b.allowance(0.0, 8) == 5
    assert b.allowance(0.0, 8) == 0
    assert b.wait_time(0.0) == pytest.approx(0.1)
    assert b.allowance(0.1, 8) == 1
    assert b.allowance(0.35, 8) == 2  # 0.25 s at 10/s = 2.5 tokens


def test_refill_never_exceeds_burst() -> None:
    b = TokenBucket(rate=100, burst=3, now=0.0)
    b.allowance(0.0, 3)
    assert b.allowance(1000.0, 50) == 3


def test_allowance_takes_only_what_is_asked() -> None:
    b = TokenBucket(rate=1, burst=10, now=0.0)
    assert b.allowance(0.0, 2) == 2
    assert b.allowance(0.0, 100) == 8


def test_wait_time_is_zero_with_a_token_and_counts_the_fraction_missing() -> None:
    b = TokenBucket(rate=4, burst=1, now=0.0)
    assert b.wait_time(0.0) == 0.0
    assert b.allowance(0.0, 1) == 1
    assert b.wait_time(0.125) == pytest.approx(0.125)  # half a token there, half missing at 4/s
    assert b.wait_time(0.25) == 0.0


def test_burst_below_one_still_lets_one_message_through() -> None:
    b = TokenBucket(rate=2, burst=0, now=0.0)
    assert b.burst == 1.0
    assert b.allowance(0.0, 5) == 1


def test_rate_zero_is_unlimited() -> None:
    b = TokenBucket(rate=0, burst=0, now=0.0)
    assert b.allowance(0.0, 10_000) == 10_000
    assert b.allowance(0.0, 10_000) == 10_000
    assert b.wait_time(0.0) == 0.0


def test_time_going_backwards_adds_no_tokens() -> None:
    b = TokenBucket(rate=1, burst=5, now=10.0)
    b.allowance(10.0, 5)
    assert b.allowance(5.0, 5) == 0
    assert b.allowance(10.0, 5) == 0  # the clock only came back to where it was


@pytest.mark.parametrize(("rate", "burst"), [(-1, 5), (5, -1)])
def test_negative_parameters_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="rate and burst must be >= 0"):
        TokenBucket(rate, burst, 0.0)


def test_long_run_rate_matches_the_setting() -> None:
    b = TokenBucket(rate=30, burst=60, now=0.0)
    sent = sum(b.allowance(i * 0.01, 1000) for i in range(1001))  # 10 s, asking every 10 ms
    assert 60 + 300 - 1 <= sent <= 60 + 300


# -- Liveness ----------------------------------------------------------------------------------------


def test_expired_returns_silent_keys_in_last_heard_order() -> None:
    lv: Liveness[str] = Liveness(timeout=30)
    lv.touch("a", 0.0)
    lv.touch("b", 5.0)
    lv.touch("c", 10.0)
    assert lv.expired(30.0) == []  # exactly timeout: not yet
    assert lv.expired(36.0) == ["a", "b"]
    assert len(lv) == 1
    assert lv.expired(36.0) == []  # removed once reported
    assert lv.expired(100.0) == ["c"]
    assert len(lv) == 0


def test_touch_moves_a_key_to_the_end() -> None:
    lv: Liveness[str] = Liveness(timeout=10)
    lv.touch("a", 0.0)
    lv.touch("b", 1.0)
    lv.touch("a", 5.0)
    assert lv.expired(12.0) == ["b"]
    assert lv.expired(16.0) == ["a"]


def test_remove_forgets_a_key() -> None:
    lv: Liveness[int] = Liveness(timeout=1)
    lv.touch(1, 0.0)
    lv.remove(1)
    lv.remove(2)  # unknown keys are fine
    assert lv.expired(100.0) == []


def test_sweep_stops_at_the_first_live_key() -> None:
    """O(expired): the sweep looks at the expired keys and one more, however many are alive."""

    class Counting(OrderedDict):
        looked = 0

        def items(self):  # the sweep peeks at the front entry through items()
            Counting.looked += 1
            return super().items()

    lv: Liveness[int] = Liveness(timeout=10)
    for i in range(10_000):
        lv.touch(i, 100.0 + i)
    lv._heard = Counting(lv._heard)
    assert lv.expired(113.5) == [0, 1, 2, 3]
    assert Counting.looked == 5
    assert len(lv) == 9_996
