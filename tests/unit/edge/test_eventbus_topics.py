"""EventBus's pure rules (kedge.edge.eventbus.topics): broker URLs, twin routing, client ids, payloads."""

from __future__ import annotations

import msgspec
import pytest

from kedge.edge.eventbus.topics import (
    TWIN_TOPICS,
    USER_TOPICS,
    BrokerURL,
    ClientIds,
    client_ids,
    for_twin,
    parse_broker_url,
    payload_bytes,
    twin_trie,
)

# -- parse_broker_url ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("tcp://127.0.0.1:1884", "127.0.0.1", 1884, False),
        ("mqtt://broker.local:1999", "broker.local", 1999, False),
        ("TCP://127.0.0.1:1883/", "127.0.0.1", 1883, False),
        ("tcp://127.0.0.1", "127.0.0.1", 1883, False),
        ("mqtt://h", "h", 1883, False),
        ("ssl://h:8884", "h", 8884, True),
        ("ssl://h", "h", 8883, True),
        ("tls://h", "h", 8883, True),
        ("mqtts://h", "h", 8883, True),
        ("tcp://[::1]:1883", "::1", 1883, False),
        ("tcp://0.0.0.0:1884", "0.0.0.0", 1884, False),
        ("tcp://:1884", "", 1884, False),
    ],
)
def test_parse_good_urls(url: str, host: str, port: int, tls: bool) -> None:
    assert parse_broker_url(url) == BrokerURL(host, port, tls)


@pytest.mark.parametrize(
    ("host", "connect"),
    [("", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("10.0.0.5", "10.0.0.5")],
)
def test_connect_host_maps_any_address_to_loopback(host: str, connect: str) -> None:
    assert BrokerURL(host, 1883, False).connect_host == connect


def test_str_is_canonical() -> None:
    assert str(parse_broker_url("mqtts://h")) == "ssl://h:8883"
    assert str(parse_broker_url("mqtt://h:1")) == "tcp://h:1"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("ws://h:80", "WebSocket is not supported"),
        ("wss://h:443", "WebSocket is not supported"),
        ("http://h:1883", "needs a scheme tcp://"),
        ("127.0.0.1:1883", "needs a scheme tcp://"),
        ("localhost:1883", "needs a scheme tcp://"),
        ("", "needs a scheme tcp://"),
        ("tcp://h:1883/mqtt", "must be scheme://host:port and nothing else"),
        ("tcp://h:1883?x=1", "must be scheme://host:port and nothing else"),
        ("tcp://h:1883#frag", "must be scheme://host:port and nothing else"),
        ("tcp://user:pw@h:1883", "must be scheme://host:port and nothing else"),
        ("tcp://h:99999", "is not a valid URL"),
        ("tcp://h:port", "is not a valid URL"),
    ],
)
def test_parse_bad_urls_say_what_is_wrong(url: str, needle: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_broker_url(url, "mqttServerInternal")
    text = str(e.value)
    assert needle in text
    assert text.startswith("mqttServerInternal %r" % url)


def test_parse_default_label() -> None:
    with pytest.raises(ValueError) as e:
        parse_broker_url("http://h")
    assert str(e.value).startswith("MQTT broker URL 'http://h'")


# -- routing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "twin"),
    [
        ("$hw/events/device/default/dev1/twin/update", True),
        ("$hw/events/device/default/dev1/state/update", True),
        ("$hw/events/node/edge-1/membership/get", True),
        ("$hw/events/upload/x", False),
        ("$hw/events/devices", False),
        ("default/user/x", False),
        ("SYS/dis/upload_records", False),
        ("hw/events/device/a", False),
    ],
)
def test_for_twin(topic: str, twin: bool) -> None:
    assert for_twin(topic) is twin


@pytest.mark.parametrize(
    ("topic", "filters"),
    [
        ("$hw/events/device/default/dev1/twin/update", ["$hw/events/device/+/+/twin/+"]),
        ("$hw/events/device/default/dev1/twin/get", ["$hw/events/device/+/+/twin/+"]),
        ("$hw/events/device/default/dev1/state/update", ["$hw/events/device/+/+/state/update"]),
        ("$hw/events/node/n1/membership/get", ["$hw/events/node/+/membership/get"]),
        # under the twin prefix but not one of the twin subscriber's filters
        ("$hw/events/device/default/dev1/twin/update/result", []),
        ("$hw/events/device/default/dev1/state/get", []),
        ("$hw/events/node/n1/membership/get/result", []),
        ("$hw/events/upload/x", []),
        ("default/user/x", []),
    ],
)
def test_twin_trie_matches_the_twin_filters(topic: str, filters: list[str]) -> None:
    assert twin_trie().match(topic) == filters


def test_twin_trie_holds_exactly_the_twin_topics() -> None:
    trie = twin_trie()
    assert trie.filters() == list(TWIN_TOPICS)
    assert len(trie) == len(TWIN_TOPICS)


def test_user_topics_do_not_overlap_twin_prefixes() -> None:
    assert not any(for_twin(t) for t in USER_TOPICS)


# -- client ids ---------------------------------------------------------------------------------------


def test_client_ids_default_to_kubeedge_names_with_unix_seconds() -> None:
    assert client_ids("", "", 1700000000.9) == ClientIds(
        twin="hub-client-sub-1700000000-twin",
        user="hub-client-sub-1700000000",
        pub="hub-client-pub-1700000000",
    )


def test_client_ids_configured() -> None:
    assert client_ids("sub", "pub", 5.0) == ClientIds(twin="sub-twin", user="sub", pub="pub")


def test_client_ids_mixed() -> None:
    ids = client_ids("", "mypub", 42.0)
    assert ids == ClientIds(twin="hub-client-sub-42-twin", user="hub-client-sub-42", pub="mypub")
    assert len({ids.twin, ids.user, ids.pub}) == 3


# -- payloads -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "payload"),
    [
        (b"\x00\xffraw", b"\x00\xffraw"),
        (b"", b""),
        ("text é", "text é".encode()),
        ("", b""),
        (None, b""),
        (bytearray(b"ba"), b"ba"),
        (memoryview(b"mv"), b"mv"),
        (msgspec.Raw(b'{"a":1}'), b'{"a":1}'),
        ({"a": 1, "b": [True, None]}, b'{"a":1,"b":[true,null]}'),
        ([1, "x"], b'[1,"x"]'),
        (3, b"3"),
        (False, b"false"),
    ],
)
def test_payload_bytes(content: object, payload: bytes) -> None:
    out = payload_bytes(content)
    assert type(out) is bytes
    assert out == payload


def test_payload_bytes_keeps_bytes_identity() -> None:
    b = b"same object"
    assert payload_bytes(b) is b


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (object(), "content of type object cannot be sent as JSON"),
        ({"k": object()}, "content of type dict cannot be sent as JSON"),
        ({1j}, "content of type set cannot be sent as JSON"),
        ("\ud800", "content is not valid UTF-8 text"),
    ],
)
def test_payload_bytes_unencodable_raises_type_error(content: object, needle: str) -> None:
    with pytest.raises(TypeError, match=needle):
        payload_bytes(content)
