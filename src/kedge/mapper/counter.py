"""The virtual counter of KubeEdge's counter demo: a device with one property, `status`.

Desired `ON` starts a counter that goes up by one every second, `OFF` stops it (the count is kept);
reading `status` gives the count, so the count is what the device reports (`kubectl get device counter`
shows it rising). The count is computed from the clock, not ticked by a task, so reads are exact.

It takes devices whose protocolName is `virtualProtocol`, and also those with no protocol at all that
have a `status` property: KubeEdge's counter example (v1alpha2 YAML) declares no protocol.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kedge.mapper.driver import Driver, PropertyError
from kedge.mapper.entries import DeviceEntry, PropertyEntry

STATUS = "status"
ON, OFF = "ON", "OFF"


class Counter:
    """Counts whole seconds while running (pure: time passed in)."""

    __slots__ = ("_base", "_since", "running")

    def __init__(self) -> None:
        self.running = False
        self._base = 0
        self._since = 0.0

    def start(self, now: float) -> None:
        if not self.running:
            self.running = True
            self._since = now

    def stop(self, now: float) -> None:
        if self.running:
            self._base = self.value(now)
            self.running = False

    def value(self, now: float) -> int:
        if not self.running:
            return self._base
        return self._base + max(0, int(now - self._since))


class CounterDriver(Driver):
    protocol = "virtualProtocol"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.counter = Counter()
        self._clock = clock

    @classmethod
    def claims(cls, device: DeviceEntry, protocol: str) -> bool:
        if device.protocol_name:
            return device.protocol_name == protocol
        return device.prop(STATUS) is not None

    async def connect(self, device: DeviceEntry) -> None:
        pass  # nothing to reach: the counter lives in this process

    async def read(self, prop: PropertyEntry) -> str:
        self._check(prop)
        return str(self.counter.value(self._clock()))

    async def write(self, prop: PropertyEntry, value: str) -> None:
        self._check(prop)
        wanted = value.strip().upper()
        if wanted == ON:
            self.counter.start(self._clock())
        elif wanted == OFF:
            self.counter.stop(self._clock())
        else:
            raise PropertyError("the counter's status must be ON or OFF, got %r" % value)

    async def close(self) -> None:
        pass

    @staticmethod
    def _check(prop: PropertyEntry) -> None:
        if prop.name != STATUS:
            raise PropertyError("the virtual counter has only the property status, not %s" % prop.name)
