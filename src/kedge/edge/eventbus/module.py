"""EventBus, the beehive module (KubeEdge's `eventbus`): the bridge between MQTT brokers and beehive.

`mqttMode` picks the brokers: 0 runs the embedded broker (kedge.edge.eventbus.broker) and bridges to it,
2 bridges to an external broker such as mosquitto, 1 does both (messages from either broker are handled,
every publish goes to both). Per broker, kedge.edge.eventbus.link keeps three connections up.

From MQTT (contract, issue 6 §C): a topic under `$hw/events/device/` or `$hw/events/node/` goes to
DeviceTwin (`twin`) as `publish` with the payload bytes; any other topic goes to EdgeHub as `upload` with
the payload as text (KubeEdge's dispatch). `await ctx.send` waits while the destination's inbox is full,
so the connection's bounded receive queue fills and its socket stops being read: the broker holds the
backlog. A destination that is not running drops the message (debug log).

To MQTT: `publish` (resource = topic; content bytes, str, or anything JSON-able), `subscribe` and
`unsubscribe` (resource = topic filter, applied on the user subscriber; kept in memory and re-applied
after every reconnect), KubeEdge's legacy `message` ({"message": {"topic": ...}}) and `get_result` for
`auth_info`. An invalid topic or content is logged and dropped.

QoS and retain of what EventBus publishes, as KubeEdge: `mqttQOS`/`mqttRetain` on the internal broker,
QoS 1 without retain on the external one (KubeEdge's hub client). mqttQOS 2 is published as QoS 1.
`stats` counts received, routed (per destination), published, dropped and reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kedge._core.errors import InvalidTopic
from kedge._core.topic import validate_filter, validate_topic
from kedge.aio.backoff import Backoff
from kedge.aio.tasks import cancel_and_wait
from kedge.beehive import Context, Module
from kedge.config.edgecore import MQTT_MODE_BOTH, MQTT_MODE_EXTERNAL, MQTT_MODE_INTERNAL
from kedge.config.edgecore import EventBus as EventBusConfig
from kedge.edge.eventbus.link import BrokerLink, LinkSettings
from kedge.edge.eventbus.topics import (
    BrokerURL,
    client_ids,
    for_twin,
    parse_broker_url,
    payload_bytes,
    twin_trie,
)
from kedge.model import constants as c
from kedge.model.message import Message, new_message

if TYPE_CHECKING:
    from kedge.edge.eventbus.broker import EmbeddedBroker

log = logging.getLogger(__name__)

BATCH = 256
AUTH_INFO = "auth_info"


def new_stats() -> dict[str, Any]:
    return {"received": 0, "routed": {c.TWIN: 0, c.EDGEHUB: 0}, "published": 0, "dropped": 0, "reconnects": 0}


class EventBus(Module):
    name = c.EVENTBUS
    group = c.BUS_GROUP

    def __init__(self, links: list[LinkSettings], node: str, *, broker: EmbeddedBroker | None = None) -> None:
        """`links[i]` named "internal" connects to `broker` (started first); others to external brokers."""
        if not links:
            raise ValueError("EventBus needs at least one broker to connect to")
        self.node = node
        self.broker = broker
        self.stats = new_stats()
        self.links = [BrokerLink(s, self._from_mqtt, self.stats) for s in links]
        self._twin_trie = twin_trie()
        self._ctx: Context | None = None

    @property
    def connected(self) -> bool:
        """Every connection to every broker is up."""
        return all(link.connected for link in self.links)

    async def start(self, ctx: Context) -> None:
        self._ctx = ctx
        tasks = [
            asyncio.create_task(self._run_link(link), name="eventbus %s" % link.settings.name)
            for link in self.links
        ]
        try:
            while True:
                for msg in await ctx.receive_many(self.name, BATCH):
                    await self.handle(msg)
        finally:
            await cancel_and_wait(tasks, timeout=5.0, title="eventbus")
            if self.broker is not None:
                await self.broker.stop()

    async def _run_link(self, link: BrokerLink) -> None:
        if link.settings.name == "internal" and self.broker is not None:
            await self._start_broker(self.broker)
        await link.run()

    @staticmethod
    async def _start_broker(broker: EmbeddedBroker) -> None:
        from kedge.edge.eventbus.broker import BrokerError

        backoff = Backoff(0.5, 2.0, 5.0, 0.5)
        last_error = ""
        while not broker.running:
            try:
                await broker.start()
            except BrokerError as e:
                delay = backoff.next_delay()
                log.log(
                    logging.ERROR if str(e) != last_error else logging.DEBUG,
                    "eventbus: %s; retrying in %.1f s",
                    e,
                    delay,
                )
                last_error = str(e)
                await asyncio.sleep(delay)

    # -- MQTT → beehive ---------------------------------------------------------------------------

    async def _from_mqtt(self, topic: str, payload: bytes, twin_subscriber: bool) -> None:
        stats = self.stats
        stats["received"] += 1
        if for_twin(topic):
            if not twin_subscriber and self._twin_trie.match(topic):
                return  # a router subscription overlapping the twin subscriber's: that one delivers it
            dest = c.TWIN
            msg = new_message(
                source=c.EVENTBUS, group=c.GROUP_USER, operation=c.PUBLISH, resource=topic, content=payload
            )
        else:
            dest = c.EDGEHUB
            msg = new_message(
                source=c.EVENTBUS,
                group=c.GROUP_USER,
                operation=c.UPLOAD,
                resource=topic,
                content=payload.decode("utf-8", "replace"),
            )
        ctx = self._ctx
        if ctx is None or not ctx.router.has_module(dest):
            stats["dropped"] += 1
            log.debug("eventbus: no module %s; message on %s dropped", dest, topic)
            return
        try:
            await ctx.send(dest, msg)  # waits while its inbox is full: back-pressure down to the socket
        except LookupError:  # the module went away while we waited
            stats["dropped"] += 1
            log.debug("eventbus: module %s is gone; message on %s dropped", dest, topic)
            return
        stats["routed"][dest] += 1

    # -- beehive → MQTT ---------------------------------------------------------------------------

    async def handle(self, msg: Message) -> None:
        r = msg.route
        op = r.operation
        if op == c.PUBLISH:
            await self.publish(r.resource, msg.content)
        elif op == c.SUBSCRIBE or op == c.UNSUBSCRIBE:
            self._subscription(op, r.resource)
        elif op == c.MESSAGE:
            await self._legacy_message(msg.content)
        elif op == c.GET_RESULT and r.resource == AUTH_INFO:
            await self.publish("$hw/events/node/%s/authInfo/get/result" % self.node, msg.content)
        else:
            log.debug("eventbus ignores %s %s from %s", op, r.resource, r.source)

    async def publish(self, topic: Any, content: Any) -> None:
        """Hand one message to every broker; waits while a connected publisher is full."""
        try:
            validate_topic(topic)
            payload = payload_bytes(content)
        except (InvalidTopic, TypeError) as e:
            self.stats["dropped"] += 1
            log.warning("eventbus: not publishing to %r: %s", topic, e)
            return
        for link in self.links:
            await link.room()
            link.offer(topic, payload)

    def _subscription(self, op: str, topic_filter: Any) -> None:
        try:
            validate_filter(topic_filter)
        except (InvalidTopic, TypeError) as e:
            log.warning("eventbus: cannot %s %r: %s", op, topic_filter, e)
            return
        for link in self.links:
            if op == c.SUBSCRIBE:
                link.subscribe(topic_filter)
            else:
                link.unsubscribe(topic_filter)

    async def _legacy_message(self, content: Any) -> None:
        body = content.get("message") if isinstance(content, dict) else None
        topic = body.get("topic") if isinstance(body, dict) else None
        if not isinstance(topic, str):
            self.stats["dropped"] += 1
            log.warning("eventbus: a 'message' without message.topic dropped: %.200r", content)
            return
        await self.publish(topic, body)


# -- factory for edgecore ---------------------------------------------------------------------------


def make_eventbus(
    cfg: EventBusConfig,
    node: str,
    *,
    now: Callable[[], float] = time.time,
    max_queue: int = 512,
    max_pending: int = 1000,
) -> EventBus:
    """EventBus for edgecore.yaml's `modules.eventBus`. Raises ValueError for a broker URL it cannot use,
    PKIError for TLS files it cannot load."""
    ids = client_ids(cfg.mqtt_sub_client_id, cfg.mqtt_pub_client_id, now())
    qos = min(int(cfg.mqtt_qos), 1)
    if cfg.mqtt_qos > 1:
        log.warning("eventbus: mqttQOS %d is not supported; publishing with QoS 1", cfg.mqtt_qos)
    common: dict[str, Any] = {
        "ids": ids,
        "username": cfg.mqtt_username or None,
        "password": cfg.mqtt_password.encode() if cfg.mqtt_username and cfg.mqtt_password else None,
        "max_queue": max_queue,
        "max_pending": max_pending,
    }
    links: list[LinkSettings] = []
    broker = None
    mode = cfg.mqtt_mode
    if mode in (MQTT_MODE_INTERNAL, MQTT_MODE_BOTH):
        url = parse_broker_url(cfg.mqtt_server_internal, "mqttServerInternal")
        broker = _embedded_broker(cfg, url, ungated=frozenset((ids.pub,)))
        ssl = _tls_context(cfg, internal=True) if broker.tls is not None else None
        links.append(
            LinkSettings(
                name="internal",
                host=url.connect_host,
                port=url.port,
                ssl=ssl,
                qos=qos,
                retain=cfg.mqtt_retain,
                **common,
            )
        )
    if mode in (MQTT_MODE_EXTERNAL, MQTT_MODE_BOTH):
        url = parse_broker_url(cfg.mqtt_server_external, "mqttServerExternal")
        ssl = _tls_context(cfg, internal=False) if cfg.event_bus_tls.enable or url.tls else None
        links.append(
            LinkSettings(name="external", host=url.connect_host, port=url.port, ssl=ssl, qos=1, **common)
        )
    if not links:
        raise ValueError("eventBus.mqttMode %r is not 0, 1 or 2" % mode)
    return EventBus(links, node, broker=broker)


def _embedded_broker(cfg: EventBusConfig, url: BrokerURL, *, ungated: frozenset[str]) -> EmbeddedBroker:
    from kedge.edge.eventbus.broker import EmbeddedBroker, ListenerTLS  # amqtt only when it runs

    tls = cfg.event_bus_tls
    listener = None
    if tls.enable or url.tls:
        listener = ListenerTLS(tls.tls_mqtt_cert_file, tls.tls_mqtt_private_key_file, tls.tls_mqtt_ca_file)
    return EmbeddedBroker(url.host or "127.0.0.1", url.port, tls=listener, ungated=ungated)


def _tls_context(cfg: EventBusConfig, *, internal: bool) -> _ssl.SSLContext:
    """eventBusTLS's CA, certificate and key when enabled (KubeEdge's); else, for an ssl:// URL, the
    system's CAs (KubeEdge skips verification there; kedge does not).

    The bridge's connection to its own embedded broker checks the broker's certificate against the CA but
    not its name, and presents no certificate: the broker is this process on loopback, and the edge's
    certificate (the usual tlsMqttCertFile) is valid for client authentication only, so the embedded
    broker's certificate must be a server certificate (serverAuth) for the bridge and mappers to accept it.
    """
    from kedge.security.tls import client_ssl_context

    tls = cfg.event_bus_tls
    if internal:
        ctx = client_ssl_context(tls.tls_mqtt_ca_file)
        ctx.check_hostname = False
        return ctx
    if tls.enable:
        return client_ssl_context(tls.tls_mqtt_ca_file, tls.tls_mqtt_cert_file, tls.tls_mqtt_private_key_file)
    return _ssl.create_default_context()


__all__ = ["EventBus", "make_eventbus", "new_stats"]
