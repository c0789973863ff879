"""The virtual counter: ON counts whole seconds, OFF keeps the count; which devices it takes."""

from __future__ import annotations

import pytest

from kedge.mapper.counter import Counter, CounterDriver
from kedge.mapper.driver import PropertyError
from kedge.mapper.entries import DeviceEntry, PropertyEntry

STATUS = PropertyEntry("status")


def test_counter_counts_seconds_while_on() -> None:
    c = Counter()
    assert c.value(0.0) == 0
    c.start(10.0)
    assert [c.value(t) for t in (10.0, 10.99, 11.0, 12.5, 13.0)] == [0, 0, 1, 2, 3]
    c.start(12.0)  # ON again while running: nothing changes
    assert c.value(13.0) == 3
    c.stop(13.7)
    assert c.value(100.0) == 3 and not c.running
    c.stop(200.0)
    assert c.value(300.0) == 3
    c.start(300.0)
    assert c.value(302.0) == 5  # continues from the kept count
    assert c.value(299.0) == 3  # a clock read before the start never counts down


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_driver_reads_and_writes_status() -> None:
    clock = Clock()
    d = CounterDriver(clock)
    await d.connect(DeviceEntry("default/counter", "counter", "default"))
    assert await d.read(STATUS) == "0"
    await d.write(STATUS, "ON")
    clock.now = 2.5
    assert await d.read(STATUS) == "2"
    await d.write(STATUS, " off ")
    clock.now = 9.0
    assert await d.read(STATUS) == "2"
    with pytest.raises(PropertyError, match="status must be ON or OFF, got 'START'"):
        await d.write(STATUS, "START")
    with pytest.raises(PropertyError, match="only the property status, not temp"):
        await d.read(PropertyEntry("temp"))
    with pytest.raises(PropertyError, match="only the property status"):
        await d.write(PropertyEntry("temp"), "ON")
    await d.close()
    await d.close()


def test_claims() -> None:
    with_status = (STATUS,)
    assert CounterDriver.claims(DeviceEntry("a/b", "b", "a", "virtualProtocol"), "virtualProtocol")
    assert not CounterDriver.claims(
        DeviceEntry("a/b", "b", "a", "modbus", properties=with_status), "virtualProtocol"
    )
    # KubeEdge's counter example has no protocol: taken when it has a status property
    assert CounterDriver.claims(DeviceEntry("a/b", "b", "a", properties=with_status), "virtualProtocol")
    assert not CounterDriver.claims(
        DeviceEntry("a/b", "b", "a", properties=(PropertyEntry("x"),)), "virtualProtocol"
    )
    # a mapper configured for another protocol name takes that one
    assert CounterDriver.claims(DeviceEntry("a/b", "b", "a", "demo"), "demo")
