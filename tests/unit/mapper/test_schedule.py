"""Collect and report cycles, time passed in."""

from __future__ import annotations

from kedge.mapper.entries import PropertyEntry
from kedge.mapper.schedule import Cycles

FAST = PropertyEntry("fast", collect_cycle=0.5, report_cycle=1.0)
SLOW = PropertyEntry("slow", collect_cycle=2.0, report_cycle=2.0)


def test_everything_due_at_start_then_on_its_own_cycle() -> None:
    c = Cycles([FAST, SLOW], now=100.0)
    assert c.due_reads(100.0) == ["fast", "slow"]
    assert c.due_report(100.0) == {}  # nothing read yet: nothing to report
    c.record("fast", "1")
    c.record("slow", "a")
    assert c.next_due() == 100.5
    assert c.due_reads(100.4) == []
    assert c.due_reads(100.5) == ["fast"]
    assert c.due_report(100.5) == {}  # the first reports were due at 100 and came out empty
    assert c.due_report(101.0) == {"fast": "1"}
    assert c.due_reads(101.0) == ["fast"]
    assert c.due_reads(102.0) == ["fast", "slow"]
    assert c.due_report(102.0) == {"fast": "1", "slow": "a"}
    assert c.latest("slow") == "a" and c.latest("nope") is None


def test_first_values_reported_in_the_same_tick() -> None:
    c = Cycles([FAST], now=0.0)
    for name in c.due_reads(0.0):
        c.record(name, "7")
    assert c.due_report(0.0) == {"fast": "7"}
    assert c.due_report(0.9) == {}
    c.record("fast", "8")
    assert c.due_report(1.0) == {"fast": "8"}  # every cycle reports the latest value, changed or not
    assert c.due_report(2.0) == {"fast": "8"}


def test_a_stall_does_not_burst() -> None:
    c = Cycles([PropertyEntry("p", collect_cycle=0.5, report_cycle=60)], now=0.0)
    c.due_reads(0.0)
    c.due_report(0.0)
    assert c.due_reads(10.2) == ["p"]  # 20 missed cycles: one read
    assert c.due_reads(10.3) == []
    assert c.next_due() == 10.7  # a whole cycle after the late read
    assert c.due_reads(10.7) == ["p"]
    assert c.due_reads(11.2) == ["p"]  # back on the regular grid


def test_unknown_names_and_no_properties() -> None:
    c = Cycles([], now=0.0)
    c.record("x", "1")
    assert c.due_reads(5.0) == [] and c.due_report(5.0) == {}
    assert c.next_due() == float("inf")
    c = Cycles(iter([FAST]), now=0.0)  # any iterable
    assert c.due_reads(0.0) == ["fast"]
