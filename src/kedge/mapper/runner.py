"""The mapper: one MQTT session with the edge's broker and a worker per device it serves.

On every connect it subscribes to the node's membership topics and the device topics (messages.py),
asks for the node's devices (`membership/get`, repeated until the edge answers, then refreshed every
`membership_refresh` s so a missed `membership/updated` heals) and starts a DeviceWorker for each
device whose protocol the driver claims. Membership changes and `.../updated` start, restart (spec
changed) or stop workers; deltas and twin/get results go to the device's worker. When the broker goes
away the workers keep running (their publishes are dropped) and the mapper reconnects with backoff,
then the workers resend their state and twin/get.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from kedge.aio.backoff import Backoff
from kedge.aio.tasks import cancel_and_wait
from kedge.mapper import messages
from kedge.mapper.config import MapperConfig, ssl_context
from kedge.mapper.driver import Driver
from kedge.mapper.entries import DeviceEntry
from kedge.mapper.messages import Membership, PayloadError
from kedge.mapper.worker import DeviceWorker, now_ms
from kedge.transport.mqtt_client import MqttClient, MqttError

log = logging.getLogger(__name__)


class Mapper:
    def __init__(
        self,
        config: MapperConfig,
        driver_class: type[Driver],
        *,
        driver_factory: Callable[[], Driver] | None = None,
        mqtt_backoff: Backoff | None = None,
        device_backoff: Callable[[], Backoff] | None = None,
        membership_retry: float = 1.0,
        membership_refresh: float = 60.0,
        get_retry: float = 5.0,
        keepalive: int = 30,
    ) -> None:
        self.config = config
        self.driver_class = driver_class
        self._factory = driver_factory or driver_class
        self._mqtt_backoff = mqtt_backoff or Backoff(0.5, 2.0, 10.0)
        self._device_backoff = device_backoff or (lambda: Backoff(1.0, 2.0, 30.0))
        self.membership_retry = membership_retry
        self.membership_refresh = membership_refresh
        self.get_retry = get_retry
        self.keepalive = keepalive
        self.workers: dict[str, DeviceWorker] = {}
        self.sessions = 0  # MQTT sessions opened so far
        self._client: MqttClient | None = None
        self._answered = asyncio.Event()
        self._ssl = ssl_context(config)
        self._client_id = "kedge-mapper-%s-%s" % (config.node, uuid.uuid4().hex[:8])

    def claims(self, entry: DeviceEntry) -> bool:
        return self.driver_class.claims(entry, self.config.protocol)

    async def publish(self, topic: str, payload: bytes, qos: int = 0) -> bool:
        """Send if connected; False (dropped) while the broker is away."""
        client = self._client
        if client is None or not client.connected:
            return False
        try:
            await client.publish(topic, payload, qos)
        except MqttError as e:
            log.debug("mapper: publish to %s dropped: %s", topic, e)
            return False
        return True

    # -- the session loop --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; then stop every worker (closing its driver) and disconnect."""
        endpoint = self.config.endpoint
        backoff = self._mqtt_backoff
        last_error = ""
        try:
            while not stop.is_set():
                client = MqttClient(
                    endpoint.host,
                    endpoint.port,
                    client_id=self._client_id,
                    keepalive=self.keepalive,
                    ssl=self._ssl,
                    username=self.config.username,
                    password=None if self.config.password is None else self.config.password.encode(),
                )
                try:
                    await client.connect()
                    await client.subscribe(messages.subscriptions(self.config.node))
                except (MqttError, OSError) as e:
                    await client.close()
                    delay = backoff.next_delay()
                    text = str(e) or type(e).__name__
                    level = logging.WARNING if text != last_error else logging.DEBUG
                    log.log(
                        level,
                        "mapper: MQTT broker %s:%d unavailable: %s; retrying in %.1f s",
                        endpoint.host,
                        endpoint.port,
                        text,
                        delay,
                    )
                    last_error = text
                    await _sleep_unless(stop, delay)
                    continue
                backoff.reset()
                last_error = ""
                self.sessions += 1
                log.info(
                    "mapper: connected to MQTT broker %s:%d for node %s (protocol %s)",
                    endpoint.host,
                    endpoint.port,
                    self.config.node,
                    self.config.protocol,
                )
                self._client = client
                try:
                    await self._session(client, stop)
                finally:
                    self._client = None
                    await client.close()
                if not stop.is_set():
                    delay = backoff.next_delay()
                    log.warning("mapper: lost the MQTT broker; reconnecting in %.1f s", delay)
                    await _sleep_unless(stop, delay)
        finally:
            await self._stop_all()

    async def _session(self, client: MqttClient, stop: asyncio.Event) -> None:
        for w in self.workers.values():
            w.resync()
        reader = asyncio.create_task(self._read(client), name="mapper mqtt reader")
        asker = asyncio.create_task(self._ask_membership(), name="mapper membership")
        stopper = asyncio.create_task(stop.wait(), name="mapper stop")
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait([reader, asker, stopper], timeout=10, title="mapper session")
        if reader.done() and not reader.cancelled():
            e = reader.exception()
            if e is not None and not isinstance(e, MqttError):
                log.error("mapper: MQTT reader failed: %r", e)

    async def _read(self, client: MqttClient) -> None:
        while True:
            topic, payload, _ = await client.get_message()
            try:
                await self.handle(topic, payload)
            except Exception:
                log.exception("mapper: handling a message on %s failed", topic)

    async def _ask_membership(self) -> None:
        # until the edge answers (edgecore may start after the mapper): 1, 2, 4 .. 10 s apart
        retry = Backoff(
            self.membership_retry, 2.0, max(self.membership_retry, min(10.0, self.membership_refresh))
        )
        topic = messages.node_topic(self.config.node, messages.MEMBERSHIP_GET)
        while True:
            self._answered.clear()
            await self.publish(topic, messages.request(messages.new_event_id(), now_ms()), 1)
            try:
                async with asyncio.timeout(retry.next_delay()):
                    await self._answered.wait()
            except TimeoutError:
                level = logging.INFO if retry.attempt == 1 else logging.DEBUG
                log.log(
                    level,
                    "mapper: no membership answer from the edge for node %s yet (is edgecore running, "
                    "with eventBus and deviceTwin enabled, on this broker?); asking again",
                    self.config.node,
                )
                continue
            retry.reset()
            await asyncio.sleep(self.membership_refresh)

    # -- messages from the edge --------------------------------------------------------------------

    async def handle(self, topic: str, payload: bytes) -> None:
        parsed = messages.parse_topic(topic, self.config.node)
        if parsed is None:
            return
        kind, target = parsed
        try:
            body = messages.decode(payload)
            error = messages.result_error(body)
            if kind == messages.GET_RESULT:
                w = self.workers.get(target)
                if w is not None:
                    desired = None if error else messages.get_result_desired(body)
                    if w.on_get_result(messages.event_id_of(body), desired) and error:
                        log.warning("mapper: twin/get for device %s: %s", target, error)
                return
            if error:
                log.warning("mapper: %s: %s", topic, error)
                return
            if kind == messages.DELTA:
                w = self.workers.get(target)
                if w is not None:
                    w.on_delta(messages.delta_values(body))
            elif kind == messages.MEMBERSHIP_RESULT:
                await self._membership(messages.membership_result(body), full=True)
                self._answered.set()
            elif kind == messages.MEMBERSHIP_UPDATED:
                await self._membership(messages.membership_updated(body), full=False)
            elif kind == messages.UPDATED:
                entry = messages.updated_device(body)
                if entry.id != target:
                    raise PayloadError("the entry is for device %s" % entry.id)
                await self._membership(Membership(devices=[entry]), full=False)
        except PayloadError as e:
            log.warning("mapper: ignoring the message on %s: %s", topic, e)

    async def _membership(self, m: Membership, *, full: bool) -> None:
        for err in m.errors:
            log.warning("mapper: skipping a device the edge listed: %s", err)
        mine = {e.id: e for e in m.devices if self.claims(e)}
        gone = [i for i in self.workers if i not in mine] if full else []
        gone += [i for i in m.removed if i in self.workers]
        gone += [e.id for e in m.devices if e.id not in mine and e.id in self.workers]  # protocol changed
        for dev_id in dict.fromkeys(gone):
            await self._stop_worker(
                dev_id, "it left node %s or is no longer %s" % (self.config.node, self.config.protocol)
            )
        for entry in mine.values():
            current = self.workers.get(entry.id)
            if current is not None:
                if current.entry == entry:
                    continue
                await self._stop_worker(entry.id, "its spec changed")
            self._start_worker(entry)

    def _start_worker(self, entry: DeviceEntry) -> None:
        w = DeviceWorker(
            entry,
            self._factory(),
            self.publish,
            backoff=self._device_backoff(),
            get_retry=self.get_retry,
        )
        self.workers[entry.id] = w
        w.start()
        log.info("mapper: serving device %s (%d properties)", entry.id, len(w.props))

    async def _stop_worker(self, dev_id: str, why: str) -> None:
        w = self.workers.pop(dev_id, None)
        if w is not None:
            log.info("mapper: stopping device %s: %s", dev_id, why)
            await w.stop()

    async def _stop_all(self) -> None:
        workers, self.workers = list(self.workers.values()), {}
        await asyncio.gather(*(w.stop() for w in workers))


async def _sleep_unless(stop: asyncio.Event, delay: float) -> None:
    try:
        async with asyncio.timeout(delay):
            await stop.wait()
    except TimeoutError:
        pass
