"""A mapper's configuration: a small YAML file plus command-line overrides.

```yaml
node: edge-1                     # the edge node whose devices this mapper serves (required)
broker: tcp://127.0.0.1:1884     # the edge's MQTT broker; ssl:// (or tls://, mqtts://) for TLS
protocol: modbus                 # protocolName of the devices to take (default: the mapper's own)
tls: {ca: ca.crt, cert: mapper.crt, key: mapper.key}   # optional; a tls block turns TLS on
username: mapper                 # optional
password: secret                 # optional
```
Unknown keys are errors (a typo must not silently fall back to a default). Errors are MapperConfigError
with one line naming the file and the field.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

DEFAULT_BROKER = "tcp://127.0.0.1:1884"  # edgecore's internal broker (KubeEdge's default)
_TLS_SCHEMES = ("ssl", "tls", "mqtts")
_PLAIN_SCHEMES = ("tcp", "mqtt")
_KEYS = ("node", "broker", "protocol", "tls", "username", "password")
_TLS_KEYS = ("ca", "cert", "key")


class MapperConfigError(ValueError):
    """The mapper cannot use its configuration; the text is one line naming what is wrong."""


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    tls: bool


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca: str | None = None
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class MapperConfig:
    node: str
    protocol: str
    broker: str = DEFAULT_BROKER
    tls: TlsFiles | None = None
    username: str | None = None
    password: str | None = None

    @property
    def endpoint(self) -> Broker:
        b = parse_broker(self.broker)
        return Broker(b.host, b.port, b.tls or self.tls is not None)


def parse_broker(url: str) -> Broker:
    """`tcp://host:port`, `ssl://host:port` (also tls://, mqtt://, mqtts://) or `host:port`; the port
    defaults to 1883 (8883 with TLS)."""
    text = url.strip()
    if "://" not in text:
        text = "tcp://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise MapperConfigError("broker %r: %s" % (url, e)) from None
    scheme = parts.scheme.lower()
    if scheme not in _TLS_SCHEMES + _PLAIN_SCHEMES:
        raise MapperConfigError(
            "broker %r: scheme must be one of %s" % (url, ", ".join(_PLAIN_SCHEMES + _TLS_SCHEMES))
        )
    if not parts.hostname:
        raise MapperConfigError("broker %r: no host" % url)
    if parts.path not in ("", "/") or parts.query:
        raise MapperConfigError("broker %r: expected scheme://host:port and nothing after it" % url)
    tls = scheme in _TLS_SCHEMES
    return Broker(parts.hostname, port if port is not None else (8883 if tls else 1883), tls)


def _text(doc: dict[str, Any], key: str, where: str) -> str | None:
    v = doc.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise MapperConfigError("%s: %s must be a string, got %s" % (where, key, type(v).__name__))
    return str(v)


def check_node(node: str | None, where: str) -> str:
    if not node:
        raise MapperConfigError("%s: node is required (the edge node name; set node: or pass --node)" % where)
    bad = [c for c in ("/", "+", "#") if c in node] or [c for c in node if c.isspace()]
    if bad:
        raise MapperConfigError(
            "%s: node %r must not contain %r (it is an MQTT topic level)" % (where, node, bad[0])
        )
    return node


def build_config(
    doc: Any,
    *,
    default_protocol: str,
    node: str | None = None,
    broker: str | None = None,
    source: str = "config",
) -> MapperConfig:
    """The config from a parsed YAML document (None: empty) with command-line overrides."""
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise MapperConfigError(
            "%s: the file must hold a mapping of settings, got %s" % (source, type(doc).__name__)
        )
    unknown = sorted(str(k) for k in doc if k not in _KEYS)
    if unknown:
        raise MapperConfigError(
            "%s: unknown setting %s (known: %s)" % (source, ", ".join(unknown), ", ".join(_KEYS))
        )
    node = check_node(node or _text(doc, "node", source), source)
    broker = broker or _text(doc, "broker", source) or DEFAULT_BROKER
    try:
        parse_broker(broker)  # fail now, with the URL named, not at the first connect
    except MapperConfigError as e:
        raise MapperConfigError("%s: %s" % (source, e)) from None
    protocol = _text(doc, "protocol", source) or default_protocol
    tls = None
    if doc.get("tls") is not None:
        t = doc["tls"]
        if not isinstance(t, dict):
            raise MapperConfigError("%s: tls must be a mapping with ca, cert, key" % source)
        unknown = sorted(str(k) for k in t if k not in _TLS_KEYS)
        if unknown:
            raise MapperConfigError(
                "%s: unknown tls setting %s (known: ca, cert, key)" % (source, ", ".join(unknown))
            )
        files = {k: _text(t, k, source + ": tls") for k in _TLS_KEYS}
        if (files["cert"] is None) != (files["key"] is None):
            raise MapperConfigError(
                "%s: tls.cert and tls.key go together (a client certificate and its key)" % source
            )
        for k, path in files.items():
            if path is not None and not Path(path).is_file():
                raise MapperConfigError("%s: tls.%s: no such file %s" % (source, k, path))
        tls = TlsFiles(**files)
    return MapperConfig(
        node=node,
        protocol=protocol,
        broker=broker,
        tls=tls,
        username=_text(doc, "username", source),
        password=_text(doc, "password", source),
    )


def load_config(
    path: str | None, *, default_protocol: str, node: str | None = None, broker: str | None = None
) -> MapperConfig:
    """Read `path` (None: no file, flags only) and apply the overrides."""
    doc: Any = None
    source = "mapper flags"
    if path is not None:
        source = path
        try:
            text = Path(path).read_text()
        except OSError as e:
            raise MapperConfigError("%s: cannot read: %s" % (path, e.strerror or e)) from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = " at line %d" % (mark.line + 1) if mark is not None else ""
            raise MapperConfigError(
                "%s: not valid YAML%s: %s" % (path, where, getattr(e, "problem", e))
            ) from None
    return build_config(doc, default_protocol=default_protocol, node=node, broker=broker, source=source)


def ssl_context(cfg: MapperConfig) -> ssl.SSLContext | None:
    """The client TLS context for the broker, or None for plain TCP."""
    if not cfg.endpoint.tls:
        return None
    files = cfg.tls or TlsFiles()
    try:
        ctx = ssl.create_default_context(cafile=files.ca)
        if files.cert is not None:
            ctx.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as e:
        raise MapperConfigError("tls: cannot load the certificates: %s" % e) from None
    return ctx
