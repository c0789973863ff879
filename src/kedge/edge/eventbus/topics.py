"""EventBus's pure rules: which topics it subscribes, where a message goes, broker URLs, client ids and
payloads. No I/O, so the unit tests need no broker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec

from kedge._core.topic import TopicTrie

#: KubeEdge's device and node topics, read on their own connection so a flood elsewhere cannot delay them.
TWIN_TOPICS = (
    "$hw/events/device/+/+/state/update",
    "$hw/events/device/+/+/twin/+",
    "$hw/events/node/+/membership/get",
)
#: KubeEdge's other subscriptions (uploads to the cloud); router subscriptions join them.
USER_TOPICS = ("$hw/events/upload/#", "SYS/dis/upload_records", "+/user/#")
#: A message whose topic starts with one of these goes to DeviceTwin; any other to EdgeHub (KubeEdge's rule).
TWIN_PREFIXES = ("$hw/events/device/", "$hw/events/node/")
#: QoS of every subscription, as KubeEdge's hub client subscribes.
SUBSCRIBE_QOS = 1

_TLS_SCHEMES = ("ssl", "tls", "mqtts")
_PLAIN_SCHEMES = ("tcp", "mqtt")
_DEFAULT_PORTS = {"tcp": 1883, "mqtt": 1883, "ssl": 8883, "tls": 8883, "mqtts": 8883}
_ANY_ADDRESS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}

_encode_json = msgspec.json.Encoder().encode


def for_twin(topic: str) -> bool:
    return topic.startswith(TWIN_PREFIXES)


def twin_trie() -> TopicTrie:
    """The twin connection's filters, to tell whether a message another connection also received is
    one the twin connection delivers (then the other copy is dropped)."""
    trie = TopicTrie()
    for f in TWIN_TOPICS:
        trie.subscribe(f, f)
    return trie


@dataclass(frozen=True, slots=True)
class BrokerURL:
    host: str
    port: int
    tls: bool

    @property
    def connect_host(self) -> str:
        """Where a client on this machine reaches a broker bound to this address."""
        return _ANY_ADDRESS.get(self.host, self.host)

    def __str__(self) -> str:
        return "%s://%s:%d" % ("ssl" if self.tls else "tcp", self.host, self.port)


def parse_broker_url(url: str, what: str = "MQTT broker URL") -> BrokerURL:
    """`tcp://host:port` (or mqtt://) and, for TLS, `ssl://`, `tls://` or `mqtts://`. ValueError names
    the URL and what is wrong with it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ValueError("%s %r is not a valid URL: %s" % (what, url, e)) from None
    scheme = parts.scheme.lower()
    if scheme in ("ws", "wss"):
        raise ValueError("%s %r: MQTT over WebSocket is not supported; use tcp:// or ssl://" % (what, url))
    if scheme not in _TLS_SCHEMES + _PLAIN_SCHEMES:
        raise ValueError(
            "%s %r needs a scheme tcp://, mqtt://, ssl://, tls:// or mqtts:// (got %r)" % (what, url, scheme)
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError("%s %r must be scheme://host:port and nothing else" % (what, url))
    return BrokerURL(parts.hostname or "", port or _DEFAULT_PORTS[scheme], scheme in _TLS_SCHEMES)


@dataclass(frozen=True, slots=True)
class ClientIds:
    twin: str  # subscriber for TWIN_TOPICS
    user: str  # subscriber for USER_TOPICS and router subscriptions
    pub: str


def client_ids(sub: str, pub: str, now: float) -> ClientIds:
    """KubeEdge's `hub-client-sub-<ts>` / `hub-client-pub-<ts>` (ts: Unix seconds) unless configured; the
    second subscriber is the first one's id + `-twin`."""
    ts = "%d" % int(now)
    sub = sub or "hub-client-sub-" + ts
    return ClientIds(twin=sub + "-twin", user=sub, pub=pub or "hub-client-pub-" + ts)


def payload_bytes(content: Any) -> bytes:
    """A beehive message's content as an MQTT payload: bytes as they are, str as UTF-8, None as empty,
    anything else as JSON. TypeError names what cannot be encoded."""
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        try:
            return content.encode("utf-8")
        except UnicodeEncodeError as e:
            raise TypeError("content is not valid UTF-8 text: %s" % e.reason) from None
    if content is None:
        return b""
    if isinstance(content, bytearray | memoryview | msgspec.Raw):
        return bytes(content)
    try:
        return _encode_json(content)
    except (TypeError, msgspec.EncodeError) as e:
        raise TypeError(
            "content of type %s cannot be sent as JSON: %s" % (type(content).__name__, e)
        ) from None
