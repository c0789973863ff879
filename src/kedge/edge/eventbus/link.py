"""EventBus's connections to one MQTT broker, each kept up on its own: a subscriber for KubeEdge's device
and node topics, a subscriber for everything else (uploads, router subscriptions), and a publisher.

Separate subscribers so a flood on user topics cannot delay twin traffic: each has its own socket and
bounded receive queue, and a full queue pauses only that socket (KubeEdge, too, keeps its hub's
subscriber and publisher apart). Every connection reconnects after any failure with jittered backoff
capped at 5 s; a subscriber re-subscribes (the client session re-sends its subscriptions, then the
difference to what is wanted now is applied), and the publisher re-sends unacknowledged QoS 1 messages.

Publishing is bounded. While the publisher is connected, `room()` makes the caller wait when
`max_pending` messages are queued (back-pressure into beehive). While it is not, `offer()` keeps at most
`max_pending`: at QoS 0 the oldest queued message makes way for the new one (fresh data matters most and
QoS 0 promised nothing); at QoS 1 the new one is refused, so what was accepted keeps its order and is
delivered once the broker is back.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kedge.aio.backoff import Backoff
from kedge.edge.eventbus.topics import SUBSCRIBE_QOS, TWIN_TOPICS, USER_TOPICS, ClientIds
from kedge.proto.mqtt import MqttProtocolError
from kedge.transport.mqtt_client import MqttClient, MqttError

log = logging.getLogger(__name__)

#: Called for every received message: (topic, payload, came on the twin subscriber).
Deliver = Callable[[str, bytes, bool], Awaitable[None]]

RECONNECT_INITIAL = 0.1
RECONNECT_CAP = 5.0


@dataclass(frozen=True, kw_only=True)
class LinkSettings:
    name: str  # "internal" or "external", for logs
    host: str
    port: int
    ids: ClientIds
    ssl: _ssl.SSLContext | None = None
    username: str | None = None
    password: bytes | None = None
    qos: int = 0  # of what EventBus publishes
    retain: bool = False
    keepalive: int = 30
    max_queue: int = 512  # per subscriber: received messages waiting for beehive
    max_pending: int = 1000  # messages waiting to be published
    max_inflight: int = 64  # unacknowledged QoS 1 publishes


class BrokerLink:
    """The three connections to one broker; `run()` keeps them up until cancelled."""

    def __init__(self, settings: LinkSettings, deliver: Deliver, stats: dict[str, Any]) -> None:
        if settings.qos not in (0, 1):
            raise ValueError("EventBus publishes with QoS 0 or 1, not %r" % settings.qos)
        self.settings = settings
        self.stats = stats
        self.twin = _Subscriber(self, settings.ids.twin, TWIN_TOPICS, deliver, twin=True)
        self.user = _Subscriber(self, settings.ids.user, USER_TOPICS, deliver, twin=False)
        self.pub = _Publisher(self, settings.ids.pub)

    @property
    def address(self) -> str:
        return "%s:%d" % (self.settings.host, self.settings.port)

    @property
    def connected(self) -> bool:
        return self.twin.client.connected and self.user.client.connected and self.pub.client.connected

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(conn.run(), name="eventbus %s %s" % (self.settings.name, conn.role))
            for conn in (self.twin, self.user, self.pub)
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- publishing --

    async def room(self) -> None:
        await self.pub.room()

    def offer(self, topic: str, payload: bytes) -> bool:
        return self.pub.offer(topic, payload)

    # -- router subscriptions (the user subscriber) --

    def subscribe(self, topic_filter: str) -> None:
        self.user.want(topic_filter, True)

    def unsubscribe(self, topic_filter: str) -> None:
        self.user.want(topic_filter, False)


class _Connection:
    """One client connection, reconnected with backoff whenever it ends."""

    role = ""

    def __init__(self, link: BrokerLink, client_id: str, **client_kw: Any) -> None:
        s = link.settings
        self.link = link
        self.sessions = 0
        self.client = MqttClient(
            s.host,
            s.port,
            client_id=client_id,
            keepalive=s.keepalive,
            ssl=s.ssl,
            username=s.username,
            password=s.password,
            max_inflight=s.max_inflight,
            **client_kw,
        )

    def __str__(self) -> str:
        return "%s %s connection to %s" % (self.link.settings.name, self.role, self.link.address)

    async def run(self) -> None:
        backoff = Backoff(RECONNECT_INITIAL, 2.0, RECONNECT_CAP, 0.5)
        last_error = ""
        try:
            while True:
                try:
                    await self.client.connect()
                except (MqttError, OSError) as e:
                    await self.client.close()
                    delay = backoff.next_delay()
                    text = str(e) or type(e).__name__
                    log.log(
                        logging.WARNING if text != last_error else logging.DEBUG,
                        "eventbus: %s failed: %s; retrying in %.1f s",
                        self,
                        text,
                        delay,
                    )
                    last_error = text
                    await asyncio.sleep(delay)
                    continue
                backoff.reset()
                last_error = ""
                if self.sessions:
                    self.link.stats["reconnects"] += 1
                self.sessions += 1
                log.info("eventbus: %s up (client id %s)", self, self.client.session.client_id)
                try:
                    await self.serve()
                except (MqttError, OSError) as e:
                    log.warning("eventbus: %s lost: %s", self, e)
                finally:
                    await self.client.close()
                    self.lost()
                await asyncio.sleep(backoff.next_delay())
        finally:
            await self.client.close()

    async def serve(self) -> None:
        raise NotImplementedError

    def lost(self) -> None:
        """The connection ended (called before the reconnect delay)."""


class _Subscriber(_Connection):
    def __init__(
        self, link: BrokerLink, client_id: str, topics: Iterable[str], deliver: Deliver, *, twin: bool
    ) -> None:
        super().__init__(link, client_id, max_queue=link.settings.max_queue)
        self.role = "twin subscriber" if twin else "subscriber"
        self.wanted: dict[str, None] = dict.fromkeys(topics)
        self.deliver = deliver
        self.twin = twin
        self._changed = asyncio.Event()

    def want(self, topic_filter: str, on: bool) -> None:
        if on:
            self.wanted[topic_filter] = None
        else:
            self.wanted.pop(topic_filter, None)
        self._changed.set()

    async def serve(self) -> None:
        syncer = asyncio.create_task(self._keep_subscribed(), name="eventbus %s subscriptions" % self.role)
        client = self.client
        deliver = self.deliver
        twin = self.twin
        try:
            while True:
                topic, payload, _ = await client.get_message()
                await deliver(topic, payload, twin)
        finally:
            syncer.cancel()
            await asyncio.gather(syncer, return_exceptions=True)

    async def _keep_subscribed(self) -> None:
        try:
            while True:
                self._changed.clear()
                await self._sync()
                await self._changed.wait()
        except MqttError:
            pass  # the connection is gone; the reader sees it too and the connection is made again
        except Exception:
            log.exception("eventbus: %s: keeping the subscriptions failed", self)

    async def _sync(self) -> None:
        """Subscribe what is wanted and not held, unsubscribe what is held and not wanted. The session's
        own list covers the subscriptions it re-sent on this connection."""
        client = self.client
        held = client.session.subscriptions
        add = [f for f in self.wanted if f not in held]
        drop = [f for f in held if f not in self.wanted]
        if drop:
            await client.unsubscribe(drop)
        if add:
            try:
                await client.subscribe([(f, SUBSCRIBE_QOS) for f in add])
            except MqttError:
                if not client.connected:
                    raise
                refused = [f for f in add if f not in client.session.subscriptions]
                log.warning("eventbus: %s: the broker refused the subscription to %s", self, refused)
                return
            log.info("eventbus: %s subscribed to %s", self, add)


class _Publisher(_Connection):
    role = "publisher"

    def __init__(self, link: BrokerLink, client_id: str) -> None:
        super().__init__(link, client_id, max_queue=1)  # it subscribes to nothing
        s = link.settings
        self.qos = s.qos
        self.retain = s.retain
        self.max_pending = s.max_pending
        self.pending: deque[tuple[str, bytes]] = deque()
        self.dropped_offline = 0
        self._ready = asyncio.Event()
        self._room_waiters: list[asyncio.Future[None]] = []

    async def room(self) -> None:
        while self.client.connected and len(self.pending) >= self.max_pending:
            fut = asyncio.get_running_loop().create_future()
            self._room_waiters.append(fut)
            await fut

    def offer(self, topic: str, payload: bytes) -> bool:
        pending = self.pending
        if len(pending) >= self.max_pending:
            self.link.stats["dropped"] += 1
            self.dropped_offline += 1
            first = self.dropped_offline == 1
            if self.qos == 0:
                old_topic, _ = pending.popleft()
                log.log(
                    logging.WARNING if first else logging.DEBUG,
                    "eventbus: %s is down and %d messages wait; dropping the oldest (QoS 0), to %s",
                    self,
                    len(pending) + 1,
                    old_topic,
                )
            else:
                log.log(
                    logging.WARNING if first else logging.DEBUG,
                    "eventbus: %s is down and %d QoS 1 messages wait; refusing the new one to %s",
                    self,
                    len(pending),
                    topic,
                )
                return False
        pending.append((topic, payload))
        self._ready.set()
        return True

    async def serve(self) -> None:
        if self.dropped_offline:
            log.warning(
                "eventbus: %d messages to %s were dropped while it was down", self.dropped_offline, self
            )
            self.dropped_offline = 0
        client = self.client
        pending = self.pending
        stats = self.link.stats
        closed = asyncio.ensure_future(client.wait_closed())
        try:
            while True:
                if not pending:
                    self._ready.clear()
                    ready = asyncio.ensure_future(self._ready.wait())
                    await asyncio.wait((ready, closed), return_when=asyncio.FIRST_COMPLETED)
                    ready.cancel()
                    if closed.done():
                        raise MqttError("the broker closed the connection")
                    continue
                topic, payload = pending[0]
                try:
                    await client.publish(topic, payload, self.qos, self.retain)
                except MqttProtocolError as e:  # e.g. a payload over MQTT's 256 MB: this message only
                    stats["dropped"] += 1
                    log.warning("eventbus: cannot publish to %s: %s", topic, e)
                else:
                    stats["published"] += 1
                pending.popleft()
                self._wake_room()
        finally:
            closed.cancel()

    def lost(self) -> None:
        self._wake_room()  # waiters now see the publisher down: offer() applies the drop rule

    def _wake_room(self) -> None:
        if not self._room_waiters:
            return
        waiters, self._room_waiters = self._room_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
