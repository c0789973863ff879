"""One device served by one driver: connect, apply desired values, read and report on the cycles.

A worker is one task, so its driver is never called concurrently. It

- connects the driver, reporting `state/update` online, or offline and retrying with backoff while the
  device cannot be reached (a device failing affects no other worker);
- asks the edge for the device's twins (`twin/get`, repeated until answered) and writes the desired
  values of its read-write properties; after every reconnect of the device it writes them again;
- reads each property every collectCycle and reports the latest values every reportCycle (schedule.py);
- on a delta writes the new desired value, reads the property back and reports it at once, so the
  cloud sees the effect without waiting for the next report cycle;
- reports `unhealthy` while a property cannot be read or written (PropertyError), `online` again once
  they all work.
Publishing goes through the mapper's MQTT session; while the broker is away publishes are dropped and
`resync()` (called on reconnect) sends the state and the twin/get again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from kedge.aio.backoff import Backoff
from kedge.aio.tasks import cancel_and_wait
from kedge.mapper import messages
from kedge.mapper.driver import DeviceUnavailable, Driver, PropertyError
from kedge.mapper.entries import DeviceEntry
from kedge.mapper.schedule import Cycles

log = logging.getLogger(__name__)

#: publish(topic, payload, qos) -> whether it went out (False while the broker is away)
Publish = Callable[[str, bytes, int], Awaitable[bool]]

ONLINE, OFFLINE, UNHEALTHY, UNKNOWN = "online", "offline", "unhealthy", "unknown"


def now_ms() -> int:
    return int(time.time() * 1000)


class DeviceWorker:
    def __init__(
        self,
        entry: DeviceEntry,
        driver: Driver,
        publish: Publish,
        *,
        backoff: Backoff | None = None,
        get_retry: float = 5.0,
        close_timeout: float = 5.0,
    ) -> None:
        self.entry = entry
        self.driver = driver
        self.props = {p.name: p for p in entry.properties if driver.handles(p)}
        skipped = [p.name for p in entry.properties if p.name not in self.props]
        if skipped:
            log.info("device %s: not served by this driver (no visitor): %s", entry.id, ", ".join(skipped))
        self._publish = publish
        self.backoff = backoff or Backoff(1.0, 2.0, 30.0)
        self.get_retry = get_retry
        self.close_timeout = close_timeout
        self.desired: dict[str, str] = self._writable(entry.desired)
        self.state = UNKNOWN
        self.connected = False
        self.cycles: Cycles | None = None
        self._reported_state: str | None = None
        self._pending: dict[str, str] = {}
        self._written: dict[str, str] = {}
        self._problems: dict[tuple[str, str], str] = {}
        self._last_error = ""
        self._need_get = True
        self._get_event: str | None = None
        self._get_sent = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return self.entry.id

    # -- control (from the mapper's MQTT reader) ---------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mapper device %s" % self.id)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task], timeout=self.close_timeout + 1, title="device %s" % self.id)
            self._task = None

    def resync(self) -> None:
        """The MQTT session is new: send the state and ask for the twins again."""
        self._reported_state = None
        self._need_get = True
        self._wake.set()

    def on_delta(self, values: dict[str, str]) -> None:
        self.desired.update(self._writable(values))  # kept, and written again after a reconnect
        self._pending.update(values)  # all of them: what cannot be written is logged
        self._wake.set()

    def on_get_result(self, event_id: str, desired: dict[str, str] | None) -> bool:
        """The answer to this worker's twin/get (None: the edge answered with an error); answers to
        others' requests are ignored (False)."""
        if event_id != self._get_event:
            return False
        self._get_event = None
        if desired is None:
            return True
        self.desired = self._writable(desired)
        self._pending.update({k: v for k, v in self.desired.items() if self._written.get(k) != v})
        self._wake.set()
        return True

    def _writable(self, values: dict[str, str]) -> dict[str, str]:
        """Desired values the driver should write: those of known read-write properties."""
        out = {}
        for name, value in values.items():
            prop = self.props.get(name)
            if prop is not None and prop.writable:
                out[name] = value
        return out

    # -- the task ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                await self._service()
                try:
                    await self.driver.connect(self.entry)
                except Exception as e:  # any driver failure: the device is offline, the others go on
                    self._note_error("cannot connect", e)
                    self.state = OFFLINE
                    await self._close_driver()
                    await self._idle(self.backoff.next_delay())
                    continue
                self.backoff.reset()
                log.info("device %s: connected", self.id)
                try:
                    await self._serve()
                except Exception as e:
                    self._note_error("went offline", e)
                self.connected = False
                self.state = OFFLINE
                await self._close_driver()
                await self._idle(self.backoff.next_delay())
        finally:
            self.connected = False
            await self._close_driver()

    def _note_error(self, what: str, e: Exception) -> None:
        text = str(e) or type(e).__name__
        if isinstance(e, DeviceUnavailable | PropertyError) or type(e).__module__.startswith("kedge."):
            detail = text
        else:
            detail = "%s: %s" % (type(e).__name__, text)
        level = logging.WARNING if detail != self._last_error else logging.DEBUG
        log.log(level, "device %s: %s: %s (retrying with backoff)", self.id, what, detail)
        self._last_error = detail

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.connected = True
        self._written.clear()
        self._problems.clear()
        self._pending = dict(self.desired)  # a device may have lost them while away
        self.state = ONLINE
        cycles = self.cycles = Cycles(self.props.values(), loop.time())
        first = True
        while True:
            await self._service()
            if self._pending:
                await self._apply(report=not first)  # the first cycle's reads report at once anyway
            first = False
            for name in cycles.due_reads(loop.time()):
                await self._read(name)
            values = cycles.due_report(loop.time())
            if values:
                await self._report(values)
            self._last_error = ""  # a whole cycle went through: the next failure is news again
            self.state = UNHEALTHY if self._problems else ONLINE
            await self._service()
            await self._wait(min(cycles.next_due(), self._next_service()))

    async def _apply(self, *, report: bool = True) -> None:
        pending, self._pending = self._pending, {}
        written = []
        for name, value in pending.items():
            prop = self.props.get(name)
            if prop is None:
                log.warning(
                    "device %s: no property %s here; desired value %r not applied", self.id, name, value
                )
                continue
            if not prop.writable:
                log.warning(
                    "device %s: property %s is read-only; desired value %r not written", self.id, name, value
                )
                continue
            try:
                await self.driver.write(prop, value)
            except PropertyError as e:
                self._problem(("write", name), "cannot write %s = %r: %s" % (name, value, e))
                continue
            self._problems.pop(("write", name), None)
            self._written[name] = value
            written.append(name)
            log.info("device %s: %s set to %r", self.id, name, value)
        if not report:
            return
        values = {}
        for name in written:  # read back and report at once
            value = await self._read(name)
            if value is not None:
                values[name] = value
        if values:
            await self._report(values)

    async def _read(self, name: str) -> str | None:
        prop = self.props[name]
        assert self.cycles is not None
        try:
            value = await self.driver.read(prop)
        except PropertyError as e:
            self._problem(("read", name), "cannot read %s: %s" % (name, e))
            return None
        self._problems.pop(("read", name), None)
        value = value if isinstance(value, str) else str(value)
        self.cycles.record(name, value)
        return value

    def _problem(self, key: tuple[str, str], text: str) -> None:
        if self._problems.get(key) != text:
            log.warning("device %s: %s", self.id, text)
        self._problems[key] = text

    async def _report(self, values: dict[str, str]) -> None:
        typed = {}
        for name, value in values.items():
            typed[name] = (value, self.props[name].type)
        topic = messages.device_topic(self.id, messages.TWIN_UPDATE)
        await self._publish(topic, messages.twin_update(typed, now_ms()), 0)

    # -- talking to the edge, waiting --------------------------------------------------------------

    async def _service(self) -> None:
        """Send what the edge should hear: a changed state, a twin/get not sent or not answered."""
        if self._reported_state != self.state and self.state != UNKNOWN:
            state = self.state
            topic = messages.device_topic(self.id, messages.STATE_UPDATE)
            if await self._publish(topic, messages.state_update(state, now_ms()), 1):
                self._reported_state = state
                log.info("device %s: %s", self.id, state)
        now = asyncio.get_running_loop().time()
        if self._need_get or (self._get_event is not None and now - self._get_sent >= self.get_retry):
            event_id = messages.new_event_id()
            topic = messages.device_topic(self.id, messages.TWIN_GET)
            if await self._publish(topic, messages.request(event_id, now_ms()), 1):
                if self._get_event is not None:
                    log.debug("device %s: no twin/get answer yet; asking again", self.id)
                self._get_event = event_id
                self._get_sent = now
                self._need_get = False

    def _next_service(self) -> float:
        return self._get_sent + self.get_retry if self._get_event is not None else float("inf")

    async def _wait(self, until: float) -> None:
        """Until `until` (loop time) or until woken (delta, twins, resync)."""
        if not self._wake.is_set():
            timeout = until - asyncio.get_running_loop().time()
            if timeout > 0:
                try:
                    async with asyncio.timeout(None if timeout == float("inf") else timeout):
                        await self._wake.wait()
                except TimeoutError:
                    pass
        self._wake.clear()

    async def _idle(self, delay: float) -> None:
        """Wait `delay` s while the device is away, still answering resyncs and repeating twin/get."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while True:
            await self._service()
            if loop.time() >= deadline:
                return
            await self._wait(min(deadline, self._next_service()))

    async def _close_driver(self) -> None:
        try:
            async with asyncio.timeout(self.close_timeout):
                await self.driver.close()
        except Exception as e:
            log.debug("device %s: closing the driver failed: %r", self.id, e)
