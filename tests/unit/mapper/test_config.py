"""Mapper configuration: the YAML file, flag overrides, broker URLs, TLS files; errors name the field."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from kedge.mapper.config import (
    DEFAULT_BROKER,
    Broker,
    MapperConfigError,
    build_config,
    load_config,
    parse_broker,
    ssl_context,
)
from tests.hubpki import HubPKI


def test_defaults_and_overrides(tmp_path: Path) -> None:
    cfg = build_config({"node": "n1"}, default_protocol="modbus")
    assert (cfg.node, cfg.broker, cfg.protocol, cfg.tls, cfg.username) == (
        "n1",
        DEFAULT_BROKER,
        "modbus",
        None,
        None,
    )
    assert cfg.endpoint == Broker("127.0.0.1", 1884, False)
    f = tmp_path / "m.yaml"
    f.write_text(
        "node: n1\nbroker: tcp://10.0.0.1:1883\nprotocol: virtualProtocol\nusername: u\npassword: 1234\n"
    )
    cfg = load_config(str(f), default_protocol="modbus")
    assert (cfg.node, cfg.broker, cfg.protocol, cfg.username, cfg.password) == (
        "n1",
        "tcp://10.0.0.1:1883",
        "virtualProtocol",
        "u",
        "1234",
    )
    over = load_config(str(f), default_protocol="modbus", node="n2", broker="ssl://[::1]:8884")
    assert (over.node, over.endpoint) == ("n2", Broker("::1", 8884, True))
    assert load_config(None, default_protocol="p", node="n3").node == "n3"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("tcp://127.0.0.1:1884", Broker("127.0.0.1", 1884, False)),
        ("mqtt://broker", Broker("broker", 1883, False)),
        ("ssl://broker", Broker("broker", 8883, True)),
        ("TLS://broker:9", Broker("broker", 9, True)),
        ("mqtts://broker:9", Broker("broker", 9, True)),
        ("localhost:1885", Broker("localhost", 1885, False)),
    ],
)
def test_broker_urls(url: str, expected: Broker) -> None:
    assert parse_broker(url) == expected


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://h:1", "scheme must be one of"),
        ("tcp://h:70000", "out of range"),
        ("tcp://:1883", "no host"),
        ("tcp://h:1/path", "nothing after it"),
        ("tcp://h:port", "tcp://h:port"),
    ],
)
def test_bad_broker_urls(url: str, needle: str) -> None:
    with pytest.raises(MapperConfigError, match="broker") as e:
        parse_broker(url)
    assert needle in str(e.value)


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ([1, 2], "must hold a mapping"),
        ({}, "node is required"),
        ({"node": ""}, "node is required"),
        ({"node": "a/b"}, "must not contain '/'"),
        ({"node": "a+"}, "must not contain '+'"),
        ({"node": "a b"}, "must not contain"),
        ({"node": True}, "node must be a string"),
        ({"node": "n", "nodes": "x"}, "unknown setting nodes"),
        ({"node": "n", "broker": "udp://x"}, "scheme must be one of"),
        ({"node": "n", "tls": "yes"}, "tls must be a mapping"),
        ({"node": "n", "tls": {"ca": None, "crt": "x"}}, "unknown tls setting crt"),
        ({"node": "n", "tls": {"cert": "c.crt"}}, "tls.cert and tls.key go together"),
        ({"node": "n", "tls": {"ca": "/nonexistent/ca.crt"}}, "tls.ca: no such file /nonexistent/ca.crt"),
        ({"node": "n", "username": ["u"]}, "username must be a string"),
    ],
)
def test_errors_name_the_field(doc, needle: str) -> None:
    with pytest.raises(MapperConfigError) as e:
        build_config(doc, default_protocol="modbus", source="m.yaml")
    text = str(e.value)
    assert text.startswith("m.yaml: ") and needle in text and "\n" not in text


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(MapperConfigError, match=r"absent\.yaml: cannot read"):
        load_config(str(tmp_path / "absent.yaml"), default_protocol="p")
    bad = tmp_path / "bad.yaml"
    bad.write_text("node: n\n  x: [\n")
    with pytest.raises(MapperConfigError, match=r"bad\.yaml: not valid YAML at line 2"):
        load_config(str(bad), default_protocol="p")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(MapperConfigError, match="node is required"):
        load_config(str(empty), default_protocol="p")
    assert load_config(str(empty), default_protocol="p", node="n").node == "n"


def test_tls_context(tmp_path: Path) -> None:
    pki = HubPKI(tmp_path)
    cert, key = pki.client_cert("mapper")
    doc = {
        "node": "n",
        "broker": "tcp://127.0.0.1:8883",
        "tls": {"ca": str(pki.ca_path), "cert": str(cert), "key": str(key)},
    }
    cfg = build_config(doc, default_protocol="p")
    assert cfg.endpoint.tls  # a tls block turns TLS on, whatever the scheme
    ctx = ssl_context(cfg)
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ssl_context(build_config({"node": "n"}, default_protocol="p")) is None
    assert ssl_context(build_config({"node": "n", "broker": "ssl://h"}, default_protocol="p")) is not None
    # a key that is not the certificate's: one clear line
    other_cert, _ = pki.client_cert("other")
    doc["tls"] = {"ca": str(pki.ca_path), "cert": str(other_cert), "key": str(key)}
    with pytest.raises(MapperConfigError, match="tls: cannot load the certificates"):
        ssl_context(build_config(doc, default_protocol="p"))
