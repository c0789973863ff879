"""A device worker on virtual time (looptime): what it publishes when, desired values applied and read back,
the device going away and coming back, a failing device not stopping another. No sockets: publishes are
recorded; the devices are in-memory drivers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from kedge.aio.backoff import Backoff
from kedge.mapper.counter import CounterDriver
from kedge.mapper.driver import DeviceUnavailable, Driver, PropertyError
from kedge.mapper.entries import DeviceEntry, PropertyEntry
from kedge.mapper.worker import DeviceWorker

pytestmark = pytest.mark.looptime


class Edge:
    """Stands where the MQTT session is: records what the worker publishes; `up` False drops it."""

    def __init__(self) -> None:
        self.up = True
        self.sent: list[tuple[float, str, dict[str, Any]]] = []

    async def publish(self, topic: str, payload: bytes, qos: int) -> bool:
        if self.up:
            self.sent.append((asyncio.get_running_loop().time(), topic, json.loads(payload)))
        return self.up

    def of(self, suffix: str) -> list[dict[str, Any]]:
        return [b for _, t, b in self.sent if t.endswith("/" + suffix)]

    def reports(self, prop: str) -> list[tuple[float, str]]:
        return [
            (at, b["twin"][prop]["actual"]["value"])
            for at, t, b in self.sent
            if t.endswith("/twin/update") and prop in b["twin"]
        ]

    def states(self) -> list[str]:
        return [b["state"] for b in self.of("state/update")]


def counter_entry(desired: str | None = None) -> DeviceEntry:
    return DeviceEntry(
        "default/counter",
        "counter",
        "default",
        "virtualProtocol",
        properties=(PropertyEntry("status"),),
        desired={} if desired is None else {"status": desired},
    )


async def test_counter_worker_reports_each_cycle_and_applies_deltas() -> None:
    loop = asyncio.get_running_loop()
    edge = Edge()
    w = DeviceWorker(counter_entry("OFF"), CounterDriver(loop.time), edge.publish, get_retry=5)
    w.start()
    try:
        await asyncio.sleep(3.5)
        assert edge.states() == ["online"]
        assert [v for _, v in edge.reports("status")] == ["0"] * 4  # at 0, 1, 2, 3 s
        [get] = edge.of("twin/get")
        assert w.on_get_result("someone-else", {"status": "ON"}) is False
        assert w.on_get_result(get["event_id"], {"status": "OFF"}) is True  # as already written: no write
        await asyncio.sleep(0)
        t0 = loop.time()
        w.on_delta({"status": "ON"})
        await asyncio.sleep(0.01)
        at, value = edge.reports("status")[-1]
        assert (at, value) == (t0, "0")  # written, read back and reported at once
        await asyncio.sleep(4)  # ON at 3.5: reports at 4, 5, 6, 7 show 0, 1, 2, 3
        values = [int(v) for at, v in edge.reports("status") if at > t0]
        assert values == [0, 1, 2, 3]
        t1 = loop.time()
        w.on_delta({"status": "OFF"})
        await asyncio.sleep(5)
        after = [v for at, v in edge.reports("status") if at >= t1]
        assert len(after) == 6 and set(after) == {"4"}  # the read-back at 7.5, then 8..12: stopped at 4
        assert w.state == "online" and edge.states() == ["online"]
    finally:
        await w.stop()


async def test_bad_desired_value_makes_the_device_unhealthy_until_fixed() -> None:
    loop = asyncio.get_running_loop()
    edge = Edge()
    w = DeviceWorker(counter_entry(), CounterDriver(loop.time), edge.publish)
    w.start()
    try:
        await asyncio.sleep(0.5)
        w.on_delta({"status": "START"})
        await asyncio.sleep(0.5)
        assert edge.states() == ["online", "unhealthy"]
        w.on_delta({"status": "ON"})
        await asyncio.sleep(0.5)
        assert edge.states() == ["online", "unhealthy", "online"]
        w.on_delta({"nope": "1"})  # no such property: logged, nothing else
        await asyncio.sleep(0.5)
        assert edge.states()[-1] == "online"
    finally:
        await w.stop()


async def test_twin_get_repeated_until_answered_and_resync() -> None:
    loop = asyncio.get_running_loop()
    edge = Edge()
    edge.up = False  # the broker is away: nothing goes out, nothing is lost for good
    w = DeviceWorker(counter_entry(), CounterDriver(loop.time), edge.publish, get_retry=5)
    w.start()
    try:
        await asyncio.sleep(2)
        assert edge.sent == []
        edge.up = True
        w.resync()  # what the mapper does after reconnecting
        await asyncio.sleep(0.01)
        assert edge.states() == ["online"] and len(edge.of("twin/get")) == 1
        await asyncio.sleep(5)
        gets = edge.of("twin/get")
        assert len(gets) == 2 and gets[0]["event_id"] != gets[1]["event_id"]  # asked again after 5 s
        assert w.on_get_result(gets[0]["event_id"], {}) is False  # the stale answer is not ours any more
        assert w.on_get_result(gets[1]["event_id"], {"status": "ON"}) is True
        await asyncio.sleep(20)
        assert len(edge.of("twin/get")) == 2
        assert edge.reports("status")[-1][1] == "19"
        w.resync()
        await asyncio.sleep(0.01)
        assert edge.states() == ["online", "online"] and len(edge.of("twin/get")) == 3
    finally:
        await w.stop()


class Device:
    """An in-memory device that can be unplugged."""

    def __init__(self) -> None:
        self.reachable = True
        self.registers: dict[str, str] = {"level": "5", "speed": "0"}
        self.writes: list[tuple[str, str]] = []


class MemoryDriver(Driver):
    protocol = "memory"

    def __init__(self, device: Device) -> None:
        self.device = device
        self.open = False
        self.closes = 0

    async def connect(self, device: DeviceEntry) -> None:
        if not self.device.reachable:
            raise DeviceUnavailable("no route to the device")
        self.open = True

    def _check(self) -> None:
        if not (self.open and self.device.reachable):
            raise DeviceUnavailable("the device stopped answering")

    async def read(self, prop: PropertyEntry) -> str:
        self._check()
        if prop.name == "broken":
            raise RuntimeError("driver bug")
        return self.device.registers[prop.name]

    async def write(self, prop: PropertyEntry, value: str) -> None:
        self._check()
        if not value.isdigit():
            raise PropertyError("not a number: %r" % value)
        self.device.registers[prop.name] = value
        self.device.writes.append((prop.name, value))

    async def close(self) -> None:
        self.open = False
        self.closes += 1


def memory_entry(name: str, *props: str) -> DeviceEntry:
    return DeviceEntry(
        "default/" + name,
        name,
        "default",
        "memory",
        properties=tuple(
            PropertyEntry(p, type="int", access_mode="ReadOnly" if p == "level" else "ReadWrite")
            for p in props
        ),
        desired={"speed": "7", "level": "9"},
    )


async def test_device_away_and_back_and_a_broken_neighbour() -> None:
    edge, other = Edge(), Edge()
    dev = Device()
    dev.reachable = False
    drv = MemoryDriver(dev)
    w = DeviceWorker(
        memory_entry("pump", "level", "speed"), drv, edge.publish, backoff=Backoff(1, 2, 4, jitter=0)
    )
    broken = DeviceWorker(
        memory_entry("bad", "broken"),
        MemoryDriver(Device()),
        other.publish,
        backoff=Backoff(1, 2, 4, jitter=0),
    )
    w.start()
    broken.start()
    try:
        await asyncio.sleep(6.5)  # connect attempts at 0, 1, 3 (backoff 1, 2, 4)
        assert edge.states() == ["offline"] and edge.reports("speed") == []
        assert drv.closes >= 3
        dev.reachable = True
        await asyncio.sleep(1)
        assert edge.states() == ["offline", "online"]
        assert dev.writes == [("speed", "7")]  # the read-write property's desired value; level is read-only
        assert edge.reports("speed")[0][1] == "7" and edge.reports("level")[-1][1] == "5"
        dev.reachable = False
        await asyncio.sleep(1)
        assert edge.states()[-1] == "offline"
        w.on_delta({"speed": "8"})  # arrives while the device is away: applied when it is back
        dev.reachable = True
        await asyncio.sleep(2)
        assert edge.states()[-1] == "online"
        assert dev.writes[-1] == ("speed", "8") and edge.reports("speed")[-1][1] == "8"
        # the neighbour whose driver fails unexpectedly goes offline and retries; it never stopped this one
        assert "offline" in other.states() and other.reports("broken") == []
    finally:
        await w.stop()
        await broken.stop()
    assert not drv.open
